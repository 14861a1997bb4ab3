"""Engine fixes made while writing the privilege and migration rules."""

from audit_function.estate.grant_rows import role_definition_from_row
from audit_function.estate.scopes import scope_key, scope_level
from tests.factories import role_definition_row, vault_id

CUSTOM_GUID = "cccccccc-0000-0000-0000-000000000001"


def _az_cli_shape(role_type: str) -> dict:
    """`az role definition list` output: properties flattened, `type` is the resource type."""
    return {"id": f"/providers/Microsoft.Authorization/roleDefinitions/{CUSTOM_GUID}", "name": CUSTOM_GUID,
            "type": "Microsoft.Authorization/roleDefinitions", "roleName": "Vault Data Star", "roleType": role_type,
            "assignableScopes": ["/"],
            "permissions": [{"actions": [], "notActions": [], "dataActions": ["Microsoft.KeyVault/vaults/*"],
                             "notDataActions": []}]}


def test_custom_role_in_az_cli_shape_is_custom():
    role = role_definition_from_row(_az_cli_shape("CustomRole"))
    assert role.custom
    assert role.wildcards == ("Microsoft.KeyVault/vaults/*",)
    assert not role_definition_from_row(_az_cli_shape("BuiltInRole")).custom


def test_custom_role_in_arg_shape_any_casing():
    row = role_definition_row(CUSTOM_GUID, "Star", data_actions=["Microsoft.KeyVault/*"])
    row["properties"]["type"] = "customrole"
    assert role_definition_from_row(row).custom
    row["properties"]["type"] = "BuiltInRole"
    assert not role_definition_from_row(row).custom


def test_scope_level_of_vault_outside_the_snapshot():
    known = {scope_key(vault_id("kv1"))}
    assert scope_level(scope_key(vault_id("kv1")), known) == "vault"
    assert scope_level(scope_key(vault_id("kv1") + "/secrets/s"), known) == "object"
    # a vault the snapshot does not hold (another subscription, a filtered scope) is still a vault
    assert scope_level(scope_key(vault_id("elsewhere")), known) == "vault"
    assert scope_level(scope_key(vault_id("elsewhere") + "/keys/k"), known) == "object"
    assert scope_level(scope_key("/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa"),
                       known) == "resource"
