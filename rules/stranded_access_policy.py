"""stranded-access-policy: a principal lost access when its vault was switched to RBAC."""

from __future__ import annotations

from functools import lru_cache

from audit_function import permissions as perms
from rules.base import RuleMeta, capped, coverage_item, finding, groups_note

META = RuleMeta(
    id="stranded-access-policy",
    title="Access-policy entry not covered by RBAC on an RBAC vault (half-finished migration)",
    severity="high",
    applies_to="vault",
    models=("rbac",),
    uses_rbac=True,
    subject="vault",
    rationale=(
        "An RBAC vault ignores its access policies. This entry grants data actions that the principal's "
        "role assignments do not: the principal lost that access when the vault was switched to RBAC "
        "(a half-finished migration), which usually shows up as 403s in production."
    ),
    remediation=(
        "For each entry listed in evidence, assign the principal a role covering the missing actions at the vault, e.g. "
        "`az role assignment create --assignee-object-id {principal_id} --role \"{suggested_role}\" --scope {vault_id}`, "
        "or delete the entry if the access is no longer needed"
    ),
    references=("https://learn.microsoft.com/azure/key-vault/general/rbac-migration",),
)


def evaluate(vault, access, ctx):
    stranded = [(entry, missing) for entry in vault.access_policies if (missing := access.coverage(entry))]
    if not stranded:
        return
    items = [coverage_item(entry, access, missing, ctx) for entry, missing in stranded]
    first, missing = stranded[0]
    lost = 0
    for _, m in stranded:
        lost |= m
    yield finding(
        META, ctx, vault=vault, principal_id=first.object_id, suggested_role=suggest_role(missing),
        message=(f"{len(stranded)} principal entr{'y' if len(stranded) == 1 else 'ies'} lost data access on RBAC vault "
                 f"{vault.name} ({perms.describe(lost)}): the access policies grant it but no role assignment does."),
        evidence={**capped(items, "entries"), "groups": groups_note(ctx)},
    )



@lru_cache(maxsize=4096)
def suggest_role(missing: int) -> str:
    """A built-in role name covering ``missing`` (a hint; the migration plan computes the least one)."""
    kinds = {a.split("/")[2].lower() for a in perms.names(missing)}  # Microsoft.KeyVault/vaults/<kind>/...
    if kinds <= {"secrets"}:
        reads = perms.bit("Microsoft.KeyVault/vaults/secrets/getSecret/action") | \
            perms.bit("Microsoft.KeyVault/vaults/secrets/readMetadata/action")
        return "Key Vault Secrets User" if not missing & ~reads else "Key Vault Secrets Officer"
    if kinds <= {"keys", "keyrotationpolicies"}:
        return "Key Vault Crypto Officer"
    if kinds <= {"certificates", "certificatecas", "certificatecontacts"}:
        return "Key Vault Certificates Officer"
    return "Key Vault Administrator"
