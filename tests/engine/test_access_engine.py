"""The access engine: scope coverage, role compilation, group expansion, object scope, unknown roles."""

from audit_function import permissions as p
from audit_function.access import AccessIndex, access_rows
from audit_function.snapshot import RawSnapshot, load_estate
from tests.factories import (CONTRIBUTOR, KV_ADMIN, KV_CONTRIBUTOR, KV_DATA_ACCESS_ADMIN, KV_READER, KV_SECRETS_OFFICER,
                             KV_SECRETS_USER, OWNER, SUB, SUB2, TENANT, assignment_row, mg_scope, policy, principal_row,
                             rg_scope, role_definition_row, subscription_row, vault_id, vault_row)

GET = p.bit("Microsoft.KeyVault/vaults/secrets/getSecret/action")
LIST = p.bit("Microsoft.KeyVault/vaults/secrets/readMetadata/action")
SECRETS_ALL = p.pattern_mask("Microsoft.KeyVault/vaults/secrets/*")


def access_for(vault=None, assignments=(), definitions=(), principals=None, subscriptions=None):
    tables = {"subscriptions": subscriptions or [subscription_row(), subscription_row(SUB2, mgs=("mg-online", TENANT))],
              "role_definitions": list(definitions), "vaults": [vault or vault_row()],
              "role_assignments": list(assignments)}
    if principals is not None:
        tables["principals"] = principals
    estate = load_estate(RawSnapshot(tables=tables))
    index = AccessIndex(estate)
    return index, index.vault_access(estate.vaults[0])


def test_every_ancestor_scope_covers_the_vault():
    scopes = {"vault": vault_id(), "rg": rg_scope(), "sub": f"/subscriptions/{SUB}", "parent-mg": mg_scope("mg-corp"),
              "grandparent-mg": mg_scope("MG-Contoso"), "tenant-root-mg": mg_scope(TENANT), "root": "/"}
    rows = [assignment_row(scope, KV_SECRETS_USER, who) for who, scope in scopes.items()]
    _, access = access_for(assignments=rows)
    for who in scopes:
        assert access.rbac_data(who) == GET | LIST, who
    levels = {g.assignment.principal_id: g.level for gs in access.grants.values() for g in gs}
    assert levels == {"vault": "vault", "rg": "resourceGroup", "sub": "subscription", "parent-mg": "managementGroup",
                      "grandparent-mg": "managementGroup", "tenant-root-mg": "managementGroup", "root": "root"}


def test_scopes_that_do_not_cover():
    rows = [
        assignment_row(rg_scope(rg="rg-app2"), KV_ADMIN, "sibling-rg-prefix"),                  # 'rg-app2' is not 'rg-app'
        assignment_row(vault_id("kv10"), KV_ADMIN, "sibling-vault-prefix"),                     # 'kv10' is not 'kv1'
        assignment_row(f"/subscriptions/{SUB2}", KV_ADMIN, "other-sub"),
        assignment_row(mg_scope("mg-online"), KV_ADMIN, "other-mg"),
    ]
    _, access = access_for(assignments=rows)
    assert access.data_principals() == []


def test_ids_and_scopes_compare_case_insensitively_with_trailing_slash():
    row = assignment_row(vault_id().upper().replace("/SUBSCRIPTIONS/", "/subscriptions/") + "/", KV_SECRETS_USER, "U1")
    _, access = access_for(assignments=[row])
    assert access.rbac_data("u1") == GET | LIST


def test_not_data_actions_apply_per_block_never_across_roles():
    carve = role_definition_row("aaaaaaaa-0000-0000-0000-000000000001", "All but get",
                                data_actions=["Microsoft.KeyVault/vaults/secrets/*"],
                                not_data_actions=["Microsoft.KeyVault/vaults/secrets/getSecret/action"])
    rows = [assignment_row(vault_id(), carve["name"], "u1"), assignment_row(vault_id(), KV_SECRETS_USER, "u2"),
            assignment_row(vault_id(), carve["name"], "u2")]
    _, access = access_for(assignments=rows, definitions=[carve])
    assert access.rbac_data("u1") == SECRETS_ALL & ~GET
    assert access.rbac_data("u2") == SECRETS_ALL          # the other role's getSecret is not denied


