"""access-policy-model: the vault authorizes data-plane requests with access policies."""

from __future__ import annotations

from rules.base import RuleMeta, finding

META = RuleMeta(
    id="access-policy-model",
    title="Vault uses the access-policy permission model",
    severity="medium",
    applies_to="vault",
    models=("accessPolicy",),
    subject="vault",
    rationale=(
        "With access policies, anyone who can write the vault resource (Owner, Contributor, Key Vault "
        "Contributor, custom roles with Microsoft.KeyVault/vaults/write) can grant themselves data access. "
        "Azure RBAC restricts that to Owner and User Access Administrator and supports scoped, auditable, "
        "conditional grants. A missing or null enableRbacAuthorization means access policies."
    ),
    remediation=(
        "Plan the move with `kv-audit plan --vault {vault_id}`, create the role assignments it proposes, then "
        "`az keyvault update --name {vault_name} --resource-group {resource_group} --enable-rbac-authorization true`"
    ),
    references=("CIS Microsoft Azure Foundations 8.3.6", "Azure Policy 12d4fa5e-1f9f-4c21-97a9-b99b3c6611b5",
                "https://learn.microsoft.com/azure/key-vault/general/rbac-migration"),
)


def evaluate(vault, access, ctx):
    yield finding(
        META, ctx, vault=vault,
        message=f"Vault {vault.name} authorizes data access with {len(vault.access_policies)} access "
                f"policy entr{'y' if len(vault.access_policies) == 1 else 'ies'}, not Azure RBAC.",
        evidence={"enableRbacAuthorization": vault.rbac_setting,   # false, or null when missing
                  "accessPolicyCount": len(vault.access_policies)},
    )
