"""migration-gap: flipping this access-policy vault to RBAC now would cut a principal off."""

from __future__ import annotations

from audit_function import permissions as perms
from rules.base import RuleMeta, coverage_evidence, finding
from rules.stranded_access_policy import suggest_role

META = RuleMeta(
    id="migration-gap",
    title="Access-policy entry has no RBAC equivalent yet (switching to RBAC would cut access)",
    severity="low",
    applies_to="vault",
    models=("accessPolicy",),
    uses_rbac=True,
    subject="access-policy entry",
    rationale=(
        "When a vault is switched to Azure RBAC its access policies stop counting at once. This entry grants data "
        "actions that the principal's role assignments at the vault or above do not, so switching now would "
        "remove that access (typically 403s in the workload). Assignments on single secrets, keys or "
        "certificates do not replace a vault-wide entry."
    ),
    remediation=(
        "Before switching, give the principal a role at the vault that covers the missing actions, e.g. "
        "`az role assignment create --assignee-object-id {principal_id} --role \"{suggested_role}\" --scope {vault_id}` "
        "(`kv-audit plan --vault {vault_id}` computes the least-privilege set)"
    ),
    references=("https://learn.microsoft.com/azure/key-vault/general/rbac-migration",),
)


def evaluate(vault, access, ctx):
    for entry in vault.access_policies:
        missing = access.coverage(entry)
        if not missing:
            continue
        have = access.rbac_data(entry.object_key)
        partial = "none of it" if not entry.data & have else "only part of it"
        yield finding(
            META, ctx, vault=vault, subject=entry.subject, principal_id=entry.object_id,
            suggested_role=suggest_role(missing),
            message=(f"Switching vault {vault.name} to RBAC now would cut {entry.object_id} off from "
                     f"{perms.describe(missing)}: its access policy grants this and its role assignments cover "
                     f"{partial}."),
            evidence={**coverage_evidence(entry, access, missing, ctx),
                      "missingDataActionCount": len(perms.names(missing))},
        )
