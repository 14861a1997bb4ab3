"""soft-delete-disabled: deleted vaults and objects cannot be recovered."""

from __future__ import annotations

from rules.base import RuleMeta, finding, label

META = RuleMeta(
    id="soft-delete-disabled",
    title="Vault soft delete is not enabled",
    severity="medium",
    applies_to="vault",
    reads=('enableSoftDelete',),
    subject="vault",
    resource_types=("vault", "managedHsm"),   # Managed HSM pools have the same property (rules.md)
    rationale=(
        "Without soft delete, deleting the vault or a secret, key or certificate in it is immediate and "
        "permanent. Azure enables soft delete on vaults created today, but vaults that predate it lack the "
        "enableSoftDelete property, and a missing value is treated as not enabled. Once enabled it cannot be "
        "turned off."
    ),
    remediation="`az resource update --ids {vault_id} --set properties.enableSoftDelete=true`",
    references=("Azure Policy: Key vaults should have deletion protection enabled",
                "https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview"),
)


def evaluate(vault, access, ctx):
    if vault.soft_delete is True:
        return
    found = "missing" if vault.soft_delete is None else vault.soft_delete
    state = "is missing (a vault that predates soft delete)" if found == "missing" else "is false"
    yield finding(
        META, ctx, vault=vault,
        message=(f"{label(vault)} {vault.name} has no soft delete: enableSoftDelete {state}, so a deleted vault, secret, key "
                 f"or certificate cannot be recovered."),
        evidence={"enableSoftDelete": found,
                  "enablePurgeProtection": "missing" if vault.purge_protection is None else vault.purge_protection},
    )
