"""perimeter-allows-public (project rule, docs/contracts/README.md): a network security perimeter that
governs a vault's or Managed HSM pool's public traffic admits a broad share of the internet.

What Microsoft documents, and what this rule decides from it:

- A resource association has ``accessMode`` ``Learning`` (the default; the docs now call it
  "Transition"), ``Enforced`` or ``Audit``. In Enforced mode "the resource obeys only network security
  perimeter access rules"; in Transition (Learning) mode evaluation "uses the network security perimeter
  configuration as a baseline" and, when no perimeter rule matches, "falls back to the resource firewall
  configuration" (https://learn.microsoft.com/azure/private-link/network-security-perimeter-transition).
  Its table of inbound behaviour: associated in Enforced mode, inbound is the perimeter's rules whatever
  ``publicNetworkAccess`` says; in Transition mode it is the perimeter's rules plus the resource's own
  (``Enabled``) or the perimeter's rules alone (``Disabled``, ``SecuredByPerimeter``); not associated,
  ``SecuredByPerimeter`` denies all public inbound traffic.
  So the profile's inbound rules admit traffic in Enforced **and** in Learning mode: both are judged here.
  A vault in Learning mode whose own public access is enabled is in addition still judged by its own
  firewall (``public-network-open``, ``firewall-allows-any``: the fallback); those rules keep their contract
  (``SecuredByPerimeter`` counts as public access disabled for them).
- ``Audit`` is a dry run: "traffic is evaluated against NSP Rules, logged but not enforced"
  (https://learn.microsoft.com/javascript/api/@azure/arm-hybridcompute/knownaccessmode): its rules admit
  nothing and it is not judged.
- Access rules (``Microsoft.Network/networkSecurityPerimeters/profiles/accessRules``,
  https://learn.microsoft.com/azure/templates/microsoft.network/networksecurityperimeters/profiles/accessrules):
  ``direction`` ``Inbound`` with ``addressPrefixes`` (IPv4/IPv6), ``subscriptions``,
  ``networkSecurityPerimeters`` or ``serviceTags`` ("currently unavailable for use"), ``Outbound`` with
  ``fullyQualifiedDomainNames``. Only inbound address prefixes are public address exposure: they are
  judged with the firewall's union test (rules/address_union.py, the same thresholds). An inbound rule
  allowing subscriptions or another perimeter admits Azure resources of those, not internet addresses:
  it does not fire, and the evidence lists it. Outbound rules never fire.
- Resource Graph holds the associations, profiles and access rules in its ``networkresources`` table
  (https://learn.microsoft.com/azure/governance/resource-graph/reference/supported-tables-resources).

Without the table (collect --deep reads it) a vault or HSM whose ``publicNetworkAccess`` is
``SecuredByPerimeter`` is listed as not evaluated: its public exposure is decided by rules nobody read.
"""

from __future__ import annotations

from functools import lru_cache

from rules.address_union import broad_families, describe, network
from rules.base import NotEvaluated, RuleMeta, capped, finding, label

META = RuleMeta(
    id="perimeter-allows-public",
    title="Network security perimeter admits an overly broad public address range",
    severity="high",   # the same exposure as firewall-allows-any: a broad share of the internet reaches the vault
    applies_to="vault",
    subject="vault",
    reads=("publicNetworkAccess",),
    resource_types=("vault", "managedHsm"),
    rationale=(
        "A vault or Managed HSM pool associated with a network security perimeter in Enforced mode accepts public "
        "traffic only as the perimeter profile's inbound access rules allow, whatever its own firewall says; in "
        "Learning (Transition) mode the profile's rules are the baseline and the resource's own firewall is a "
        "fallback, so a profile rule admits traffic there too. When the union of the profile's inbound address "
        "prefixes holds more addresses than one network of the firewall rule's prefix length (by default one /8 for "
        "IPv4, one /32 for IPv6), the perimeter looks like a lockdown (publicNetworkAccess SecuredByPerimeter) while "
        "a large share of the internet reaches the data plane. Inbound rules for subscriptions or other perimeters "
        "are not address exposure (they are listed in the evidence); Audit-mode associations enforce nothing and "
        "are not judged."
    ),
    remediation=(
        "Replace the broad prefixes of the perimeter's inbound access rule with the ranges clients need "
        "(Azure CLI nsp extension): `az network perimeter profile access-rule update --ids {rule_id} "
        "--address-prefixes <CIDR>`, or remove the rule: `az network perimeter profile access-rule delete --ids "
        "{rule_id}`"
    ),
    references=("https://learn.microsoft.com/azure/private-link/network-security-perimeter-concepts",
                "https://learn.microsoft.com/azure/private-link/network-security-perimeter-transition",
                "https://learn.microsoft.com/azure/templates/microsoft.network/networksecurityperimeters/"
                "profiles/accessrules"),
)

