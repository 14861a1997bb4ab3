"""Builds the JSON report document (contract: shared spec report.md; schema in reports/schema/).

Findings (built report-shaped by the rules, see ``rules.base.finding``) are sorted by severity,
rule, vault and subject; their fingerprints (rule id + lower-cased vault or assignment id +
subject key) let tickets and diffs key on them across runs.
"""

from __future__ import annotations

from collections import Counter

from audit_function import __version__
from audit_function import permissions as perms
from audit_function.report.coverage import coverage
from audit_function.engine.evaluate import Evaluation
from audit_function.estate.model import Estate, Vault
from audit_function.estate.deep import RESOURCE_TYPES
from audit_function.vocabulary import SEVERITIES

SCHEMA_VERSION = "2.0"


def _materialize(spooled, limit: int):
    """A plain list when small enough to hold; the spool itself (iterable, sized) otherwise."""
    return list(spooled) if len(spooled) <= limit else spooled


def exposure(vault: Vault) -> str:
    if vault.exposure == "perimeter":
        return "perimeter"
    if vault.public_disabled:
        return "private"
    return "firewalled" if vault.acl_default_action == "Deny" else "public"


def vault_dict(vault: Vault, estate: Estate, stats: dict, by_severity: Counter) -> dict:
    sub = estate.subscription_of(vault)
    return {
        "id": vault.id,
        "name": vault.name,
        "resourceType": RESOURCE_TYPES.get(vault.kind, vault.kind),
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
        "templateDeployment": vault.template_deployment,
        "owner": stats.get("owner"),   # the owner its findings carry (audit_function/estate/owners.py chain)
        "tags": vault.tags,
    }


def run_gaps(estate: Estate, evaluation: Evaluation) -> tuple[list[dict], list[dict]]:
    """``run.gaps`` and ``run.notEvaluated`` as the report lists them."""
    gaps = [g.as_dict() for g in estate.gaps + evaluation.gaps]
    not_evaluated = sorted(
        ({"ruleId": n.rule_id, "vaultId": n.vault_id, "reason": n.reason, **({"scope": n.scope} if n.scope else {})}
         for n in evaluation.not_evaluated),
        key=lambda n: (n["ruleId"], (n["vaultId"] or "").lower(), n["reason"]))
    return gaps, not_evaluated


def build_report(estate: Estate, evaluation: Evaluation, rule_ids, *, run: dict,
                 materialize_limit: int = 50_000, suppressions=None, week=None, note: dict | None = None) -> dict:
    """The report document, whole: this is the one place that lays it out (the JSON writer only
    encodes it). ``run`` holds id, startedAt, finishedAt, source and scope.

    ``suppressions`` (a :class:`~audit_function.history.suppressions.Suppressor`) and ``week`` (a
    :class:`~audit_function.history.diff.WeekOverWeek`) supply their sections; without them the
    document has none (engine tests). ``note``: ``run.weekOverWeek`` when the previous run could not
    be used as it is (``week.note`` otherwise). ``findings`` is a plain list of dicts up to
    ``materialize_limit`` findings, and the streaming :class:`~audit_function.engine.findings.FindingStore`
    (iterable, sized) beyond.
    """
    store = evaluation.findings
    per_vault = store.per_vault
    vaults = sorted(estate.vaults + estate.hsms, key=lambda v: v.key)   # Managed HSM pools listed with their type
    gaps, not_evaluated = run_gaps(estate, evaluation)
    by_rule, by_sub, by_severity = store.by_rule, store.by_subscription, store.by_severity
    findings = _materialize(store, materialize_limit)
    note = note or (week.note if week is not None else None)
    report = {
        "schemaVersion": SCHEMA_VERSION,
        "tool": {"name": "kv-audit", "version": __version__},
        "run": {
            **run,
            "complete": not gaps,
            "gaps": gaps,
            "notEvaluated": not_evaluated,
            "directoryData": estate.directory_data,
            "coverage": coverage(estate, evaluation.unknown_ancestry),
            "tables": estate.counts,
            **({"weekOverWeek": note} if note else {}),
        },
        "summary": {
            "vaults": len(estate.vaults),          # Key Vault vaults; the inventory below lists HSM pools too
            "managedHsms": len(estate.hsms),
            "findings": len(store),
            "fixFirst": store.fix_first(),
            "bySeverity": {s: by_severity.get(s, 0) for s in SEVERITIES},
            "byRule": {rid: by_rule.get(rid, 0) for rid in rule_ids},
            "bySubscription": dict(sorted(by_sub.items())),
            "byPermissionModel": {m: sum(1 for v in estate.vaults if v.model == m) for m in ("rbac", "accessPolicy")},
            "byNetworkExposure": {e: sum(1 for v in estate.vaults if exposure(v) == e)
                                  for e in ("public", "firewalled", "perimeter", "private")},
            "migrationReadiness": {r: evaluation.readiness.get(r, 0)
                                   for r in ("ready", "needs-assignments", "review-latent-grants", "blocked")},
            **(suppressions.summary() if suppressions is not None else {}),
            **(week.summary() if week is not None else {}),
            **({"trend": week.trend} if week is not None else {}),
        },
        "vaults": [vault_dict(v, estate, evaluation.vault_stats.get(v.key, {}), per_vault.get(v.key, Counter()))
                   for v in vaults],
        "roles": roles_section(estate),
        "findings": findings,
        "migration": _materialize(evaluation.migration, materialize_limit),
    }
    if suppressions is not None:
        report["suppressions"] = suppressions.section()
    if week is not None:
        report["resolved"], report["unverified"] = week.resolved, week.unverified
    return report


def roles_section(estate: Estate) -> dict:
    """Every role a grant in the estate references that reaches Key Vault data or a catalog control
    action, and every built-in data role a migration plan can propose, named once per report:
    findings and plans refer to roles by id (matched by trailing GUID)."""
    out = {}
    proposable = {r.guid for r in estate.role_definitions.values() if not r.custom and r.data}
    for guid in sorted({a.role_guid for a in estate.assignments} | proposable):
        role = estate.role_definitions.get(guid)
        if role is None or not (role.data or role.control):
            continue
        out[guid] = {"roleName": role.name, "roleDefinitionId": role.id, "custom": role.custom,
                     "dataActions": perms.names(role.data), "controlActions": perms.control_names(role.control)}
    return out
