"""firewall-allows-any (catalog 2): one finding per vault, judged on the union of its IP rules.

Per address family the union of the ``ipRules`` networks (host bits ignored, a bare address one host,
overlaps once) must not hold more addresses than one network of the configured prefix: 2^24 for IPv4
(/8), 2^96 for IPv6 (/32). A value that is not a network makes the rule not evaluated for the vault.
"""

import pytest

from rules import firewall_allows_any
from rules.base import Thresholds, fingerprint
from tests.factories import run_rules, vault_id, vault_row

RULES = (firewall_allows_any,)
RULE = "firewall-allows-any"
V4_LIMIT = 2 ** 24
V6_LIMIT = 2 ** 96


def acls(*values, action="Deny", as_objects=True):
    rules = [{"value": v} for v in values] if as_objects else list(values)
    return {"bypass": "AzureServices", "defaultAction": action, "ipRules": rules, "virtualNetworkRules": []}


def firewalled(*values, **props):
    props.setdefault("publicNetworkAccess", "Enabled")
    return vault_row(networkAcls=acls(*values), **props)


def one(*values, thresholds=None, **props) -> dict:
    (f,) = run_rules(RULES, vaults=[firewalled(*values, **props)], thresholds=thresholds).of(RULE)
    return f


def none(*values, thresholds=None, **props) -> bool:
    run = run_rules(RULES, vaults=[firewalled(*values, **props)], thresholds=thresholds)
    return run.findings == [] and run.gaps == []


def test_fires_for_any_address():
    f = one("0.0.0.0/0", "203.0.113.0/24")
    assert f["severity"] == "high" and f["subject"] == "vault" and f["vaultId"] == vault_id()
    assert f["fingerprint"] == fingerprint(RULE, vault_id())
    ev = f["evidence"]
    assert ev["addressFamily"] == "IPv4" and ev["addressesCovered"] == 2 ** 32
    assert ev["shareOfAddressSpace"] == 1.0 and ev["ruleCount"] == 2 and ev["minimumPrefixLength"] == 8
    assert ev["broadestRules"] == ["0.0.0.0/0", "203.0.113.0/24"]
    assert ev["publicNetworkAccess"] == "Enabled" and ev["networkDefaultAction"] == "Deny"
    assert "--ip-address 0.0.0.0/0" in f["remediation"] and "network-rule remove --name kv1" in f["remediation"]
    assert "4,294,967,296 addresses" in f["message"] and "/8" in f["message"]


def test_does_not_fire_for_narrow_rules():
    assert none("203.0.113.0/24", "198.51.100.7", "10.0.0.0/9", "2001:db8::/48")


def test_seven_broad_rules_together_allowing_almost_all_of_ipv4_are_one_finding():
    rules = ["128.0.0.0/1", "64.0.0.0/2", "32.0.0.0/3", "16.0.0.0/4", "8.0.0.0/5", "4.0.0.0/6", "2.0.0.0/7"]
    f = one(*rules)
    ev = f["evidence"]
    assert ev["addressesCovered"] == 2 ** 32 - 2 ** 25 and ev["ruleCount"] == 7
    assert ev["shareOfAddressSpace"] == pytest.approx(1 - 2 ** -7, rel=1e-5)
    assert ev["broadestRules"] == rules


def test_narrow_rules_that_each_pass_alone_fire_together():
    # three /9s: each 2^23 addresses, together 3 * 2^23 > 2^24
    f = one("10.0.0.0/9", "11.0.0.0/9", "12.0.0.0/9")
    assert f["evidence"]["addressesCovered"] == 3 * 2 ** 23 and f["evidence"]["ruleCount"] == 3
    # a hundred /16s and a /8: still more than one /8 in total
    many = [f"20.{i}.0.0/16" for i in range(100)] + ["30.0.0.0/8"]
    assert one(*many)["evidence"]["addressesCovered"] == V4_LIMIT + 100 * 2 ** 16


def test_two_slash_8s_fire_but_one_slash_8_is_exactly_the_limit():
    assert none("11.22.33.44/8")
    f = one("10.0.0.0/8", "11.0.0.0/8")
    assert f["evidence"]["addressesCovered"] == 2 * V4_LIMIT


def test_the_same_space_as_one_slash_8_does_not_fire():
    # two adjacent /9s are exactly one /8; overlaps and repeats count once
    assert none("10.0.0.0/9", "10.128.0.0/9")
    assert none("10.0.0.0/8", "10.1.0.0/16", "10.2.3.4", "10.255.255.255/8")


def test_one_more_address_than_a_slash_8_fires():
    f = one("10.0.0.0/8", "11.0.0.0")
    assert f["evidence"]["addressesCovered"] == V4_LIMIT + 1


@pytest.mark.parametrize("value,network", [("1.0.0.0/7", "0.0.0.0/7"), ("128.1.2.3/1", "128.0.0.0/1"),
                                           ("10.20.30.40/0", "0.0.0.0/0")])
