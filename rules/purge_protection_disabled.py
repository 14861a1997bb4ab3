"""purge-protection-disabled: a deleted vault or object can be purged before its retention ends."""

from __future__ import annotations

from rules.base import RuleMeta, finding, label, hsm_remediation

META = RuleMeta(
    id="purge-protection-disabled",
    title="Vault purge protection is not enabled",
    severity="medium",
    applies_to="vault",
    reads=('enablePurgeProtection',),
    subject="vault",
    resource_types=("vault", "managedHsm"),   # Managed HSM pools have the same property (rules.md)
    rationale=(
        "Without purge protection, anyone holding purge permission can permanently erase a soft-deleted vault or "
        "secret, key or certificate before the retention period ends, so a malicious or mistaken delete followed by "
        "a purge is unrecoverable. Purge protection requires soft delete and cannot be turned off once enabled."
    ),
    remediation=(
        "`az keyvault update --name {vault_name} --resource-group {resource_group} --enable-purge-protection true` "
        "(irreversible; soft delete must be enabled first)"
    ),
    references=("CIS Microsoft Azure Foundations 8.3.5",
                "Azure Policy: Key vaults should have deletion protection enabled",
                "https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview#purge-protection"),
)


#: the remediation on a Managed HSM pool (Update-AzKeyVaultManagedHsm; az keyvault update targets vaults)
HSM_REMEDIATION = (
    "`Update-AzKeyVaultManagedHsm -Name {vault_name} -ResourceGroupName {resource_group} -EnablePurgeProtection` (irreversible)"
)


def evaluate(vault, access, ctx):
    if vault.purge_protection is True:
        return
    found = "missing" if vault.purge_protection is None else vault.purge_protection
    state = "is missing" if found == "missing" else "is false"
    soft = "missing" if vault.soft_delete is None else vault.soft_delete
    note = "" if soft is True else " Soft delete is not enabled either; enable it first."
    yield finding(
        META, ctx, vault=vault, remediation=hsm_remediation(vault, HSM_REMEDIATION),
        message=(f"{label(vault)} {vault.name} has no purge protection: enablePurgeProtection {state}, so deleted items can "
                 f"be purged before their retention period ends.{note}"),
        evidence={"enablePurgeProtection": found, "enableSoftDelete": soft},
    )
