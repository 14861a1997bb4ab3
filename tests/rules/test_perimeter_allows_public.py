"""perimeter-allows-public (project rule, docs/contracts/README.md): the inbound address prefixes of the
profiles that govern a vault or HSM (Enforced or Learning associations) are judged with the firewall's
union test; Audit associations, subscription and perimeter rules and outbound rules are not address
exposure; without perimeter_associations a SecuredByPerimeter resource is not evaluated."""

import pytest

from rules import firewall_allows_any, perimeter_allows_public, public_network_open
from rules.base import Thresholds, fingerprint
from tests.factories import (SUB, hsm_id, hsm_row, nsp_association_row, nsp_profile_row, nsp_rule_row,
                             perimeter_id, run_rules, vault_id, vault_row)

RULES = (perimeter_allows_public,)
RULE = "perimeter-allows-public"


def perimeter(*rule_rows, mode="Enforced", resource=None, profile=True, **assoc):
    rows = [nsp_association_row(resource or vault_id(), mode=mode, **assoc), *rule_rows]
    return rows + ([nsp_profile_row()] if profile else [])


def secured(**props):
    props.setdefault("publicNetworkAccess", "SecuredByPerimeter")
    return vault_row(**props)


def run(rows=None, vaults=None, rules=RULES, hsms=None, **kw):
    tables = {} if rows is None else {"perimeter_associations": rows}
    if hsms is not None:
        tables["managed_hsms"] = hsms
    return run_rules(rules, vaults=vaults if vaults is not None else [secured()], tables=tables, **kw)


def one(rows, **kw) -> dict:
    result = run(rows, **kw)
    assert result.gaps == [] and result.not_evaluated == []
    (f,) = result.of(RULE)
    return f


def clean(rows, **kw) -> bool:
    result = run(rows, **kw)
    return result.findings == [] and result.gaps == [] and result.not_evaluated == []


# -- firing ------------------------------------------------------------------------------------------


def test_enforced_perimeter_admitting_any_address_fires_with_the_perimeter_in_evidence():
    f = one(perimeter(nsp_rule_row("allow-all", prefixes=["0.0.0.0/0"]),
                      nsp_rule_row("allow-office", prefixes=["203.0.113.0/24"])))
    assert f["severity"] == "high" and f["subject"] == "vault" and f["vaultId"] == vault_id()
    assert f["fingerprint"] == fingerprint(RULE, vault_id())
    ev = f["evidence"]
    assert ev["perimeter"] == perimeter_id() and ev["accessMode"] == "Enforced"
    assert ev["profile"] == f"{perimeter_id()}/profiles/default" and ev["profileName"] == "default"
    assert ev["addressFamily"] == "IPv4" and ev["addressesCovered"] == 2 ** 32 and ev["shareOfAddressSpace"] == 1.0
    assert [r["name"] for r in ev["broadRules"]] == ["allow-all", "allow-office"] and ev["broadRulesCount"] == 2
    assert ev["publicNetworkAccess"] == "SecuredByPerimeter" and ev["ownFirewallAlsoApplies"] is False
    assert "nsp1" in f["message"] and "Enforced mode" in f["message"] and "4,294,967,296 addresses" in f["message"]
    assert f"update --ids {perimeter_id()}/profiles/default/accessRules/allow-all --address-prefixes '<CIDR>'" \
        in f["remediation"]


def test_a_union_of_narrow_rules_covering_the_threshold_fires():
    # two /9s: 2^24 addresses, exactly one /8 (does not fire); a third /9 makes it more
    halves = ["10.0.0.0/9", "10.128.0.0/9"]
    assert clean(perimeter(nsp_rule_row("r1", prefixes=halves)))
    f = one(perimeter(nsp_rule_row("r1", prefixes=halves), nsp_rule_row("r2", prefixes=["11.0.0.0/9"])))
    assert f["evidence"]["addressesCovered"] == 3 * 2 ** 23 and f["evidence"]["ruleCount"] == 3


def test_learning_mode_perimeter_rules_admit_traffic_too():
    # Transition (Learning) mode: perimeter rules first, then the vault's own firewall (Microsoft's table)
    f = one(perimeter(nsp_rule_row("wide", prefixes=["0.0.0.0/1", "128.0.0.0/1"]), mode="Learning"),
            vaults=[vault_row(publicNetworkAccess="Enabled")])
    assert f["evidence"]["accessMode"] == "Learning" and f["evidence"]["ownFirewallAlsoApplies"] is True
    assert "Learning (Transition) mode" in f["message"]


