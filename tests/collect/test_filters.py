"""The role-assignment filter twin against rows that must survive it and rows it may drop."""

from __future__ import annotations

import pytest

from audit_function.collect.filters import keep_role_assignment
from tests.fakes.arg_server import FakeArg
from tests.fakes.estate import assignment_row, synthetic_estate

SUB = "0b1f6471-1bf0-4dda-aec3-111122223333"


def row(scope):
    return {"id": "x", "properties": {"scope": scope}}


MUST_KEEP = [
    "/",
    "/providers/Microsoft.Management/managementGroups/72f988bf-86f1-41af-91ab-2d7cd011db47",
    "/PROVIDERS/MICROSOFT.MANAGEMENT/MANAGEMENTGROUPS/corp",
    f"/subscriptions/{SUB}",
    f"/subscriptions/{SUB}/",
    f"/SUBSCRIPTIONS/{SUB.upper()}",
    f"/subscriptions/{SUB}/resourceGroups/rg-app",
    f"/subscriptions/{SUB}/resourcegroups/RG-APP/",
    f"/subscriptions/{SUB}/resourceGroups/providers",            # a resource group named 'providers'
    f"/subscriptions/{SUB}/resourceGroups/providers/",
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-1",
    f"/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-1",
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/microsoft.keyvault/Vaults/kv-1/",
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-1/secrets/db-password",
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-1/keys/k1/versions/v2",
    f"/subscriptions/{SUB}/resourceGroups/providers/providers/Microsoft.KeyVault/vaults/kv-2",
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-1/providers/Microsoft.Insights/x/y",
    f"/subscriptions/{SUB}/providers/Microsoft.Security/pricings/default",   # subscription-level: kept (safe side)
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault",  # not a full resource id
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults",
    f"subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st",  # no leading '/'
    f"/subscriptions/{SUB}//resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st",  # doubled '/'
    f" /subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st",  # leading blank
    "",
    None,
]

MAY_DROP = [
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1",
    f"/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/VM1",
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/s1",
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/rsv-1",  # 'vaults', not Key Vault
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/hsm-1",
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.KeyVaultX/vaults/kv-1",
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaultsX/kv-1",
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/app/providers/Microsoft.KeyVault/x/y",
]


@pytest.mark.parametrize("scope", MUST_KEEP)
def test_rows_that_can_reach_a_vault_survive(scope):
    assert keep_role_assignment(row(scope)) is True


@pytest.mark.parametrize("scope", MAY_DROP)
def test_rows_on_other_resources_are_dropped(scope):
    assert keep_role_assignment(row(scope)) is False


@pytest.mark.parametrize("shape", [{}, {"properties": None}, {"properties": {}}, {"properties": {"scope": 42}},
                                   {"properties": {"scope": ["/subscriptions/x"]}}, {"properties": "text"}, "not a dict"])
def test_rows_without_a_usable_scope_are_kept(shape):
    assert keep_role_assignment(shape) is True


def test_fake_applies_the_twin_only_when_the_query_carries_the_clause(tmp_path):
    from audit_function.collect import queries

    tables = synthetic_estate(2, 4, 300, seed=3)
    tables["role_assignments"].append(assignment_row(MAY_DROP[0], "Reader", __import__("random").Random(1)))
    with FakeArg(tables, cert_dir=tmp_path) as fake:
        with_filter, _ = fake.rows_for("role_assignments", queries.query("role_assignments"), [], [], {}, "2024-04-01")
        unfiltered = queries.query("role_assignments").replace("| where not(", "| where true or not(")
        without, _ = fake.rows_for("role_assignments", unfiltered, [], [], {}, "2024-04-01")
    assert len(without) == len(tables["role_assignments"])
    assert {r["id"] for r in with_filter} == {r["id"] for r in tables["role_assignments"] if keep_role_assignment(r)}
    assert 0 < len(with_filter) < len(without)
