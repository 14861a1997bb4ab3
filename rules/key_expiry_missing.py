"""key-expiry-missing: an enabled key in the vault never expires (CIS 8.3.1 / 8.3.2)."""

from __future__ import annotations

from rules.base import NotEvaluated, RuleMeta, capped, finding

META = RuleMeta(
    id="key-expiry-missing",
    title="Vault has enabled keys without an expiration date",
    severity="medium",
    applies_to="vault",
    subject="vault",
    tables=("vault_objects",),
    rationale=(
        "A key without an expiration date (attributes.exp) can be used for ever, so a compromised or forgotten key "
        "never stops working. CIS Microsoft Azure Foundations 8.3.1 (RBAC vaults) and 8.3.2 (access-policy vaults) "
        "ask for an expiration date on every enabled key. Disabled keys cannot be used and are not counted; a key "
        "whose expiration is in the past has one (it no longer works) and is not counted either. This matches "
        "Azure Policy 'Key Vault keys should have an expiration date' and Prowler's keyvault_key_expiration_set_in_"
        "non_rbac / _rbac checks (enabled keys only); kv-audit reads the key list from the control plane "
        "(Microsoft.KeyVault/vaults/keys, Reader), so the vault firewall and data-plane roles do not hide keys. "
        "One finding per vault lists the keys."
    ),
    remediation=(
        "Set an expiration date on each key listed in evidence: `az keyvault key set-attributes --vault-name "
        "{vault_name} --name <key name> --expires <YYYY-MM-DDThh:mm:ssZ>` (or give it a rotation policy with an "
        "expiryTime)"
    ),
    references=("CIS Microsoft Azure Foundations 8.3.1, 8.3.2",
                "Azure Policy: Key Vault keys should have an expiration date",
                "https://learn.microsoft.com/azure/key-vault/keys/about-keys-details#key-attributes",
                "https://learn.microsoft.com/rest/api/keyvault/keyvault/keys/list"),
)


def not_read(meta, vault):
    """The vault's objects could not be listed (a collection gap names it): not evaluated, never passed."""
    return NotEvaluated(meta.id, vault.id, "the vault's keys and secrets could not be listed (vault_objects gap)")


def evaluate(vault, access, ctx):
    yield from without_expiry(META, ctx, vault, "key", cis=("8.3.1", "8.3.2"))


def without_expiry(meta, ctx, vault, kind: str, cis: tuple[str, str]):
    """One finding listing the vault's enabled objects of ``kind`` without ``exp`` (CIS: rbac, accessPolicy)."""
    if vault.objects is None:
        yield not_read(meta, vault)
        return
    found = [o for o in vault.objects if o.kind == kind and o.enabled and o.exp is None]
    if not found:
        return
    number = cis[0] if vault.is_rbac else cis[1]
    yield finding(
        meta, ctx, vault=vault,
        message=(f"Vault {vault.name} has {len(found)} enabled {kind}{'' if len(found) == 1 else 's'} without an "
                 f"expiration date (CIS {number})."),
        evidence={"permissionModel": vault.model, "cis": number,
                  **capped([o.evidence() for o in sorted(found, key=lambda o: o.name.lower())], f"{kind}s")},
    )