def test_public_access_disabled_does_not_shut_an_enforced_perimeter():
    # Microsoft's table: associated in Enforced mode, inbound is the perimeter's rules whatever publicNetworkAccess says
    f = one(perimeter(nsp_rule_row("wide", prefixes=["0.0.0.0/0"])), vaults=[vault_row(publicNetworkAccess="Disabled")])
    assert f["evidence"]["publicNetworkAccess"] == "Disabled" and f["evidence"]["ownFirewallAlsoApplies"] is False


def test_two_associations_are_one_finding_on_the_union_of_their_profiles():
    rows = [nsp_association_row(vault_id(), name="a1", profile="p1"), nsp_profile_row("p1"),
            nsp_rule_row("low", profile="p1", prefixes=["10.0.0.0/9"]),
            nsp_association_row(vault_id(), name="a2", profile="p2", perimeter=perimeter_id("nsp2"), mode="Learning"),
            nsp_profile_row("p2", perimeter=perimeter_id("nsp2")),
            nsp_rule_row("high", profile="p2", perimeter=perimeter_id("nsp2"), prefixes=["10.128.0.0/9", "11.0.0.0/9"])]
    assert clean(rows[:3]) and clean(rows[3:])   # each profile alone: at most one /8
    f = one(rows)
    assert f["evidence"]["addressesCovered"] == 3 * 2 ** 23 and len(f["evidence"]["associations"]) == 2


def test_missing_access_mode_is_learning_the_default():
    f = one(perimeter(nsp_rule_row("wide", prefixes=["0.0.0.0/0"]), mode=None))
    assert f["evidence"]["accessMode"] == "Learning"


def test_managed_hsm_in_a_perimeter_is_judged_like_a_vault():
    hsm = hsm_row(publicNetworkAccess="SecuredByPerimeter")
    f = one(perimeter(nsp_rule_row("wide", prefixes=["0.0.0.0/0"]), resource=hsm_id(), name="assoc-hsm"),
            vaults=[], hsms=[hsm])
    assert f["vaultId"] == hsm_id() and f["message"].startswith("Managed HSM hsm1")


def test_ipv6_prefixes_are_judged_against_the_ipv6_threshold():
    assert clean(perimeter(nsp_rule_row("v6", prefixes=["2001:db8::/32"])))
    f = one(perimeter(nsp_rule_row("v6", prefixes=["2000::/3", "2001:db8::/48"])))
    ev = f["evidence"]
    assert ev["addressFamily"] == "IPv6" and ev["addressesCovered"] == str(2 ** 125)
    assert ev["minimumPrefixLength"] == 32


def test_both_families_broad_is_one_finding():
    f = one(perimeter(nsp_rule_row("v4", prefixes=["0.0.0.0/0"]), nsp_rule_row("v6", prefixes=["::/0"])))
    assert set(f["evidence"]["byFamily"]) == {"IPv4", "IPv6"}


def test_subscription_and_perimeter_rules_are_named_in_the_evidence_of_a_finding():
    other = f"/subscriptions/{SUB}"
    f = one(perimeter(nsp_rule_row("wide", prefixes=["0.0.0.0/0"]),
                      nsp_rule_row("apps", subscriptions=[other]),
                      nsp_rule_row("peer", perimeters=[perimeter_id("nsp2")])))
    ev = f["evidence"]
    assert ev["inboundSubscriptions"] == [other] and ev["inboundPerimeters"] == [perimeter_id("nsp2")]
    assert [r["name"] for r in ev["broadRules"]] == ["wide"]


def test_thresholds_are_the_firewall_rules():
    rows = perimeter(nsp_rule_row("r", prefixes=["10.0.0.0/12"]))
    assert clean(rows)
    assert one(rows, thresholds=Thresholds(firewall_min_prefix_v4=16))["evidence"]["minimumPrefixLength"] == 16


# -- not firing --------------------------------------------------------------------------------------


def test_narrow_prefixes_do_not_fire():
    assert clean(perimeter(nsp_rule_row("office", prefixes=["203.0.113.0/24", "198.51.100.7"])))


def test_subscription_only_rules_are_not_address_exposure():
    assert clean(perimeter(nsp_rule_row("apps", subscriptions=[f"/subscriptions/{SUB}"])))


