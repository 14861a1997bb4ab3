"""Least-privilege role search: Microsoft's migration-guide table, from the real built-in definitions."""

import pytest

from audit_function import permissions as perms
from audit_function.migration import roles as R
from audit_function.snapshot.load import builtin_role_definitions
from tests.migration.helpers import mask


@pytest.fixture(scope="module")
def catalog():
    return R.RoleCatalog(builtin_role_definitions())


def names(mapping):
    return sorted(r.name for r in mapping.roles)


# Microsoft's table (learn.microsoft.com/azure/key-vault/general/rbac-migration), one row per case.
GUIDE = [
    ("Key, Secret, Certificate Management", dict(keys=["all"], secrets=["all"], certificates=["all"]),
     ["Key Vault Administrator"]),
    ("Key & Secret Management", dict(keys=["all"], secrets=["all"]),
     ["Key Vault Crypto Officer", "Key Vault Secrets Officer"]),
    ("Secret & Certificate Management", dict(certificates=["all"], secrets=["all"]),
     ["Key Vault Certificates Officer", "Key Vault Secrets Officer"]),
    ("Key Management", dict(keys=["all"]), ["Key Vault Crypto Officer"]),
    ("Secret Management", dict(secrets=["all"]), ["Key Vault Secrets Officer"]),
    ("Certificate Management", dict(certificates=["all"]), ["Key Vault Certificates Officer"]),
    ("SQL Server Connector", dict(keys=["get", "list", "wrapKey", "unwrapKey"]),
     ["Key Vault Crypto Service Encryption User"]),
    ("Exchange Online Customer Key", dict(keys=["Get", "List", "WrapKey", "UnwrapKey"]),
     ["Key Vault Crypto Service Encryption User"]),
    ("read-only secret consumer", dict(secrets=["get", "list"]), ["Key Vault Secrets User"]),
]
CUSTOM = [
    ("Azure Data Lake Storage or Azure Storage", dict(keys=["get", "list", "unwrapKey"]), "uses public keys: keys: wrap"),
    ("Azure Backup", dict(keys=["get", "list", "backup"], secrets=["get", "list", "backup"]), "uses private keys"),
    ("Azure Information BYOK", dict(keys=["get", "decrypt", "sign"]), "uses private keys: keys: unwrap"),
]


@pytest.mark.parametrize("template,permissions,expected", GUIDE, ids=[g[0] for g in GUIDE])
def test_migration_guide_built_in_rows(catalog, template, permissions, expected):
    mapping = catalog.solve(mask(**permissions))
    assert names(mapping) == expected
    assert not mapping.material, R.reasons(mapping.material)
    assert mapping.union & mask(**permissions) == mask(**permissions)


@pytest.mark.parametrize("template,permissions,why", CUSTOM, ids=[c[0] for c in CUSTOM])
def test_migration_guide_custom_role_rows(catalog, template, permissions, why):
    need = mask(**permissions)
    mapping = catalog.solve(need)
    assert mapping.material, "the guide says a custom role is required"
    assert any(r.startswith(why) for r in R.reasons(mapping.material)), R.reasons(mapping.material)
    role = R.custom_role(need, ["00000000-0000-0000-0000-00000000000a"])
    assert role["dataActions"] == perms.names(need)
    assert role["definition"]["DataActions"] == perms.names(need)
    assert role["definition"]["Actions"] == [] and role["definition"]["NotDataActions"] == []
    assert role["assignableScopes"] == ["/subscriptions/00000000-0000-0000-0000-00000000000a"]


def test_excess_of_the_all_templates_is_only_purge_release_and_legacy_storage(catalog):
    admin = catalog.solve(mask(keys=["all"], secrets=["all"], certificates=["all"]))
    assert perms.describe(admin.excess & ~perms.bit("Microsoft.KeyVault/vaults/certificates/release/action")
                          & ~R.KIND_MASK["storage"]) == "certificates: purge; keys: purge; secrets: purge"
    officer = catalog.solve(mask(secrets=["all"]))
    assert perms.names(officer.excess) == ["Microsoft.KeyVault/vaults/secrets/purge/action"]


def test_admin_for_fewer_categories_is_material(catalog):
    # Key & Secret management must not get Administrator: it would add certificate management.
    admin = builtin_role_definitions()["00482a5a-887f-4fb3-b363-3b7fe8e74483"]
    forced = R.Mapping((admin,), mask(keys=["all"], secrets=["all"]), mask(keys=["all"], secrets=["all"]), admin.data)
    assert "Microsoft.KeyVault/vaults/certificates/create/action" in perms.names(forced.material)
    assert forced.cost > catalog.solve(mask(keys=["all"], secrets=["all"])).cost


