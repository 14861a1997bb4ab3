"""secret-expiry-missing: an enabled secret in the vault never expires (CIS 8.3.3 / 8.3.4)."""

from __future__ import annotations

from rules.base import RuleMeta
from rules.key_expiry_missing import without_expiry

META = RuleMeta(
    id="secret-expiry-missing",
    title="Vault has enabled secrets without an expiration date",
    severity="medium",
    applies_to="vault",
    subject="vault",
    tables=("vault_objects",),
    rationale=(
        "A secret without an expiration date (attributes.exp) is never forced to be replaced, so a leaked "
        "password or connection string stays valid. CIS Microsoft Azure Foundations 8.3.3 (RBAC vaults) and 8.3.4 "
        "(access-policy vaults) ask for an expiration date on every enabled secret. Disabled secrets are not "
        "counted; one whose expiration is already past has one and is not counted. This matches Azure Policy "
        "'Key Vault secrets should have an expiration date' and Prowler's keyvault_*_secret_expiration_set checks "
        "(enabled secrets only). Only the secret's metadata is read from the control plane "
        "(Microsoft.KeyVault/vaults/secrets, Reader): never its value."
    ),
    remediation=(
        "Set an expiration date on each secret listed in evidence: `az keyvault secret set-attributes --vault-name "
        "{vault_name} --name <secret name> --expires <YYYY-MM-DDThh:mm:ssZ>`"
    ),
    references=("CIS Microsoft Azure Foundations 8.3.3, 8.3.4",
                "Azure Policy: Key Vault secrets should have an expiration date",
                "https://learn.microsoft.com/azure/key-vault/secrets/about-secrets",
                "https://learn.microsoft.com/rest/api/keyvault/keyvault/secrets/list"),
)


def evaluate(vault, access, ctx):
    yield from without_expiry(META, ctx, vault, "secret", cis=("8.3.3", "8.3.4"))
