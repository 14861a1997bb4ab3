"""Builds the JSON report document (contract: shared spec report.md; schema in reports/schema/).

Findings (built report-shaped by the rules, see ``rules.base.finding``) are sorted by severity,
rule, vault and subject; their fingerprints (rule id + lower-cased vault or assignment id +
subject key) let tickets and diffs key on them across runs.
"""

from __future__ import annotations

from collections import Counter

from audit_function import __version__
from audit_function.engine import Evaluation
from audit_function.estate import Estate, Vault
from rules.base import SEVERITIES

SCHEMA_VERSION = "1.0"
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def _sort_key(f: dict):
    return (_SEVERITY_RANK.get(f["severity"], 9), f["ruleId"], (f["vaultId"] or "").lower(),
            (f["assignmentId"] or "").lower(), f["subject"])


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
    findings = evaluation.findings
    findings.sort(key=_sort_key)
    per_vault: dict[str, Counter] = {}
    for f in findings:
        if f["vaultId"] is not None:
            per_vault.setdefault(f["vaultId"].lower(), Counter())[f["severity"]] += 1
    vaults = sorted(estate.vaults, key=lambda v: v.key)
    gaps = [g.as_dict() for g in estate.gaps + evaluation.gaps]
    not_evaluated = sorted(
        ({"ruleId": n.rule_id, "vaultId": n.vault_id, "reason": n.reason, **({"scope": n.scope} if n.scope else {})}
         for n in evaluation.not_evaluated),
        key=lambda n: (n["ruleId"], (n["vaultId"] or "").lower(), n["reason"]))
    by_rule = Counter(f["ruleId"] for f in findings)
    by_sub = Counter(f["subscriptionId"] or "(none)" for f in findings)
    by_severity = Counter(f["severity"] for f in findings)
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
            "bySeverity": {s: by_severity.get(s, 0) for s in SEVERITIES},
            "byRule": {rid: by_rule.get(rid, 0) for rid in rule_ids},
            "bySubscription": dict(sorted(by_sub.items())),
            "byPermissionModel": {m: sum(1 for v in vaults if v.model == m) for m in ("rbac", "accessPolicy")},
            "byNetworkExposure": {e: sum(1 for v in vaults if exposure(v) == e) for e in ("public", "firewalled", "private")},
        },
        "vaults": [vault_dict(v, estate, evaluation.vault_stats.get(v.key, {}), per_vault.get(v.key, Counter()))
                   for v in vaults],
        "findings": findings,
        "migration": migration or [],
    }
