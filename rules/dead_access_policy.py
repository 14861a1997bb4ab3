"""dead-access-policy: an access-policy entry on an RBAC vault whose access RBAC already gives."""

from __future__ import annotations

from audit_function import permissions as perms
from rules.base import RuleMeta, capped, entry_item, finding, groups_note

META = RuleMeta(
    id="dead-access-policy",
    title="Inert access-policy entry on an RBAC vault",
    severity="low",
    applies_to="vault",
    models=("rbac",),
    uses_rbac=True,
    subject="vault",
    rationale=(
        "An RBAC vault ignores its access policies. This entry's principal already has every data action "
        "the entry grants through role assignments, so the entry is inert and safe to delete; left in place "
        "it misleads reviewers and becomes live again if the vault is switched back to access policies."
    ),
    remediation=(
        "Delete each entry listed in evidence, e.g. `az keyvault delete-policy --name {vault_name} "
        "--resource-group {resource_group} --object-id {principal_id}`"
    ),
    references=("https://learn.microsoft.com/azure/key-vault/general/rbac-migration",),
)


def evaluate(vault, access, ctx):
    dead = [entry for entry in vault.access_policies if not access.coverage(entry)]
    if not dead:
        return
    items = [entry_item(entry, ctx, policyDataActionsInWords=perms.describe(entry.data),
                        crossTenant=vault.entry_cross_tenant(entry),
                        **capped([g.evidence() for g in access.rbac_grants(entry.object_key)], "coveredBy"))
             for entry in dead]
    first = dead[0]
    yield finding(
        META, ctx, vault=vault, principal_id=first.object_id,
        message=(f"{len(dead)} access-policy entr{'y' if len(dead) == 1 else 'ies'} on RBAC vault {vault.name} "
                 f"{'is' if len(dead) == 1 else 'are'} inert: role assignments already give each principal everything "
                 f"its entry grants (or the entry grants nothing, or names another tenant)."),
        evidence={**capped(items, "entries"), "groups": groups_note(ctx)},
    )