def test_host_bits_are_ignored(value, network):
    f = one(value)
    assert f["evidence"]["broadestRules"] == [network]
    assert f["evidence"]["addressesCovered"] == 2 ** (32 - int(network.rsplit("/", 1)[1]))


def test_bare_address_is_one_host():
    at_32 = Thresholds(firewall_min_prefix_v4=32)
    assert none("198.51.100.7", thresholds=at_32)
    assert none("198.51.100.7", "198.51.100.7/32", thresholds=at_32)
    f = one("198.51.100.7", "198.51.100.8", thresholds=at_32)
    assert f["evidence"]["addressesCovered"] == 2 and f["evidence"]["minimumPrefixLength"] == 32


def test_ipv6_threshold_is_32():
    assert none("2001:db8::/32", "2001:db8::1", "2001:db8:1::/48")
    f = one("2001:db8::/31")
    # IPv6 counts exceed what JSON numbers hold exactly: they are decimal strings
    assert f["evidence"]["addressFamily"] == "IPv6" and f["evidence"]["addressesCovered"] == str(2 * V6_LIMIT)
    assert f["evidence"]["minimumPrefixLength"] == 32
    assert f["evidence"]["shareOfAddressSpace"] == pytest.approx(2 ** -31, rel=1e-5)   # tiny, but not rounded to 0
    assert one("2001:db8::/32", "2001:db9::/32")["evidence"]["addressesCovered"] == str(2 * V6_LIMIT)
    assert one("::/0")["evidence"]["shareOfAddressSpace"] == 1.0


def test_ipv6_casing_and_host_bits_are_one_network():
    assert none("2001:DB8::/32", "2001:db8::/32", "2001:db8:ffff::1/32")


def test_families_are_judged_separately():
    # a /8 of each family is within each limit, and IPv4 and IPv6 never add up
    assert none("10.0.0.0/8", "2001:db8::/32")
    f = one("10.0.0.0/8", "2001:db8::/16")
    assert f["evidence"]["addressFamily"] == "IPv6" and f["evidence"]["ruleCount"] == 1


def test_both_families_too_broad_is_still_one_finding_per_vault():
    f = one("0.0.0.0/0", "::/0")
    ev = f["evidence"]
    assert ev["addressFamily"] == "IPv4" and set(ev["byFamily"]) == {"IPv4", "IPv6"}
    assert ev["byFamily"]["IPv6"]["addressesCovered"] == str(2 ** 128) and ev["byFamily"]["IPv4"]["addressesCovered"] == 2 ** 32
    assert "IPv4" in f["message"] and "IPv6" in f["message"]


def test_ipv4_mapped_ipv6_counts_as_ipv6():
    # ::ffff:0:0/96 maps all of IPv4, but as IPv6 it is 2^32 addresses, far below 2^96
    assert none("::ffff:0.0.0.0/96", "::ffff:10.0.0.0/104", "10.0.0.0/8")


def test_plain_string_rules_are_read_too():
    row = vault_row(publicNetworkAccess="Enabled", networkAcls=acls("10.0.0.0/8", "11.0.0.0/8", as_objects=False))
    assert len(run_rules(RULES, vaults=[row]).of(RULE)) == 1


def test_threshold_override():
    row = firewalled("10.0.0.0/12", "2001:db8::/40")
    assert run_rules(RULES, vaults=[row]).findings == []
    run = run_rules(RULES, vaults=[row], thresholds=Thresholds(firewall_min_prefix_v4=16, firewall_min_prefix_v6=48))
    (f,) = run.of(RULE)
    assert {k: v["minimumPrefixLength"] for k, v in f["evidence"]["byFamily"].items()} == {"IPv4": 16, "IPv6": 48}


def test_ipv6_threshold_stays_32_when_only_ipv4_is_configured():
    row = firewalled("2001:db8::/31", "10.0.0.0/12")
    (f,) = run_rules(RULES, vaults=[row], thresholds=Thresholds(firewall_min_prefix_v4=4)).of(RULE)
    assert f["evidence"]["addressFamily"] == "IPv6" and f["evidence"]["minimumPrefixLength"] == 32


def test_lower_threshold_lets_broad_rule_pass():
    assert none("1.0.0.0/7", thresholds=Thresholds(firewall_min_prefix_v4=4))


@pytest.mark.parametrize("pna", ["Disabled", "disabled", "SecuredByPerimeter", "securedbyperimeter",
                                 "SECUREDBYPERIMETER"])
def test_public_access_disabled_or_secured_by_perimeter_does_not_fire(pna):
    assert none("0.0.0.0/0", publicNetworkAccess=pna)


def test_missing_or_null_public_network_access_means_enabled():
    row = vault_row(omit=("publicNetworkAccess",), networkAcls=acls("0.0.0.0/0"))
    (f,) = run_rules(RULES, vaults=[row]).of(RULE)
    assert f["evidence"]["publicNetworkAccess"] == "missing"
    assert one("0.0.0.0/0", publicNetworkAccess=None)["evidence"]["publicNetworkAccess"] == "missing"


