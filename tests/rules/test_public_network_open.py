"""public-network-open: passing, failing and edge rows."""

import pytest

from rules import public_network_open
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


def test_unknown_public_network_access_value_is_not_disabled():
    # "SecuredByPerimeter" and any other value except Disabled leave the public endpoint on
    run = run_rules(RULES, vaults=[vault_row(publicNetworkAccess="SecuredByPerimeter", networkAcls=OPEN_ACLS)])
    assert len(run.of("public-network-open")) == 1


def test_applies_to_both_permission_models_and_one_finding_per_vault():
    rows = [vault_row("kv1", publicNetworkAccess="Enabled", networkAcls=OPEN_ACLS),
            vault_row("kv2", rbac=False, publicNetworkAccess="Enabled", networkAcls=OPEN_ACLS)]
    run = run_rules(RULES, vaults=rows)
    assert sorted(f["vaultName"] for f in run.of("public-network-open")) == ["kv1", "kv2"]
    assert len({f["fingerprint"] for f in run.findings}) == 2
