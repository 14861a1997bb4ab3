"""firewall-allows-any: the firewall denies by default but an IP rule admits a huge range."""

from __future__ import annotations

from audit_function.estate import ip_prefix_length, is_ipv6
from rules.base import NotEvaluated, RuleMeta, finding

META = RuleMeta(
    id="firewall-allows-any",
    title="Vault firewall rule admits an overly broad address range",
    severity="high",
    applies_to="vault",
    reads=('publicNetworkAccess', 'networkAcls'),
    subject="(vault, ip rule)",
    rationale=(
        "A firewall with default action Deny limits the public endpoint to the ranges in ipRules. A rule broader "
        "than the configured prefix (by default shorter than /8 for IPv4, /32 for IPv6; 0.0.0.0/0 is every address) "
        "admits a large share of the internet, so the firewall looks restrictive while it is not. Only the prefix "
        "length counts: host bits in the address do not narrow the range."
    ),
    remediation=(
        "`az keyvault network-rule remove --name {vault_name} --resource-group {resource_group} --ip-address {ip_rule}`, "
        "then add the specific ranges clients need: `az keyvault network-rule add --name {vault_name} "
        "--resource-group {resource_group} --ip-address <CIDR>`"
    ),
    references=("https://learn.microsoft.com/azure/key-vault/general/network-security",),
)


def evaluate(vault, access, ctx):
    for bad in vault.bad_ip_rules:
        yield NotEvaluated(META.id, vault.id, f"networkAcls.ipRules value {bad} is not an IP address or CIDR range",
                           gap=True)
    if vault.public_disabled or vault.acl_default_action != "Deny":
        return
    seen = set()
    for value in vault.ip_rules:
        key = value.lower()
        if key in seen:
            continue
        seen.add(key)
        length = ip_prefix_length(value)
        family, bits, minimum = (("IPv6", 128, ctx.thresholds.firewall_min_prefix_v6) if is_ipv6(value)
                                 else ("IPv4", 32, ctx.thresholds.firewall_min_prefix_v4))
        if length >= minimum:
            continue
        yield finding(
            META, ctx, vault=vault, subject=f"ip:{key}", ip_rule=value,
            message=(f"Vault {vault.name} denies public traffic by default, but its IP rule {value} is a /{length} "
                     f"{family} range (2^{bits - length} addresses), broader than the allowed minimum /{minimum}."),
            evidence={"ipRule": value, "addressFamily": family, "prefixLength": length,
                      "minimumPrefixLength": minimum,
                      "publicNetworkAccess": vault.public_network_access or "missing",
                      "networkDefaultAction": vault.acl_default_action},
        )
