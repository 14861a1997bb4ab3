"""stranded-access-policy: a principal lost access when its vault was switched to RBAC."""

from __future__ import annotations

from functools import lru_cache

from audit_function import permissions as perms
from rules.base import RuleMeta, coverage_evidence, finding

META = RuleMeta(
    id="stranded-access-policy",
    title="Access-policy entry not covered by RBAC on an RBAC vault (half-finished migration)",
    severity="high",
    applies_to="vault",
    models=("rbac",),
    uses_rbac=True,
    subject="access-policy entry",
    rationale=(
        "An RBAC vault ignores its access policies. This entry grants data actions that the principal's "
        "role assignments do not: the principal lost that access when the vault was switched to RBAC "
        "(a half-finished migration), which usually shows up as 403s in production."
    ),
    remediation=(
        "Assign the principal a role covering the missing actions at the vault, e.g. "
        "`az role assignment create --assignee-object-id {principal_id} --role \"{suggested_role}\" --scope {vault_id}`, "
        "or delete the entry if the access is no longer needed"
    ),
    references=("https://learn.microsoft.com/azure/key-vault/general/rbac-migration",),
)


def evaluate(vault, access, ctx):
    for entry in vault.access_policies:
        missing = access.coverage(entry)
        if not missing:
            continue
        yield finding(
            META, ctx, vault=vault, subject=entry.subject, principal_id=entry.object_id,
            suggested_role=suggest_role(missing),
            message=(f"{entry.object_id} lost {perms.describe(missing)} on RBAC vault {vault.name}: its access "
                     f"policy grants it but no role assignment does."),
            evidence=coverage_evidence(entry, access, missing, ctx),
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
