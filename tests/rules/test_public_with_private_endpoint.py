"""public-with-private-endpoint: passing, failing and edge rows."""

import pytest

from rules import public_with_private_endpoint
from tests.factories import private_endpoint, run_rules, vault_id, vault_row

RULES = (public_with_private_endpoint,)


def test_fires_when_approved_endpoint_and_public_enabled():
    row = vault_row(publicNetworkAccess="Enabled", privateEndpointConnections=[private_endpoint("Approved")])
    run = run_rules(RULES, vaults=[row])
    (f,) = run.of("public-with-private-endpoint")
    assert f["severity"] == "medium" and f["vaultId"] == vault_id()
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
