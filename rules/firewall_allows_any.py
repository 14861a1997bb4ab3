"""firewall-allows-any: the firewall denies by default but an IP rule admits a huge range."""

from __future__ import annotations

from rules.address_union import broad_families, describe
from rules.base import NotEvaluated, RuleMeta, finding, label, hsm_remediation

META = RuleMeta(
    id="firewall-allows-any",
    title="Vault firewall rules together admit an overly broad address range",
    severity="high",
    applies_to="vault",
    reads=('publicNetworkAccess', 'networkAcls'),
    subject="vault",
    resource_types=("vault", "managedHsm"),   # Managed HSM pools have the same property (rules.md)
    rationale=(
        "A firewall with default action Deny limits the public endpoint to the ranges in ipRules. When the union "
        "of those ranges holds more addresses than one network of the configured prefix (by default one /8 for "
        "IPv4, 2^24 addresses; one /32 for IPv6), the firewall admits a large share of the internet and looks "
        "restrictive while it is not: seven narrow rules can add up to most of IPv4. Overlaps count once, and "
        "host bits in a rule do not narrow its range."
    ),
    remediation=(
        "`az keyvault network-rule remove --name {vault_name} --resource-group {resource_group} --ip-address {ip_rule}`, "
        "then add the specific ranges clients need: `az keyvault network-rule add --name {vault_name} "
        "--resource-group {resource_group} --ip-address <CIDR>`"
    ),
    references=("https://learn.microsoft.com/azure/key-vault/general/network-security",),
)


#: the remediation on a Managed HSM pool (Update-AzKeyVaultManagedHsm; az keyvault update targets vaults)
HSM_REMEDIATION = (
    "Replace the broad ranges in the pool's firewall with the specific ones clients need: `az resource update --ids {vault_id} --set properties.networkAcls.ipRules='[{{\"value\": \"<CIDR>\"}}]'`"
)


def evaluate(vault, access, ctx):
    if vault.bad_ip_rules:
        # one value that is not a network makes the whole union unknown: never judged on the rest
        for bad in vault.bad_ip_rules:
            yield NotEvaluated(META.id, vault.id, f"networkAcls.ipRules value {bad} is not an IP address or CIDR "
                               "range", gap=True)
        return
    if vault.public_disabled or vault.acl_default_action != "Deny":
        return
    # IPv4 and IPv6 are judged separately, but the vault is one cause: one finding for both families
    try:
        families = broad_families(vault.ip_rules, ctx.thresholds)
    except ValueError as exc:
        yield NotEvaluated(META.id, vault.id, f"networkAcls.ipRules holds a value that is not a network ({exc})",
                           gap=True)
        return
    if not families:
        return
    first = families[0]
    said = describe(families)
    evidence = {**first, "publicNetworkAccess": vault.public_network_access or "missing",
                "networkDefaultAction": vault.acl_default_action}
    if len(families) > 1:
        evidence["byFamily"] = {f["addressFamily"]: f for f in families}
    yield finding(
        META, ctx, vault=vault, remediation=hsm_remediation(vault, HSM_REMEDIATION), ip_rule=first["broadestRules"][0],
        message=f"{label(vault)} {vault.name} denies public traffic by default, but {said}.",
        evidence=evidence,
    )

