"""The network verdict for a source address: public access, default action, IP rules, perimeter,
private endpoints (catalog 2 semantics: SecuredByPerimeter means a perimeter governs public traffic
and the vault's own networkAcls are not used)."""

from __future__ import annotations

import ipaddress

from audit_function.estate.model import Vault


#: addresses only a virtual network can use (a private endpoint's clients come from these)
PRIVATE_RANGES = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                         "100.64.0.0/10", "fc00::/7"))


def _network(value: str):
    return ipaddress.ip_network(value.strip(), strict=False)


def network_verdict(vault: Vault, ip: str | None, form: str) -> dict:
    """``{"verdict": allowed|denied|unknown|not-evaluated, "reason", "detail", "fromIp"}``."""
    exposure = vault.exposure
    base = {"fromIp": ip, "publicNetworkAccess": vault.public_network_access or "Enabled (not set)",
            "defaultAction": vault.acl_default_action, "ipRules": list(vault.ip_rules),
            "approvedPrivateEndpoints": vault.approved_private_endpoints}
    if ip is None:
        if form in ("rbac-json", "rbac-text", "azure-cli", "dotnet"):
            return {**base, "verdict": "allowed", "reason": "reached-authorization",
                    "detail": "unknown source, but the request passed the network check: the error is an "
                              "authorization answer, not a firewall one"}
        return {**base, "verdict": "not-evaluated", "reason": "unknown-source",
                "detail": "unknown source: pass --from-ip ADDRESS to judge the network path"}
    address = ipaddress.ip_address(ip)
    private = any(address.version == n.version and address in n for n in PRIVATE_RANGES)
    if exposure == "perimeter":
        return {**base, "verdict": "unknown", "reason": "perimeter",
                "detail": "publicNetworkAccess is SecuredByPerimeter: a network security perimeter's access "
                          "rules decide public traffic, and those are not in the data"}
    if exposure == "disabled":
        if private and vault.approved_private_endpoints:
            return {**base, "verdict": "unknown", "reason": "private-endpoint",
                    "detail": f"public access is disabled; {ip} is a private address, allowed only from a network "
                              "connected to one of the vault's approved private endpoints"}
        return {**base, "verdict": "denied", "reason": "public-access-disabled",
                "detail": "public access is disabled: only private endpoints reach this vault"
                          + ("" if vault.approved_private_endpoints else ", and none is approved")}
    if vault.acl_default_action == "Allow":
        return {**base, "verdict": "allowed", "reason": "public-access",
                "detail": "public access is enabled and the firewall's default action is Allow"}
    for rule in vault.ip_rules:
        try:
            net = _network(rule)
        except ValueError:
            continue
        if net.version == address.version and address in net:
            return {**base, "verdict": "allowed", "reason": "ip-rule", "matchingRule": rule,
                    "detail": f"the firewall denies by default, and IP rule {rule} allows {ip}"}
    if private and vault.approved_private_endpoints:
        return {**base, "verdict": "unknown", "reason": "private-endpoint",
                "detail": f"{ip} matches no IP rule; as a private address it is allowed only through an approved "
                          "private endpoint's network"}
    return {**base, "verdict": "denied", "reason": "firewall",
            "detail": f"the firewall denies by default and no IP rule covers {ip}"
                      + (f" (rules: {', '.join(vault.ip_rules)})" if vault.ip_rules else " (no IP rules)")}
