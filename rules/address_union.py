"""The union test shared by the rules that judge public address ranges (``firewall-allows-any`` on a
vault's own ``ipRules``, ``perimeter-allows-public`` on a network security perimeter's inbound
``addressPrefixes``): per address family, the networks' union (host bits ignored, a bare address one
host, overlaps counted once) against the size of one network of the configured prefix length.

Not a rule: no ``META``, no ``evaluate``; listed nowhere in ``ALL_RULES``.
"""

from __future__ import annotations

import ipaddress

#: the largest integer every JSON reader holds exactly (IEEE double); orjson cannot encode past 2^64 at all
JSON_SAFE = 2 ** 53


def json_count(n: int) -> int | str:
    """An address count as evidence: a number while JSON holds it exactly, else its decimal string (IPv6)."""
    return n if n <= JSON_SAFE else str(n)


def network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """The network of one rule value: host bits ignored, a value without ``/`` is one host."""
    return ipaddress.ip_network(value.strip(), strict=False)


def union_size(networks) -> int:
    """Addresses covered by the union of networks of one family (overlaps counted once)."""
    total = 0
    for n in ipaddress.collapse_addresses(networks):
        total += n.num_addresses
    return total


def broad_families(values, thresholds) -> list[dict]:
    """One entry per address family whose union of ``values`` holds more addresses than one network of
    the threshold's prefix length (IPv4: ``firewall_min_prefix_v4``, IPv6: ``firewall_min_prefix_v6``);
    ``[]`` when every family stays within it. Raises ValueError for a value that is not a network."""
    parsed = [network(v) for v in values]
    families = []
    for family, version, minimum in (("IPv4", 4, thresholds.firewall_min_prefix_v4),
                                     ("IPv6", 6, thresholds.firewall_min_prefix_v6)):
        networks = [n for n in parsed if n.version == version]
        if not networks:
            continue
        bits = 32 if version == 4 else 128
        covered = union_size(networks)
        if covered <= 1 << (bits - minimum):
            continue
        broadest = sorted(networks, key=lambda n: (n.prefixlen, int(n.network_address)))[:10]
        share = covered / (1 << bits)
        families.append({"addressFamily": family, "addressesCovered": json_count(covered),
                         "shareOfAddressSpace": float(f"{share:.6g}"),   # significant digits: IPv6 shares are tiny
                         "minimumPrefixLength": minimum, "ruleCount": len(networks),
                         "broadestRules": [str(n) for n in broadest]})
    return families


def describe(families) -> str:
    """The families of :func:`broad_families` in words, for a finding's message."""
    return "; ".join(f"its {f['addressFamily']} rules together allow {int(f['addressesCovered']):,} addresses "
                     f"({f['shareOfAddressSpace'] * 100:.3g}% of the {f['addressFamily']} space), more than one "
                     f"/{f['minimumPrefixLength']} network" for f in families)