#: access modes whose profile rules admit public inbound traffic
GOVERNING = ("Enforced", "Learning")
#: how many of the rules behind a broad family the evidence shows (like firewall-allows-any's broadestRules)
BROAD_RULES_SHOWN = 10


def evaluate(vault, access, ctx):
    if vault.perimeters is None:
        if vault.exposure == "perimeter":
            yield NotEvaluated(META.id, vault.id, "publicNetworkAccess is SecuredByPerimeter, but the network "
                               "security perimeter associations were not read (perimeter_associations not "
                               "collected, or part of it could not be read): its public exposure is unknown")
        return
    judged, blocked = [], False
    for association in vault.perimeters:
        if association.problems:
            for problem in association.problems:
                yield NotEvaluated(META.id, vault.id, f"perimeter association {association.id}: {problem}", gap=True)
            blocked = True
            continue
        if association.access_mode not in GOVERNING:
            continue
        if not association.profile_found:
            yield NotEvaluated(META.id, vault.id, f"perimeter association {association.id} names profile "
                               f"{association.profile_id}, which was not read: its access rules are unknown")
            blocked = True
            continue
        if association.rule_problems:
            for rule, problem in association.rule_problems:
                yield NotEvaluated(META.id, vault.id, f"perimeter access rule {rule.id}: {problem}", gap=True)
            blocked = True
            continue
        judged.append(association)
    if blocked or not judged:
        return
    inbound = judged[0].inbound if len(judged) == 1 else tuple(r for a in judged for r in a.inbound)
    families, error, culprits = _verdict(inbound, ctx.thresholds)
    if error is not None:
        yield NotEvaluated(META.id, vault.id, f"a perimeter inbound rule holds an address prefix that is not a "
                           f"network ({error})", gap=True)
        return
    if not families:
        return
    families = [{**f, "broadestRules": list(f["broadestRules"])} for f in families]   # fresh evidence per finding
    lead = next(a for a in judged if any(r in a.rules for r in culprits))
    first = families[0]
    evidence = {
        **first, **lead.evidence(), "profileName": _tail(lead.profile_id),
        "publicNetworkAccess": vault.public_network_access or "missing",
        "ownFirewallAlsoApplies": lead.access_mode == "Learning" and not vault.public_disabled,
        # the rules adding to the broad families, broadest first: ten of them, with the count beside
        **capped([r.evidence() for r in culprits[:BROAD_RULES_SHOWN]], "broadRules"), "broadRulesCount": len(culprits),
        **capped(sorted({s for r in inbound for s in r.subscriptions}, key=str.lower), "inboundSubscriptions"),
        **capped(sorted({p for r in inbound for p in r.perimeters}, key=str.lower), "inboundPerimeters"),
        **capped(sorted({t for r in inbound for t in r.service_tags}, key=str.lower), "inboundServiceTags"),
    }
    if len(families) > 1:
        evidence["byFamily"] = {f["addressFamily"]: f for f in families}
    if len(judged) > 1:
        evidence["associations"] = [a.evidence() for a in judged]
    mode = "Enforced mode: only the perimeter's rules apply" if lead.access_mode == "Enforced" else \
        "Learning (Transition) mode: the perimeter's rules apply first, then the vault's own firewall"
    yield finding(
        META, ctx, vault=vault, rule_id=culprits[0].id,
        message=(f"{label(vault)} {vault.name} is in network security perimeter {_tail(lead.perimeter_id)} "
                 f"(profile {_tail(lead.profile_id)}, {mode}), and {describe(families)}."),
        evidence=evidence,
    )


@lru_cache(maxsize=256)
def _verdict(inbound: tuple, thresholds) -> tuple[tuple | None, str | None, tuple]:
    """(broad families, why the prefixes cannot be judged, the rules behind the broad families broadest first)
    of a set of inbound rules, once per set: the vaults of one profile share its rule objects (identity)."""
    prefixes = tuple(dict.fromkeys(p for r in inbound for p in r.address_prefixes))
    try:
        families = tuple(broad_families(prefixes, thresholds))
    except ValueError as exc:
        return None, str(exc), ()
    versions = {4 if f["addressFamily"] == "IPv4" else 6 for f in families}
    shapes = {}
    for rule in inbound:
        shape: dict[int, int] = {}
        for value in rule.address_prefixes:
            n = network(value)
            shape[n.version] = min(shape.get(n.version, 129), n.prefixlen)
        if versions & shape.keys():
            shapes[rule] = min(length for version, length in shape.items() if version in versions)
    culprits = tuple(sorted(shapes, key=lambda r: (shapes[r], r.id.lower())))
    return families, None, culprits


def _tail(resource_id: str | None) -> str | None:
    """The last segment of a perimeter or profile id, for messages (ids stay whole in the evidence)."""
    return resource_id.rstrip("/").rsplit("/", 1)[-1] if resource_id else None