def test_outbound_rules_never_count():
    assert clean(perimeter(nsp_rule_row("out", direction="Outbound", prefixes=["0.0.0.0/0"], fqdns=["x.example"])))


def test_audit_mode_enforces_nothing_and_is_not_judged():
    assert clean(perimeter(nsp_rule_row("wide", prefixes=["0.0.0.0/0"]), mode="Audit"))


def test_learning_mode_with_own_firewall_closed_and_narrow_perimeter_rules_is_clean_for_every_network_rule():
    own = vault_row(publicNetworkAccess="Enabled")   # default networkAcls: Deny, no IP rules
    assert clean(perimeter(nsp_rule_row("office", prefixes=["203.0.113.0/24"]), mode="Learning"), vaults=[own],
                 rules=(perimeter_allows_public, public_network_open, firewall_allows_any))


def test_a_profile_without_rules_admits_nothing():
    assert clean(perimeter())


def test_secured_by_perimeter_without_any_association_is_locked_down():
    # Microsoft: not associated, SecuredByPerimeter denies public inbound traffic
    assert clean([nsp_profile_row()])


def test_rules_of_another_profile_do_not_count():
    rows = perimeter(nsp_rule_row("wide", profile="other", prefixes=["0.0.0.0/0"]))
    assert clean(rows + [nsp_profile_row("other")])


def test_enabled_vault_without_the_table_is_left_to_its_own_firewall_rules():
    assert clean(None, vaults=[vault_row(publicNetworkAccess="Enabled")])


# -- not evaluated -----------------------------------------------------------------------------------


def test_missing_table_lists_a_secured_by_perimeter_vault_as_not_evaluated():
    result = run(None)
    assert result.findings == [] and result.gaps == []
    (ne,) = [n for n in result.not_evaluated if n["ruleId"] == RULE]
    assert ne["vaultId"] == vault_id() and "perimeter_associations" in ne["reason"]


def test_missing_table_lists_a_secured_by_perimeter_hsm_as_not_evaluated():
    result = run(None, vaults=[], hsms=[hsm_row(publicNetworkAccess="SecuredByPerimeter")])
    assert [n["vaultId"] for n in result.not_evaluated if n["ruleId"] == RULE] == [hsm_id()]


def test_an_unreadable_prefix_is_a_gap_not_a_verdict():
    result = run(perimeter(nsp_rule_row("odd", prefixes=["0.0.0.0/0", "not-an-address"])))
    assert result.findings == []
    (ne,) = result.not_evaluated
    assert ne["vaultId"] == vault_id() and "not-an-address" in ne["reason"]
    assert ne["gap"] is True if "gap" in ne else True


@pytest.mark.parametrize("props, words", [
    ({"mode": "Sometimes"}, "accessMode 'Sometimes'"),
    ({"profile": None}, "profile.id is missing"),
])
def test_an_unreadable_association_value_is_a_gap_for_its_vault(props, words):
    rows = [nsp_association_row(vault_id(), **props), nsp_profile_row(),
            nsp_rule_row("wide", prefixes=["0.0.0.0/0"])]
    if props.get("profile", 1) is None:
        rows[0]["properties"].pop("profile")
    result = run(rows)
    assert result.findings == []
    assert any(words in n["reason"] and n["vaultId"] == vault_id() for n in result.not_evaluated), result.not_evaluated


def test_a_malformed_rule_value_is_a_gap_for_the_vaults_of_its_profile():
    result = run(perimeter(nsp_rule_row("odd", addressPrefixes="0.0.0.0/0")))   # a string, not an array
    assert result.findings == []
    assert any("addressPrefixes must be an array" in n["reason"] for n in result.not_evaluated)


def test_a_profile_that_was_not_read_is_not_evaluated():
    result = run(perimeter(profile=False))
    assert result.findings == []
    (ne,) = result.not_evaluated
    assert "which was not read" in ne["reason"]


def test_a_skipped_association_row_names_file_and_line_and_unsettles_unassociated_vaults():
    broken = nsp_association_row(vault_id())
    broken["properties"].pop("privateLinkResource")
    result = run([broken, nsp_profile_row()])
    assert any(g["table"] == "perimeter_associations" and g.get("line") == 1
               and "privateLinkResource.id is missing" in g["reason"] for g in result.gaps), result.gaps
    # the skipped row may have been the vault's association: not judged as locked down
    assert [n["vaultId"] for n in result.not_evaluated if n["ruleId"] == RULE] == [vault_id()]
