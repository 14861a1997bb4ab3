"""audit-logging-missing: no diagnostic setting sends the vault's AuditEvent logs anywhere (CIS 6.1.1.4)."""

from __future__ import annotations

from rules.base import NotEvaluated, RuleMeta, capped, finding, label

META = RuleMeta(
    id="audit-logging-missing",
    title="Vault sends no AuditEvent logs to a destination",
    severity="medium",
    applies_to="vault",
    subject="vault",
    resource_types=("vault", "managedHsm"),
    tables=("diagnostic_settings",),
    rationale=(
        "Key Vault records every data-plane operation (who read which secret, from where) only in its AuditEvent "
        "resource log, and keeps it only when a diagnostic setting sends it to a Log Analytics workspace, a "
        "storage account, an event hub or a partner solution. Microsoft's documentation says a setting collects "
        "AuditEvent when it names that category or a category group that includes it (audit or allLogs), so "
        "kv-audit accepts any of the three, enabled, with at least one destination; a setting without a "
        "destination or with the category disabled does not count. Peers disagree (Prowler requires AuditEvent "
        "by name or allLogs; PSRule's Azure.KeyVault.Logs accepts AuditEvent or the audit/allLogs groups; "
        "Azure Policy 'Resource logs in Key Vault should be enabled' checks AuditEvent to a storage account or "
        "workspace); this rule follows Microsoft's definition and matches PSRule. CIS 6.1.1.4. Managed HSM pools "
        "are judged the same way (their AuditEvent category)."
    ),
    remediation=(
        "`az monitor diagnostic-settings create --name kv-audit-logs --resource {vault_id} --workspace "
        "<Log Analytics workspace id> --logs '[{{\"categoryGroup\": \"audit\", \"enabled\": true}}]'`"
    ),
    references=("CIS Microsoft Azure Foundations 6.1.1.4",
                "Azure Policy: Resource logs in Key Vault should be enabled",
                "https://learn.microsoft.com/azure/key-vault/general/logging",
                "https://learn.microsoft.com/azure/azure-monitor/essentials/diagnostic-settings",
                "https://learn.microsoft.com/azure/key-vault/managed-hsm/logging"),
)


def evaluate(vault, access, ctx):
    if vault.diagnostics is None:
        yield NotEvaluated(META.id, vault.id, "the resource's diagnostic settings could not be read "
                           "(diagnostic_settings gap)")
        return
    settings = vault.diagnostics
    if any(s.sends_audit for s in settings):
        return
    why = []
    for s in settings:
        if not s.audit_logs:
            why.append(f"{s.name}: no enabled AuditEvent, audit or allLogs log entry")
        else:
            why.append(f"{s.name}: no destination")
    detail = "it has no diagnostic setting" if not settings else "; ".join(why)
    yield finding(
        META, ctx, vault=vault,
        message=f"{label(vault)} {vault.name} keeps no audit log of data-plane access: {detail}.",
        evidence={"resourceType": "Microsoft.KeyVault/managedHSMs" if vault.kind == "managedHsm"
                  else "Microsoft.KeyVault/vaults",
                  **capped([s.evidence() for s in sorted(settings, key=lambda s: s.name.lower())],
                           "diagnosticSettings")},
    )
