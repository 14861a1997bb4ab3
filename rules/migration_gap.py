"""migration-gap: flipping this access-policy vault to RBAC now would cut a principal off."""

from __future__ import annotations

from rules.base import RuleMeta, capped, coverage_item, finding, groups_note
from rules.stranded_access_policy import suggest_role

META = RuleMeta(
    id="migration-gap",
    title="Access-policy entry has no RBAC equivalent yet (switching to RBAC would cut access)",
    severity="low",
    applies_to="vault",
    models=("accessPolicy",),
    uses_rbac=True,
    subject="vault",
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
    gaps = [(entry, missing) for entry in vault.access_policies if (missing := access.coverage(entry))]
    if not gaps:
        return
    items = [coverage_item(entry, access, missing, ctx) for entry, missing in gaps]
    first, missing = gaps[0]
    yield finding(
        META, ctx, vault=vault, principal_id=first.object_id, suggested_role=suggest_role(missing),
        message=(f"Switching vault {vault.name} to RBAC now would cut {len(gaps)} access-policy "
                 f"entr{'y' if len(gaps) == 1 else 'ies'} off from data access their role assignments do not cover."),
        evidence={**capped(items, "entries"), "groups": groups_note(ctx)},
    )

