"""no-private-endpoint: passing, failing and edge rows."""

import pytest

from rules import no_private_endpoint
from tests.factories import private_endpoint, run_rules, vault_id, vault_row

RULES = (no_private_endpoint,)


def test_fires_without_any_connection():
    run = run_rules(RULES, vaults=[vault_row(privateEndpointConnections=[])])
    (f,) = run.of("no-private-endpoint")
    assert f["severity"] == "low" and f["vaultId"] == vault_id()
    assert f["evidence"]["privateEndpointConnections"] == [] and f["evidence"]["approvedPrivateEndpoints"] == 0
    assert "no private endpoint connection" in f["message"]
    assert f"--private-connection-resource-id {vault_id()}" in f["remediation"]
    assert "--group-id vault" in f["remediation"]


def test_does_not_fire_with_an_approved_connection():
    row = vault_row(privateEndpointConnections=[private_endpoint("Pending", "pe1"), private_endpoint("Approved", "pe2")])
    assert run_rules(RULES, vaults=[row]).findings == []


def test_approved_compares_case_insensitively():
    row = vault_row(privateEndpointConnections=[private_endpoint("approved")])
    assert run_rules(RULES, vaults=[row]).findings == []


@pytest.mark.parametrize("status", ["Pending", "Rejected", "Disconnected"])
def test_connections_not_approved_do_not_count(status):
    row = vault_row(privateEndpointConnections=[private_endpoint(status)])
    (f,) = run_rules(RULES, vaults=[row]).of("no-private-endpoint")
    assert f["evidence"]["privateEndpointConnections"][0]["status"] == status
    assert status in f["message"]


def test_connection_without_status():
    conn = private_endpoint()
    del conn["properties"]["privateLinkServiceConnectionState"]
    (f,) = run_rules(RULES, vaults=[vault_row(privateEndpointConnections=[conn])]).of("no-private-endpoint")
    assert f["evidence"]["privateEndpointConnections"][0]["status"] == "missing"


@pytest.mark.parametrize("kwargs", [{"privateEndpointConnections": None}, {"omit": ("privateEndpointConnections",)}],
                         ids=["null", "missing"])
def test_null_or_missing_connections_fire(kwargs):
    assert len(run_rules(RULES, vaults=[vault_row(**kwargs)]).of("no-private-endpoint")) == 1


def test_fires_on_both_models_and_whatever_the_public_access():
    rows = [vault_row("kv1", publicNetworkAccess="Disabled"), vault_row("kv2", rbac=None, omit=("publicNetworkAccess",))]
    run = run_rules(RULES, vaults=rows)
    found = {f["vaultName"]: f for f in run.of("no-private-endpoint")}
    assert set(found) == {"kv1", "kv2"}
    assert found["kv2"]["evidence"]["publicNetworkAccess"] == "missing"
