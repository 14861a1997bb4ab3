"""Rows for Microsoft Sentinel / Log Analytics custom tables (Logs Ingestion API). No I/O here.

Three tables, one stream each (infra/logs.bicep declares the same columns, a test checks it):

- ``KvAuditFindings_CL``: one row per finding of the run (status new / persisting / unverified,
  suppressed flagged), plus one per finding resolved since the last run (status ``resolved``);
- ``KvAuditVaults_CL``: the vault inventory, one row per vault;
- ``KvAuditRuns_CL``: one row per run: completeness, gaps, coverage and counts. It is built last,
  after the other uploads, so it also names the gaps a failed upload caused.

Every row carries ``TimeGenerated`` (the run's start) and ``RunId``, so "this week's run" is one
``where RunId == ...`` or ``summarize arg_max(TimeGenerated, *)`` away.
"""

from __future__ import annotations

from collections.abc import Iterator

#: logical table -> (custom table, stream name, [(column, Log Analytics type)])
TABLES: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    "findings": ("KvAuditFindings_CL", "Custom-KvAuditFindings_CL", [
        ("TimeGenerated", "datetime"), ("RunId", "string"), ("Fingerprint", "string"), ("RuleId", "string"),
        ("Severity", "string"), ("Status", "string"), ("Suppressed", "boolean"), ("Title", "string"),
        ("Message", "string"), ("Subject", "string"), ("VaultId", "string"), ("VaultName", "string"),
        ("SubscriptionId", "string"), ("ResourceGroup", "string"), ("PrincipalId", "string"),
        ("PrincipalName", "string"), ("PrincipalType", "string"), ("AssignmentId", "string"),
        ("RoleDefinitionId", "string"), ("RoleName", "string"), ("Scope", "string"), ("Owner", "string"),
        ("FirstSeen", "datetime"), ("LastSeen", "datetime"), ("Remediation", "string"),
        ("Affected", "dynamic"), ("Evidence", "dynamic"),
    ]),
    "vaults": ("KvAuditVaults_CL", "Custom-KvAuditVaults_CL", [
        ("TimeGenerated", "datetime"), ("RunId", "string"), ("VaultId", "string"), ("VaultName", "string"),
        ("SubscriptionId", "string"), ("SubscriptionName", "string"), ("ResourceGroup", "string"),
        ("Location", "string"), ("TenantId", "string"), ("PermissionModel", "string"),
        ("PublicNetworkAccess", "string"), ("NetworkExposure", "string"), ("ApprovedPrivateEndpoints", "int"),
        ("SoftDeleteEnabled", "boolean"), ("PurgeProtectionEnabled", "boolean"), ("AccessPolicyCount", "int"),
        ("FindingCount", "int"), ("FindingsBySeverity", "dynamic"), ("Tags", "dynamic"),
    ]),
    "runs": ("KvAuditRuns_CL", "Custom-KvAuditRuns_CL", [
        ("TimeGenerated", "datetime"), ("RunId", "string"), ("StartedAt", "datetime"), ("FinishedAt", "datetime"),
        ("Source", "string"), ("Complete", "boolean"), ("GapCount", "int"), ("Gaps", "dynamic"),
        ("NotEvaluatedCount", "int"), ("Coverage", "dynamic"), ("Vaults", "int"), ("Findings", "int"),
        ("High", "int"), ("Medium", "int"), ("Low", "int"), ("New", "int"), ("Persisting", "int"),
        ("Resolved", "int"), ("Unverified", "int"), ("Suppressed", "int"), ("ToolVersion", "string"),
    ]),
}

#: a run row lists at most this many gaps (the count is exact; the JSON report has them all)
GAPS_IN_RUN_ROW = 100


def _run(report: dict) -> tuple[str | None, str | None]:
    run = report.get("run") or {}
    return run.get("id"), run.get("startedAt")