def test_default_action_casing():
    row = vault_row(publicNetworkAccess="ENABLED", networkAcls=acls("0.0.0.0/0", action="DENY"))
    assert len(run_rules(RULES, vaults=[row]).of(RULE)) == 1


@pytest.mark.parametrize("network_acls", [acls("0.0.0.0/0", action="Allow"), {"ipRules": [{"value": "0.0.0.0/0"}]},
                                          acls("0.0.0.0/0", action=None)],
                         ids=["allow", "no-default-action", "null-default-action"])
def test_default_allow_is_public_network_open_not_this_rule(network_acls):
    run = run_rules(RULES, vaults=[vault_row(publicNetworkAccess="Enabled", networkAcls=network_acls)])
    assert run.findings == []


@pytest.mark.parametrize("network_acls", [None, {}, acls(), {"defaultAction": "Deny", "ipRules": None},
                                          {"defaultAction": "Deny", "ipRules": [None]}],
                         ids=["null", "empty", "no-rules", "null-rules", "null-rule"])
def test_no_ip_rules_nothing_to_report(network_acls):
    run = run_rules(RULES, vaults=[vault_row(publicNetworkAccess="Enabled", networkAcls=network_acls)])
    assert run.findings == [] and run.gaps == []


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "300.1.2.3", "", "not-an-ip", "2001:db8::/129", "10.0.0.0/-1",
                                 "10.0.0.0/ 8"])
def test_a_value_that_is_not_a_network_makes_the_vault_not_evaluated(bad):
    # never judged on the remaining values, even when they would fire on their own
    run = run_rules(RULES, vaults=[firewalled(bad, "0.0.0.0/0")])
    assert run.findings == []
    (n,) = run.not_evaluated
    assert n["ruleId"] == RULE and n["vaultId"] == vault_id() and repr(bad) in n["reason"]
    assert [g["scope"] for g in run.gaps] == [vault_id()] and run.gaps[0]["reason"].startswith(f"{RULE}:")
    assert run.report["run"]["complete"] is False


@pytest.mark.parametrize("rule", [{"value": None}, {"value": 10}, {}, 42], ids=["null-value", "number", "no-value",
                                                                            "not-a-string"])
def test_a_rule_without_a_string_value_is_a_gap(rule):
    row = vault_row(publicNetworkAccess="Enabled",
                    networkAcls={"defaultAction": "Deny", "ipRules": [rule, {"value": "10.0.0.0/8"}]})
    run = run_rules(RULES, vaults=[row])
    assert run.findings == [] and [n["ruleId"] for n in run.not_evaluated] == [RULE]
    assert run.report["run"]["complete"] is False


def test_every_bad_value_is_named():
    run = run_rules(RULES, vaults=[firewalled("not-an-ip", "10.0.0.0/33", "0.0.0.0/0")])
    assert run.findings == []
    reasons = [n["reason"] for n in run.not_evaluated]
    assert len(reasons) == 2 and any("not-an-ip" in r for r in reasons) and any("10.0.0.0/33" in r for r in reasons)
    assert {g["scope"] for g in run.gaps} == {vault_id()}


def test_other_vaults_are_still_judged_when_one_has_a_bad_value():
    rows = [firewalled("bad", name="kv1"), vault_row("kv2", publicNetworkAccess="Enabled",
                                                    networkAcls=acls("0.0.0.0/0"))]
    run = run_rules(RULES, vaults=rows)
    assert [f["vaultName"] for f in run.of(RULE)] == ["kv2"]


def test_unreadable_network_acls_is_not_evaluated():
    row = vault_row(publicNetworkAccess="Enabled", networkAcls="Deny")
    run = run_rules(RULES, vaults=[row])
    assert run.findings == [] and [n["ruleId"] for n in run.not_evaluated] == [RULE]


def test_vault_row_without_properties_is_a_gap_never_audited():
    row = firewalled("0.0.0.0/0")
    row["properties"] = None
    run = run_rules(RULES, vaults=[row])
    assert run.findings == [] and [g["scope"] for g in run.gaps] == [vault_id()]


def test_applies_to_both_permission_models():
    rows = [firewalled("0.0.0.0/0", name="kv1"),
            vault_row("kv2", rbac=False, publicNetworkAccess="Enabled", networkAcls=acls("0.0.0.0/0"))]
    run = run_rules(RULES, vaults=rows)
    assert sorted(f["vaultName"] for f in run.of(RULE)) == ["kv1", "kv2"]


def test_ipv6_findings_survive_json_encoding():
    import orjson

    run = run_rules(RULES, vaults=[firewalled("::/0")])
    (f,) = orjson.loads(orjson.dumps(run.report["findings"]))
    assert f["evidence"]["addressesCovered"] == str(2 ** 128)
