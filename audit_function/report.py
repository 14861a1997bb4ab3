"""Builds the JSON report document (contract: shared spec report.md; schema in reports/schema/).

Findings are sorted by severity, rule, vault and subject, and each carries a fingerprint that is
a hash of rule id + lower-cased vault or assignment id + subject key, so two runs over the same
estate state produce identical findings and tickets and diffs can key on them.
"""

from __future__ import annotations

import hashlib
from collections import Counter

from audit_function import __version__
from audit_function.engine import Evaluation
from audit_function.estate import Estate, Vault
from rules.base import SEVERITIES, Finding

SCHEMA_VERSION = "1.0"
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def fingerprint(rule_id: str, anchor: str, subject: str) -> str:
    return hashlib.sha256(f"{rule_id}|{anchor.lower()}|{subject}".encode()).hexdigest()[:32]


def _sort_key(f: Finding):
    vault_id = f.vault.id.lower() if f.vault is not None else ""
    return (_SEVERITY_RANK.get(f.severity, 9), f.rule_id, vault_id, f.anchor.lower(), f.subject)


def finding_dict(f: Finding) -> dict:
    vault: Vault | None = f.vault
    return {
        "fingerprint": fingerprint(f.rule_id, f.anchor, f.subject),
        "ruleId": f.rule_id,
        "severity": f.severity,
        "title": f.title,
        "message": f.message,
        "vaultId": vault.id if vault else None,
        "vaultName": vault.name if vault else None,
        "subscriptionId": vault.subscription_id if vault else _subscription_of(f.scope),
        "resourceGroup": vault.resource_group if vault else None,
        "principalId": f.principal_id,
        "principalType": f.principal_type,
        "assignmentId": f.assignment_id,
        "roleDefinitionId": f.role_definition_id,
        "roleName": f.role_name,
        "scope": f.scope,
        "subject": f.subject,
        "evidence": f.evidence,
        "remediation": f.remediation,
    }


def _subscription_of(scope: str | None) -> str | None:
    if scope and scope.lower().startswith("/subscriptions/"):
        return scope.split("/")[2]
    return None


def exposure(vault: Vault) -> str:
    if vault.public_disabled:
        return "private"
    return "firewalled" if vault.acl_default_action == "Deny" else "public"


def vault_dict(vault: Vault, estate: Estate, stats: dict, by_severity: Counter) -> dict:
    sub = estate.subscription_of(vault)
    return {
        "id": vault.id,
        "name": vault.name,
        "subscriptionId": vault.subscription_id,
        "subscriptionName": sub.name if sub else None,
        "resourceGroup": vault.resource_group,
        "location": vault.location,
        "tenantId": vault.tenant_id,
        "permissionModel": vault.model,
        "publicNetworkAccess": vault.public_network_access,
        "networkDefaultAction": vault.acl_default_action,
        "networkExposure": exposure(vault),
        "ipRuleCount": len(vault.ip_rules) + len(vault.bad_ip_rules),
        "approvedPrivateEndpoints": vault.approved_private_endpoints,
        "softDeleteEnabled": vault.soft_delete,
        "purgeProtectionEnabled": vault.purge_protection,
        "accessPolicyCount": len(vault.access_policies),
        "rbacDataPrincipalCount": stats.get("rbacDataPrincipalCount", 0),
        "findingCount": sum(by_severity.values()),
        "findingsBySeverity": {s: by_severity.get(s, 0) for s in SEVERITIES},
        "tags": vault.tags,
    }


def build_report(estate: Estate, evaluation: Evaluation, rule_ids, *, run: dict, migration: list | None = None) -> dict:
    """The report document. ``run`` holds id, startedAt, finishedAt, source and scope."""
    findings = sorted(evaluation.findings, key=_sort_key)
    per_vault: dict[str, Counter] = {}
    for f in findings:
        if f.vault is not None:
            per_vault.setdefault(f.vault.key, Counter())[f.severity] += 1
    vaults = sorted(estate.vaults, key=lambda v: v.key)
    gaps = [g.as_dict() for g in estate.gaps + evaluation.gaps]
    not_evaluated = sorted(
        ({"ruleId": n.rule_id, "vaultId": n.vault_id, "reason": n.reason, **({"scope": n.scope} if n.scope else {})}
         for n in evaluation.not_evaluated),
        key=lambda n: (n["ruleId"], (n["vaultId"] or "").lower(), n["reason"]))
    by_rule = Counter(f.rule_id for f in findings)
    by_sub = Counter((f.vault.subscription_id if f.vault else _subscription_of(f.scope)) or "(none)" for f in findings)
    return {
        "schemaVersion": SCHEMA_VERSION,
        "tool": {"name": "kv-audit", "version": __version__},
        "run": {
            **run,
            "complete": not gaps,
            "gaps": gaps,
            "notEvaluated": not_evaluated,
            "directoryData": estate.directory_data,
            "tables": estate.counts,
        },
        "summary": {
            "vaults": len(vaults),
            "findings": len(findings),
            "bySeverity": {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES},
            "byRule": {rid: by_rule.get(rid, 0) for rid in rule_ids},
            "bySubscription": dict(sorted(by_sub.items())),
            "byPermissionModel": {m: sum(1 for v in vaults if v.model == m) for m in ("rbac", "accessPolicy")},
            "byNetworkExposure": {e: sum(1 for v in vaults if exposure(v) == e) for e in ("public", "firewalled", "private")},
        },
        "vaults": [vault_dict(v, estate, evaluation.vault_stats.get(v.key, {}), per_vault.get(v.key, Counter()))
                   for v in vaults],
        "findings": [finding_dict(f) for f in findings],
        "migration": migration or [],
    }
