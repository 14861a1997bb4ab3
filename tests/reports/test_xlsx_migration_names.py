"""The Migration sheet names principals and proposed roles (the report lists roles by GUID)."""

from reports.xlsx_rows import Lookup, migration_rows
from reports.xlsx_text import CellText

SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
ROLES = {SECRETS_USER: {"roleName": "Key Vault Secrets User", "dataActions": [], "controlActions": []}}


def _rows(entry):
    plan = {"vaultId": "/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/kv",
            "vaultName": "kv", "readiness": "needs-assignments", "reasons": ["r"], "entries": [entry]}
    return [values for values, _ in migration_rows(plan, CellText(32_000), Lookup([], ROLES))]


def test_principal_and_built_in_role_are_named():
    (row,) = _rows({"principalId": "oid-1", "principalName": "Dave Lee", "proposedRoles": [SECRETS_USER.upper()]})
    assert row[3] == "Dave Lee (oid-1)"
    assert row[5] == "Key Vault Secrets User"


def test_custom_role_by_its_own_name_and_unknown_ids_stay_ids():
    custom = {"id": "c0ffee00-0000-0000-0000-000000000000", "name": "kv-audit c0ffee00 Key Vault access"}
    (row,) = _rows({"principalId": "oid-2", "principalName": None, "customRole": custom,
                    "proposedRoles": [custom["id"], "11111111-2222-3333-4444-555555555555"]})
    assert row[3] == "oid-2"
    assert row[5] == "kv-audit c0ffee00 Key Vault access, 11111111-2222-3333-4444-555555555555"
