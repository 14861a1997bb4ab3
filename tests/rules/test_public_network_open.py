"""public-network-open (catalog 2): passing, failing and edge rows; SecuredByPerimeter is not public."""

import pytest

from rules import public_network_open
from rules.base import fingerprint
from tests.factories import run_rules, vault_id, vault_row

RULES = (public_network_open,)
OPEN_ACLS = {"bypass": "AzureServices", "defaultAction": "Allow", "ipRules": [], "virtualNetworkRules": []}


def test_fires_when_public_and_default_allow():
    run = run_rules(RULES, vaults=[vault_row(publicNetworkAccess="Enabled", networkAcls=OPEN_ACLS)])
    (f,) = run.of("public-network-open")
    assert f["severity"] == "high" and f["vaultId"] == vault_id()
    assert f["evidence"]["publicNetworkAccess"] == "Enabled"
    assert f["evidence"]["networkDefaultAction"] == "Allow"
    assert "--public-network-access Disabled" in f["remediation"]
    assert "--name kv1 --resource-group rg-app" in f["remediation"]


def test_does_not_fire_when_public_access_disabled():
    run = run_rules(RULES, vaults=[vault_row(publicNetworkAccess="Disabled", networkAcls=OPEN_ACLS)])
    assert run.findings == []


def test_does_not_fire_when_firewall_denies_by_default():
    run = run_rules(RULES, vaults=[vault_row(publicNetworkAccess="Enabled")])  # factory default: defaultAction Deny
    assert run.findings == []


def test_missing_public_network_access_means_enabled():
    run = run_rules(RULES, vaults=[vault_row(omit=("publicNetworkAccess",), networkAcls=OPEN_ACLS)])
    (f,) = run.of("public-network-open")
    assert f["evidence"]["publicNetworkAccess"] == "missing"
    assert "missing (means Enabled)" in f["message"]


def test_null_public_network_access_means_enabled():
    run = run_rules(RULES, vaults=[vault_row(publicNetworkAccess=None, networkAcls=OPEN_ACLS)])
    assert len(run.of("public-network-open")) == 1


@pytest.mark.parametrize("acls", [None, {}, {"bypass": "None", "ipRules": ["10.0.0.0/8"]}], ids=["null", "empty", "no-default"])
def test_network_acls_null_empty_or_without_default_action_mean_allow(acls):
    run = run_rules(RULES, vaults=[vault_row(publicNetworkAccess="Enabled", networkAcls=acls)])
    (f,) = run.of("public-network-open")
    assert f["evidence"]["networkDefaultAction"] == "Allow"


def test_network_acls_missing_means_allow():
    run = run_rules(RULES, vaults=[vault_row(publicNetworkAccess="Enabled", omit=("networkAcls",))])
    assert len(run.of("public-network-open")) == 1


def test_everything_missing_fires():
    run = run_rules(RULES, vaults=[vault_row(omit=("publicNetworkAccess", "networkAcls"))])
    assert len(run.of("public-network-open")) == 1


@pytest.mark.parametrize("pna", ["disabled", "DISABLED", "Disabled"])
def test_disabled_compares_case_insensitively(pna):
    run = run_rules(RULES, vaults=[vault_row(publicNetworkAccess=pna, networkAcls=OPEN_ACLS)])
    assert run.findings == []


@pytest.mark.parametrize("action", ["DENY", "deny"])
def test_deny_compares_case_insensitively(action):
    acls = dict(OPEN_ACLS, defaultAction=action)
    run = run_rules(RULES, vaults=[vault_row(publicNetworkAccess="enabled", networkAcls=acls)])
    assert run.findings == []


def test_odd_casing_of_enabled_and_allow_still_fires():
    acls = dict(OPEN_ACLS, defaultAction="ALLOW")
    run = run_rules(RULES, vaults=[vault_row(publicNetworkAccess="ENABLED", networkAcls=acls)])
    (f,) = run.of("public-network-open")
    assert f["evidence"]["publicNetworkAccess"] == "ENABLED"


@pytest.mark.parametrize("pna", ["SecuredByPerimeter", "securedbyperimeter", "SECUREDBYPERIMETER"])
def test_secured_by_perimeter_counts_as_public_access_disabled(pna):
    # a network security perimeter governs public traffic; the vault's own networkAcls are not used
    run = run_rules(RULES, vaults=[vault_row(publicNetworkAccess=pna, networkAcls=OPEN_ACLS)])
    assert run.findings == [] and run.not_evaluated == []
    run = run_rules(RULES, vaults=[vault_row(publicNetworkAccess=pna, omit=("networkAcls",))])
    assert run.findings == []


@pytest.mark.parametrize("pna", ["Enabled", "Open", "", "  "])
def test_any_other_public_network_access_value_is_not_disabled(pna):
    run = run_rules(RULES, vaults=[vault_row(publicNetworkAccess=pna, networkAcls=OPEN_ACLS)])
    assert len(run.of("public-network-open")) == 1


@pytest.mark.parametrize("props", [{"publicNetworkAccess": 5}, {"publicNetworkAccess": True},
                                   {"publicNetworkAccess": "Enabled", "networkAcls": "Allow"},
                                   {"publicNetworkAccess": "Enabled", "networkAcls": {"defaultAction": "Allow",
                                                                                    "ipRules": "x"}}],
                         ids=["number", "bool", "acls-string", "iprules-string"])
def test_unreadable_property_is_not_evaluated_not_passed(props):
    run = run_rules(RULES, vaults=[vault_row(**props)])
    assert run.findings == []
    (n,) = run.not_evaluated
    assert n["ruleId"] == "public-network-open" and n["vaultId"] == vault_id()


def test_bad_ip_rule_value_does_not_stop_this_rule():
    acls = dict(OPEN_ACLS, ipRules=[{"value": "300.1.2.3"}])
    run = run_rules(RULES, vaults=[vault_row(publicNetworkAccess="Enabled", networkAcls=acls)])
    (f,) = run.of("public-network-open")
    assert f["evidence"]["ipRuleCount"] == 1


def test_vault_row_without_properties_is_a_gap_never_audited():
    for props in (None, "x"):
        row = vault_row()
        if props is None:
            row.pop("properties")
        else:
            row["properties"] = props
        run = run_rules(RULES, vaults=[row])
        assert run.findings == [] and [g["scope"] for g in run.gaps] == [vault_id()]
        assert run.report["run"]["complete"] is False


def test_one_finding_per_vault_keyed_by_the_vault():
    run = run_rules(RULES, vaults=[vault_row(publicNetworkAccess="Enabled", networkAcls=OPEN_ACLS)])
    (f,) = run.findings
    assert f["subject"] == "vault" and f["fingerprint"] == fingerprint("public-network-open", vault_id())
    assert f["assignmentId"] is None and f["affected"] is None


def test_applies_to_both_permission_models_and_one_finding_per_vault():
    rows = [vault_row("kv1", publicNetworkAccess="Enabled", networkAcls=OPEN_ACLS),
            vault_row("kv2", rbac=False, publicNetworkAccess="Enabled", networkAcls=OPEN_ACLS)]
    run = run_rules(RULES, vaults=rows)
    assert sorted(f["vaultName"] for f in run.of("public-network-open")) == ["kv1", "kv2"]
    assert len({f["fingerprint"] for f in run.findings}) == 2