def test_control_wildcards_never_grant_data_and_self_grant_flags():
    rows = [assignment_row(rg_scope(), OWNER, "owner"), assignment_row(rg_scope(), CONTRIBUTOR, "contrib"),
            assignment_row(vault_id(), KV_CONTRIBUTOR, "kvc"), assignment_row(vault_id(), KV_DATA_ACCESS_ADMIN, "dataadmin"),
            assignment_row(vault_id() + "/secrets/s", OWNER, "object-owner")]
    _, access = access_for(assignments=rows)
    assert access.data_principals() == []
    assert sorted(access.self_granters()) == ["contrib", "kvc", "owner"]


def test_reader_role_data_actions():
    _, access = access_for(assignments=[assignment_row(vault_id(), KV_READER, "r")])
    assert GET & access.rbac_data("r") == 0 and LIST & access.rbac_data("r")


def test_object_scoped_grants_are_separate_and_marked():
    _, access = access_for(assignments=[assignment_row(vault_id() + "/secrets/db", KV_SECRETS_OFFICER, "u1")])
    assert access.rbac_data("u1") == 0
    assert access.rbac_data("u1", objects=True) == SECRETS_ALL
    assert access.rbac_grants("u1", objects=True)[0].level == "object"


def test_object_scope_of_a_vault_not_in_the_snapshot_is_ignored():
    _, access = access_for(assignments=[assignment_row(vault_id("other") + "/secrets/db", KV_ADMIN, "u1")])
    assert access.data_principals() == []


def test_unknown_role_is_reported_and_grants_nothing():
    _, access = access_for(assignments=[assignment_row(rg_scope(), "deadbeef-0000-0000-0000-000000000000", "u1")])
    assert access.rbac_data("u1") == 0
    assert [a.principal_id for a in access.unknown_roles] == ["u1"]


def test_groups_expand_transitively_only_with_directory_data():
    rows = [assignment_row(vault_id(), KV_SECRETS_USER, "outer-group", principal_type="Group")]
    _, without = access_for(assignments=rows)
    assert without.rbac_data("user") == 0 and not without.groups_expanded
    principals = [principal_row("user", member_of=["inner-group", "OUTER-GROUP"]), principal_row("inner-group", "group",
                  member_of=["outer-group"]), principal_row("outer-group", "group")]
    _, with_dir = access_for(assignments=rows, principals=principals)
    assert with_dir.rbac_data("user") == GET | LIST and with_dir.groups_expanded
    assert with_dir.rbac_data("inner-group") == GET | LIST


def test_policy_union_over_entries_and_groups():
    vault = vault_row(rbac=False, policies=[policy("u1", secrets=["get"]), policy("u1", secrets=["list"]),
                                            policy("g1", keys=["get"])])
    _, access = access_for(vault=vault, principals=[principal_row("u1", member_of=["g1"])])
    assert access.policy_data("u1") == GET | LIST | p.bit("Microsoft.KeyVault/vaults/keys/read")


def test_conditional_assignments_count_and_are_marked():
    row = assignment_row(vault_id(), KV_SECRETS_USER, "u1", condition="@Resource[...] StringEquals 'x'")
    index, access = access_for(assignments=[row])
    assert access.rbac_data("u1") == GET | LIST
    assert access.rbac_grants("u1")[0].evidence()["conditional"] is True
    (rowdict,) = access_rows(index, access)
    assert rowdict["conditional"] and rowdict["effective"] and rowdict["permissions"] == "secrets: getSecret, readMetadata"


def test_vaults_under_counts_by_model():
    tables = {"subscriptions": [subscription_row()], "role_definitions": [], "role_assignments": [],
              "vaults": [vault_row("a"), vault_row("b", rbac=False), vault_row("c", rg="rg-other")]}
    index = AccessIndex(load_estate(RawSnapshot(tables=tables)))
    counts = index.vaults_under({rg_scope().lower(), "/", mg_scope("mg-corp").lower(), f"/subscriptions/{SUB}".lower()})
    assert counts[rg_scope().lower()] == [2, 1]
    assert counts["/"] == counts[mg_scope("mg-corp").lower()] == counts[f"/subscriptions/{SUB}".lower()] == [3, 2]


def test_access_rows_cover_both_models():
    vault = vault_row(rbac=False, policies=[policy("u1", secrets=["get", "list"])])
    index, access = access_for(vault=vault, assignments=[assignment_row(rg_scope(), KV_ADMIN, "u2")])
    rows = {r["source"]: r for r in access_rows(index, access)}
    assert rows["accessPolicy"]["effective"] is True and rows["accessPolicy"]["permissions"] == "secrets: get, list"
    assert rows["roleAssignment"]["effective"] is False and rows["roleAssignment"]["scopeLevel"] == "resourceGroup"