def test_certificate_reads_map_to_reader_not_certificate_user(catalog):
    # Certificate User can read every secret value; Reader reads metadata only.
    mapping = catalog.solve(mask(certificates=["get", "list"]))
    assert names(mapping) == ["Key Vault Reader"]
    assert not mapping.material and mapping.excess  # metadata-only excess is listed but immaterial


def test_key_get_maps_to_reader_not_crypto_user(catalog):
    mapping = catalog.solve(mask(keys=["get"]))
    assert names(mapping) == ["Key Vault Reader"]


def test_purge_is_material_without_delete(catalog):
    mapping = catalog.solve(mask(secrets=["get", "list", "set"]))
    assert names(mapping) == ["Key Vault Secrets Officer"]
    assert "Microsoft.KeyVault/vaults/secrets/purge/action" in perms.names(mapping.material)
    with_delete = catalog.solve(mask(secrets=["get", "list", "set", "delete", "backup", "restore", "recover"]))
    assert not with_delete.material  # = secrets "all": purge then only makes an allowed delete permanent


def test_storage_permissions_need_a_custom_role(catalog):
    mapping = catalog.solve(mask(storage=["get", "list", "set", "regeneratekey"]))
    assert names(mapping) == ["Key Vault Administrator"]
    assert "reads secret values: secrets: getSecret" in R.reasons(mapping.material)


def test_no_need_needs_no_role(catalog):
    mapping = catalog.solve(0)
    assert mapping.roles == () and not mapping.excess


def test_solve_with_a_smaller_need_counts_excess_against_the_grant(catalog):
    granted = mask(secrets=["get", "list", "set", "delete", "backup", "restore", "recover"])
    missing = mask(secrets=["set"])
    mapping = catalog.solve(missing, granted)
    assert names(mapping) == ["Key Vault Secrets Officer"] and not mapping.material


def test_ties_break_by_role_names_deterministically():
    # Two custom "built-ins" with identical data actions: the alphabetically first name wins.
    from audit_function.estate.grant_rows import role_definition_from_row

    rows = [{"id": f"/providers/Microsoft.Authorization/roleDefinitions/{g}",
             "properties": {"roleName": n, "type": "BuiltInRole",
                            "permissions": [{"dataActions": ["Microsoft.KeyVault/vaults/secrets/getSecret/action"]}]}}
            for g, n in (("00000000-0000-0000-0000-0000000000b2", "Zeta Reader"),
                         ("00000000-0000-0000-0000-0000000000b1", "Alpha Reader"))]
    defs = {r.guid: r for r in map(role_definition_from_row, rows)}
    mapping = R.RoleCatalog(defs).solve(mask(secrets=["get"]))
    assert names(mapping) == ["Alpha Reader"]


def test_custom_roles_are_never_candidates():
    from audit_function.estate.grant_rows import role_definition_from_row

    row = {"id": "/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/00000000-0000-0000-0000-0000000000c1",
           "properties": {"roleName": "Exact custom", "type": "CustomRole",
                          "permissions": [{"dataActions": ["Microsoft.KeyVault/vaults/keys/read",
                                                           "Microsoft.KeyVault/vaults/keys/unwrap/action"]}]}}
    defs = dict(builtin_role_definitions())
    custom = role_definition_from_row(row)
    defs[custom.guid] = custom
    mapping = R.RoleCatalog(defs).solve(mask(keys=["get", "unwrapKey"]))
    assert "Exact custom" not in names(mapping)


def test_custom_role_identity_is_the_permission_signature():
    a = R.custom_role(mask(keys=["get", "decrypt", "sign"]), ["s1"])
    b = R.custom_role(mask(keys=["Sign", "GET", "Decrypt"]), ["s2"])
    c = R.custom_role(mask(keys=["get", "decrypt"]), ["s1"])
    assert a["id"] == b["id"] and a["name"] == b["name"]
    assert a["id"] != c["id"] and a["name"] != c["name"]


def test_weights_rank_secret_values_above_public_key_use():
    wrap = perms.bit("Microsoft.KeyVault/vaults/keys/wrap/action")
    assert R.weight(R.SECRET_VALUES) > R.weight(wrap) > 0
    assert R.weight(R.SECRET_VALUES | wrap) == R.weight(R.SECRET_VALUES) + R.weight(wrap)
    assert R.reasons(perms.bit("Microsoft.KeyVault/vaults/keys/create/action")) == ["writes or exports: keys: create"]
