"""key-rotation-missing: an enabled key has no automatic rotation (CIS 8.3.9)."""

from __future__ import annotations

from rules.base import RuleMeta, capped, finding
from rules.key_expiry_missing import not_read

META = RuleMeta(
    id="key-rotation-missing",
    title="Vault has enabled keys without automatic rotation",
    severity="low",
    applies_to="vault",
    subject="vault",
    tables=("vault_objects",),
    rationale=(
        "Key Vault rotates a key on its own only when the key's rotation policy has a lifetime action of type "
        "Rotate; a policy with only Notify (the default policy) or no policy leaves rotation to people. CIS "
        "Microsoft Azure Foundations 8.3.9 asks for automatic rotation of keys. The rotation policy is read "
        "from the control plane (the rotationPolicy of Microsoft.KeyVault/vaults/keys, Reader), not the data "
        "plane's keys/rotationpolicy (which needs the 'Get Rotation Policy' data action). Action types are "
        "compared case-insensitively. Disabled keys are not counted. This matches Prowler's "
        "keyvault_key_rotation_enabled (a Rotate lifetime action); Azure Policy's 'Keys should have a rotation "
        "policy ensuring that their rotation is scheduled within the specified number of days' also needs a "
        "Rotate action."
    ),
    remediation=(
        "Give each key listed in evidence a rotation policy with a Rotate action: `az keyvault key rotation-policy "
        "update --vault-name {vault_name} --name <key name> --value @policy.json` (lifetimeActions "
        "[{{\"trigger\": {{\"timeAfterCreate\": \"P90D\"}}, \"action\": {{\"type\": \"Rotate\"}}}}])"
    ),
    references=("CIS Microsoft Azure Foundations 8.3.9",
                "https://learn.microsoft.com/azure/key-vault/keys/how-to-configure-key-rotation",
                "https://learn.microsoft.com/rest/api/keyvault/keyvault/keys/get"),
)


def evaluate(vault, access, ctx):
    if vault.objects is None:
        yield not_read(META, vault)
        return
    keys = [o for o in vault.objects if o.kind == "key" and o.enabled and not o.rotates]
    if not keys:
        return
    without = sum(1 for k in keys if k.rotation_actions is None)
    yield finding(
        META, ctx, vault=vault,
        message=(f"Vault {vault.name} has {len(keys)} enabled key{'' if len(keys) == 1 else 's'} that Key Vault does "
                 f"not rotate automatically ({without} without a rotation policy, {len(keys) - without} with a "
                 f"policy that has no Rotate action)."),
        evidence={"withoutPolicy": without,
                  **capped([k.evidence() for k in sorted(keys, key=lambda o: o.name.lower())], "keys")},
    )