def finding_row(finding: dict, run_id, started, status: str | None = None) -> dict:
    return {
        "TimeGenerated": started, "RunId": run_id, "Fingerprint": finding.get("fingerprint"),
        "RuleId": finding.get("ruleId"), "Severity": finding.get("severity"),
        "Status": status or finding.get("status"), "Suppressed": bool(finding.get("suppressed")),
        "Title": finding.get("title"), "Message": finding.get("message"), "Subject": finding.get("subject"),
        "VaultId": finding.get("vaultId"), "VaultName": finding.get("vaultName"),
        "SubscriptionId": finding.get("subscriptionId"), "ResourceGroup": finding.get("resourceGroup"),
        "PrincipalId": finding.get("principalId"), "PrincipalName": finding.get("principalName"),
        "PrincipalType": finding.get("principalType"), "AssignmentId": finding.get("assignmentId"),
        "RoleDefinitionId": finding.get("roleDefinitionId"), "RoleName": finding.get("roleName"),
        "Scope": finding.get("scope"), "Owner": finding.get("owner"), "FirstSeen": finding.get("firstSeen"),
        "LastSeen": finding.get("lastSeen") or (started if status != "resolved" else None),
        "Remediation": finding.get("remediation"), "Affected": finding.get("affected"),
        "Evidence": finding.get("evidence"),
    }


def finding_rows(report: dict) -> Iterator[dict]:
    run_id, started = _run(report)
    for finding in report.get("findings") or ():
        yield finding_row(finding, run_id, started)
    for key in ("resolved", "unverified"):
        entries = report.get(key)
        if isinstance(entries, list):
            for finding in entries:
                yield finding_row(finding, run_id, started, key)


def vault_rows(report: dict) -> Iterator[dict]:
    run_id, started = _run(report)
    for vault in report.get("vaults") or ():
        yield {
            "TimeGenerated": started, "RunId": run_id, "VaultId": vault.get("id"), "VaultName": vault.get("name"),
            "SubscriptionId": vault.get("subscriptionId"), "SubscriptionName": vault.get("subscriptionName"),
            "ResourceGroup": vault.get("resourceGroup"), "Location": vault.get("location"),
            "TenantId": vault.get("tenantId"), "PermissionModel": vault.get("permissionModel"),
            "PublicNetworkAccess": vault.get("publicNetworkAccess"), "NetworkExposure": vault.get("networkExposure"),
            "ApprovedPrivateEndpoints": vault.get("approvedPrivateEndpoints"),
            "SoftDeleteEnabled": vault.get("softDeleteEnabled"), "PurgeProtectionEnabled": vault.get("purgeProtectionEnabled"),
            "AccessPolicyCount": vault.get("accessPolicyCount"), "FindingCount": vault.get("findingCount"),
            "FindingsBySeverity": vault.get("findingsBySeverity"), "Tags": vault.get("tags"),
        }


def run_rows(report: dict) -> list[dict]:
    run = report.get("run") or {}
    summary = report.get("summary") or {}
    severity = summary.get("bySeverity") or {}
    gaps = list(run.get("gaps") or ())
    return [{
        "TimeGenerated": run.get("startedAt"), "RunId": run.get("id"), "StartedAt": run.get("startedAt"),
        "FinishedAt": run.get("finishedAt"), "Source": run.get("source"),
        "Complete": bool(run.get("complete")) and not gaps, "GapCount": len(gaps), "Gaps": gaps[:GAPS_IN_RUN_ROW],
        "NotEvaluatedCount": len(run.get("notEvaluated") or ()), "Coverage": run.get("coverage"),
        "Vaults": summary.get("vaults"), "Findings": summary.get("findings"),
        "High": severity.get("high"), "Medium": severity.get("medium"), "Low": severity.get("low"),
        "New": summary.get("new"), "Persisting": summary.get("persisting"), "Resolved": summary.get("resolved"),
        "Unverified": summary.get("unverified"), "Suppressed": summary.get("suppressed"),
        "ToolVersion": (report.get("tool") or {}).get("version"),
    }]


def data_rows(report: dict) -> dict[str, Iterator[dict]]:
    """The finding and vault rows, by logical table (the run row comes after their upload)."""
    return {"findings": finding_rows(report), "vaults": vault_rows(report)}
