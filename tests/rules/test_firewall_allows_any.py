"""firewall-allows-any: passing, failing and edge rows."""

import pytest

from rules import firewall_allows_any
from rules.base import Thresholds
from tests.factories import run_rules, vault_id, vault_row

RULES = (firewall_allows_any,)


def acls(*values, action="Deny", as_objects=True):
    rules = [{"value": v} for v in values] if as_objects else list(values)
    return {"bypass": "AzureServices", "defaultAction": action, "ipRules": rules, "virtualNetworkRules": []}


def firewalled(*values, **props):
    props.setdefault("publicNetworkAccess", "Enabled")
    return vault_row(networkAcls=acls(*values), **props)


def test_fires_for_any_address():
    run = run_rules(RULES, vaults=[firewalled("0.0.0.0/0", "203.0.113.0/24")])
    (f,) = run.of("firewall-allows-any")
    assert f["severity"] == "high" and f["vaultId"] == vault_id()
    assert f["evidence"]["ipRule"] == "0.0.0.0/0" and f["evidence"]["prefixLength"] == 0
    assert f["evidence"]["minimumPrefixLength"] == 8
    assert "--ip-address 0.0.0.0/0" in f["remediation"] and "network-rule remove --name kv1" in f["remediation"]
    assert "0.0.0.0/0" in f["message"] and "/0" in f["message"]


def test_does_not_fire_for_narrow_rules():
    run = run_rules(RULES, vaults=[firewalled("203.0.113.0/24", "198.51.100.7", "10.0.0.0/8")])
    assert run.findings == [] and run.gaps == []


@pytest.mark.parametrize("value,length", [("1.0.0.0/7", 7), ("128.0.0.0/1", 1), ("0.0.0.0/0", 0)])
def test_host_bits_do_not_matter_only_prefix_length(value, length):
    run = run_rules(RULES, vaults=[firewalled(value)])
    (f,) = run.of("firewall-allows-any")
    assert f["evidence"]["prefixLength"] == length


def test_boundary_slash_8_does_not_fire():
    run = run_rules(RULES, vaults=[firewalled("11.22.33.44/8")])
    assert run.findings == []


def test_one_finding_per_distinct_offending_value():
    run = run_rules(RULES, vaults=[firewalled("0.0.0.0/0", "0.0.0.0/0", "1.0.0.0/7", "203.0.113.0/24")])
    subjects = sorted(f["subject"] for f in run.of("firewall-allows-any"))
    assert subjects == ["ip:0.0.0.0/0", "ip:1.0.0.0/7"]
    assert len({f["fingerprint"] for f in run.findings}) == 2


def test_same_ipv6_range_in_two_casings_is_one_subject():
    run = run_rules(RULES, vaults=[firewalled("2001:DB8::/16", "2001:db8::/16")])
    (f,) = run.of("firewall-allows-any")
    assert f["subject"] == "ip:2001:db8::/16"


def test_ipv6_threshold_is_32():
    run = run_rules(RULES, vaults=[firewalled("2001:db8::/31", "2001:db8::/32", "::/0", "2001:db8::1")])
    found = {f["evidence"]["ipRule"]: f for f in run.of("firewall-allows-any")}
    assert set(found) == {"2001:db8::/31", "::/0"}
    assert found["::/0"]["evidence"]["addressFamily"] == "IPv6"
    assert found["2001:db8::/31"]["evidence"]["minimumPrefixLength"] == 32


def test_plain_string_rules_are_read_too():
    row = vault_row(publicNetworkAccess="Enabled", networkAcls=acls("0.0.0.0/0", as_objects=False))
    assert len(run_rules(RULES, vaults=[row]).of("firewall-allows-any")) == 1


def test_bare_address_is_one_host():
    # with the minimum raised to /33 every IPv4 value fires, and a bare address shows as /32
    run = run_rules(RULES, vaults=[firewalled("198.51.100.7")], thresholds=Thresholds(firewall_min_prefix_v4=33))
    (f,) = run.of("firewall-allows-any")
    assert f["evidence"]["prefixLength"] == 32


def test_threshold_override():
    row = firewalled("10.0.0.0/12", "2001:db8::/40")
    assert run_rules(RULES, vaults=[row]).findings == []
    run = run_rules(RULES, vaults=[row], thresholds=Thresholds(firewall_min_prefix_v4=16, firewall_min_prefix_v6=48))
    found = {f["evidence"]["ipRule"]: f["evidence"]["minimumPrefixLength"] for f in run.of("firewall-allows-any")}
    assert found == {"10.0.0.0/12": 16, "2001:db8::/40": 48}


def test_lower_threshold_lets_broad_rule_pass():
    run = run_rules(RULES, vaults=[firewalled("1.0.0.0/7")], thresholds=Thresholds(firewall_min_prefix_v4=4))
    assert run.findings == []


@pytest.mark.parametrize("pna", ["Disabled", "disabled"])
def test_public_access_disabled_does_not_fire(pna):
    run = run_rules(RULES, vaults=[firewalled("0.0.0.0/0", publicNetworkAccess=pna)])
    assert run.findings == []


def test_missing_public_network_access_means_enabled():
    row = vault_row(omit=("publicNetworkAccess",), networkAcls=acls("0.0.0.0/0"))
    (f,) = run_rules(RULES, vaults=[row]).of("firewall-allows-any")
    assert f["evidence"]["publicNetworkAccess"] == "missing"


def test_default_action_casing():
    row = vault_row(publicNetworkAccess="ENABLED", networkAcls=acls("0.0.0.0/0", action="DENY"))
    assert len(run_rules(RULES, vaults=[row]).of("firewall-allows-any")) == 1


@pytest.mark.parametrize("network_acls", [acls("0.0.0.0/0", action="Allow"), {"ipRules": [{"value": "0.0.0.0/0"}]}],
                         ids=["allow", "no-default-action"])
def test_default_allow_is_public_network_open_not_this_rule(network_acls):
    run = run_rules(RULES, vaults=[vault_row(publicNetworkAccess="Enabled", networkAcls=network_acls)])
    assert run.findings == []


@pytest.mark.parametrize("network_acls", [None, {}, acls()], ids=["null", "empty", "no-rules"])
def test_no_ip_rules_nothing_to_report(network_acls):
    run = run_rules(RULES, vaults=[vault_row(publicNetworkAccess="Enabled", networkAcls=network_acls)])
    assert run.findings == [] and run.gaps == []


def test_value_that_is_not_an_address_is_a_gap_not_a_finding():
    run = run_rules(RULES, vaults=[firewalled("not-an-ip", "10.0.0.0/33", "0.0.0.0/0")])
    assert [f["evidence"]["ipRule"] for f in run.of("firewall-allows-any")] == ["0.0.0.0/0"]
    reasons = [n["reason"] for n in run.not_evaluated]
    assert len(reasons) == 2 and any("not-an-ip" in r for r in reasons) and any("10.0.0.0/33" in r for r in reasons)
    assert {g["scope"] for g in run.gaps} == {vault_id()}
    assert all(g["reason"].startswith("firewall-allows-any:") for g in run.gaps) and len(run.gaps) == 2
    assert run.report["run"]["complete"] is False
