"""public-with-private-endpoint (catalog 2): passing, failing and edge rows; SecuredByPerimeter is not public."""

import pytest

from rules import public_with_private_endpoint
from rules.base import fingerprint
from tests.factories import private_endpoint, run_rules, vault_id, vault_row

RULES = (public_with_private_endpoint,)


def test_fires_when_approved_endpoint_and_public_enabled():
    row = vault_row(publicNetworkAccess="Enabled", privateEndpointConnections=[private_endpoint("Approved")])
    run = run_rules(RULES, vaults=[row])
    (f,) = run.of("public-with-private-endpoint")
    assert f["severity"] == "medium" and f["vaultId"] == vault_id()
    assert f["subject"] == "vault" and f["fingerprint"] == fingerprint("public-with-private-endpoint", vault_id())
    assert f["evidence"]["publicNetworkAccess"] == "Enabled"
    assert f["evidence"]["approvedPrivateEndpoints"][0].endswith("/privateEndpoints/pe1")
    assert "--public-network-access Disabled" in f["remediation"]


def test_does_not_fire_when_public_disabled():
    row = vault_row(publicNetworkAccess="Disabled", privateEndpointConnections=[private_endpoint("Approved")])
    assert run_rules(RULES, vaults=[row]).findings == []


def test_lower_case_disabled_counts():
    row = vault_row(publicNetworkAccess="disabled", privateEndpointConnections=[private_endpoint("Approved")])
    assert run_rules(RULES, vaults=[row]).findings == []


def test_does_not_fire_without_private_endpoints():
    for connections in ([], None):
        row = vault_row(publicNetworkAccess="Enabled", privateEndpointConnections=connections)
        assert run_rules(RULES, vaults=[row]).findings == []
    row = vault_row(publicNetworkAccess="Enabled", omit=("privateEndpointConnections",))
    assert run_rules(RULES, vaults=[row]).findings == []


@pytest.mark.parametrize("status", ["Pending", "Rejected", "Disconnected", ""])
def test_endpoints_not_approved_do_not_count(status):
    row = vault_row(publicNetworkAccess="Enabled", privateEndpointConnections=[private_endpoint(status)])
    assert run_rules(RULES, vaults=[row]).findings == []


def test_approved_status_compares_case_insensitively():
    row = vault_row(publicNetworkAccess="Enabled", privateEndpointConnections=[private_endpoint("approved")])
    assert len(run_rules(RULES, vaults=[row]).of("public-with-private-endpoint")) == 1


def test_only_approved_endpoints_in_evidence():
    conns = [private_endpoint("Approved", "pe1"), private_endpoint("Pending", "pe2"), private_endpoint("APPROVED", "pe3")]
    row = vault_row(publicNetworkAccess="Enabled", privateEndpointConnections=conns)
    (f,) = run_rules(RULES, vaults=[row]).of("public-with-private-endpoint")
    assert [e.rsplit("/", 1)[-1] for e in f["evidence"]["approvedPrivateEndpoints"]] == ["pe1", "pe3"]
    assert "2 approved private endpoint(s)" in f["message"]


def test_missing_public_network_access_means_enabled():
    row = vault_row(omit=("publicNetworkAccess",), privateEndpointConnections=[private_endpoint()])
    (f,) = run_rules(RULES, vaults=[row]).of("public-with-private-endpoint")
    assert f["evidence"]["publicNetworkAccess"] == "missing"


def test_network_acls_are_not_considered():
    # firewall Deny with no IP rule still leaves publicNetworkAccess enabled: the rule fires
    row = vault_row(publicNetworkAccess="Enabled", privateEndpointConnections=[private_endpoint()])
    (f,) = run_rules(RULES, vaults=[row]).of("public-with-private-endpoint")
    assert f["evidence"]["networkDefaultAction"] == "Deny" and f["evidence"]["ipRules"] == []
    open_row = vault_row(publicNetworkAccess="Enabled", networkAcls={}, privateEndpointConnections=[private_endpoint()])
    (g,) = run_rules(RULES, vaults=[open_row]).of("public-with-private-endpoint")
    assert g["evidence"]["networkDefaultAction"] == "Allow"


@pytest.mark.parametrize("pna", ["SecuredByPerimeter", "securedByPerimeter", "SECUREDBYPERIMETER"])
def test_secured_by_perimeter_counts_as_public_access_disabled(pna):
    row = vault_row(publicNetworkAccess=pna, networkAcls={}, privateEndpointConnections=[private_endpoint()])
    run = run_rules(RULES, vaults=[row])
    assert run.findings == [] and run.not_evaluated == []


@pytest.mark.parametrize("pna", ["Enabled", "enabled", "Open"])
def test_any_other_public_network_access_value_fires(pna):
    row = vault_row(publicNetworkAccess=pna, privateEndpointConnections=[private_endpoint()])
    (f,) = run_rules(RULES, vaults=[row]).of("public-with-private-endpoint")
    assert f["evidence"]["publicNetworkAccess"] == pna


def test_one_finding_per_vault_however_many_approved_endpoints():
    conns = [private_endpoint("Approved", f"pe{i}") for i in range(3)]
    row = vault_row(publicNetworkAccess="Enabled", privateEndpointConnections=conns)
    (f,) = run_rules(RULES, vaults=[row]).of("public-with-private-endpoint")
    assert len(f["evidence"]["approvedPrivateEndpoints"]) == 3


def test_connection_without_properties_is_not_approved():
    row = vault_row(publicNetworkAccess="Enabled", privateEndpointConnections=[{"id": "pe-x"}])
    assert run_rules(RULES, vaults=[row]).findings == []


@pytest.mark.parametrize("props", [{"privateEndpointConnections": "Approved"},
                                   {"privateEndpointConnections": ["Approved"]},
                                   {"publicNetworkAccess": 1}], ids=["string", "item-string", "pna-number"])
def test_unreadable_property_is_not_evaluated_not_passed(props):
    props = {"publicNetworkAccess": "Enabled", "privateEndpointConnections": [private_endpoint()], **props}
    run = run_rules(RULES, vaults=[vault_row(**props)])
    assert run.findings == []
    (n,) = run.not_evaluated
    assert n["ruleId"] == "public-with-private-endpoint" and n["vaultId"] == vault_id()


def test_unreadable_network_acls_do_not_matter_here():
    row = vault_row(publicNetworkAccess="Enabled", networkAcls="Deny", privateEndpointConnections=[private_endpoint()])
    assert len(run_rules(RULES, vaults=[row]).of("public-with-private-endpoint")) == 1


def test_vault_row_without_properties_is_a_gap_never_audited():
    row = vault_row(publicNetworkAccess="Enabled", privateEndpointConnections=[private_endpoint()])
    row.pop("properties")
    run = run_rules(RULES, vaults=[row])
    assert run.findings == [] and [g["scope"] for g in run.gaps] == [vault_id()]
