"""The access engine: scope coverage, role compilation, group expansion, object scope, unknown roles,
and the catalog-2 inputs: eligible grants, deny assignments, tenant-bound `/` and management-group
scopes, unknown management-group ancestry."""

import pytest

from audit_function import permissions as p
from audit_function.access.engine import AccessIndex
from audit_function.access.rows import access_rows
from audit_function.snapshot.load import RawSnapshot, load_estate
from tests.factories import (CONTRIBUTOR, KV_ADMIN, KV_CONTRIBUTOR, KV_DATA_ACCESS_ADMIN, KV_READER, KV_SECRETS_OFFICER,
                             KV_SECRETS_USER, OTHER_TENANT, OWNER, SUB, SUB2, TENANT, USER_ACCESS_ADMIN,
                             assignment_row, deny_row, eligibility_row, mg_scope, policy, principal_row, rg_scope,
                             role_definition_row, subscription_row, vault_id, vault_row)

GET = p.bit("Microsoft.KeyVault/vaults/secrets/getSecret/action")
LIST = p.bit("Microsoft.KeyVault/vaults/secrets/readMetadata/action")
SET = p.bit("Microsoft.KeyVault/vaults/secrets/setSecret/action")
SECRETS_ALL = p.pattern_mask("Microsoft.KeyVault/vaults/secrets/*")
EVERYONE = "00000000-0000-0000-0000-000000000000"
GET_ACTION = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
SUB_SCOPE = f"/subscriptions/{SUB}"


def load(vaults=None, assignments=(), definitions=(), principals=None, subscriptions=None, eligibilities=None,
         denies=None):
    tables = {"subscriptions": (subscriptions if subscriptions is not None
                                else [subscription_row(), subscription_row(SUB2, mgs=("mg-online", TENANT))]),
              "role_definitions": list(definitions), "vaults": list(vaults if vaults is not None else [vault_row()]),
              "role_assignments": list(assignments)}
    if principals is not None:
        tables["principals"] = principals
    if eligibilities is not None:
        tables["role_eligibilities"] = list(eligibilities)
    if denies is not None:
        tables["deny_assignments"] = list(denies)
    estate = load_estate(RawSnapshot(tables=tables))
    return estate, AccessIndex(estate)


def access_for(vault=None, **kwargs):
    estate, index = load(vaults=[vault or vault_row()], **kwargs)
    return index, index.vault_access(estate.vaults[0])


# ---------------------------------------------------------------------------------------------
# scopes, roles, groups (catalog 1 semantics that still hold)


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


def test_control_wildcards_never_grant_data_and_control_actions_per_role():
    rows = [assignment_row(rg_scope(), OWNER, "owner"), assignment_row(rg_scope(), CONTRIBUTOR, "contrib"),
            assignment_row(vault_id(), KV_CONTRIBUTOR, "kvc"), assignment_row(vault_id(), KV_DATA_ACCESS_ADMIN, "dataadmin"),
            assignment_row(f"/subscriptions/{SUB}", USER_ACCESS_ADMIN, "uaa"),
            assignment_row(vault_id() + "/secrets/s", OWNER, "object-owner")]
    _, access = access_for(assignments=rows)
    assert access.data_principals() == []
    control = {who: access.control(who)[0] for who in ("owner", "contrib", "kvc", "dataadmin", "uaa", "object-owner")}
    assert control["owner"] & p.C_ROLE_WRITE and control["owner"] & p.C_DEPLOY and control["owner"] & p.C_VAULT_WRITE
    assert control["contrib"] & p.C_DEPLOY and control["contrib"] & p.C_POLICY_WRITE
    assert not control["contrib"] & p.C_ROLE_WRITE                 # Contributor's notActions: Authorization/*/Write
    assert control["kvc"] & p.C_DEPLOY and not control["kvc"] & p.C_ROLE_WRITE
    assert control["dataadmin"] & p.C_ROLE_WRITE and not control["dataadmin"] & p.C_DEPLOY
    assert control["uaa"] == p.C_ROLE_WRITE
    assert control["object-owner"] == 0                            # object-scoped control grants do not count
    assert sorted(access.holders(p.C_DEPLOY)) == ["contrib", "kvc", "owner"]
    assert sorted(access.holders(p.C_ROLE_WRITE)) == ["dataadmin", "owner", "uaa"]


def test_reader_role_data_actions():
    _, access = access_for(assignments=[assignment_row(vault_id(), KV_READER, "r")])
    assert GET & access.rbac_data("r") == 0 and LIST & access.rbac_data("r")


def test_object_scoped_grants_are_separate_and_marked():
    _, access = access_for(assignments=[assignment_row(vault_id() + "/secrets/db", KV_SECRETS_OFFICER, "u1")])
    assert access.rbac_data("u1") == 0
    assert access.rbac_data("u1", objects=True) == SECRETS_ALL
    assert access.rbac_grants("u1", objects=True)[0].level == "object"


def test_object_scope_of_a_vault_not_in_the_snapshot_is_ignored():
    _, access = access_for(assignments=[assignment_row(vault_id("other") + "/secrets/db", KV_ADMIN, "u1"),
                                        assignment_row(vault_id("other"), KV_ADMIN, "u2")])
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


def test_policy_access_leaves_out_cross_tenant_and_compound_entries():
    vault = vault_row(rbac=False, policies=[policy("u1", secrets=["get"]),
                                            policy("u1", tenant=OTHER_TENANT, secrets=["list"]),
                                            policy("u1", application_id="app-1", secrets=["set"])])
    _, access = access_for(vault=vault)
    assert access.policy_data("u1") == GET
    # coverage: a cross-tenant entry grants nothing, so nothing of it is missing; a compound one is judged as any
    _, access = access_for(vault=vault_row(policies=vault["properties"]["accessPolicies"]))
    entries = access.vault.access_policies
    assert access.coverage(entries[0]) == GET and access.coverage(entries[1]) == 0
    assert access.coverage(entries[2]) == SET | p.bit("Microsoft.KeyVault/vaults/secrets/update/action")


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


# ---------------------------------------------------------------------------------------------
# eligible (PIM) grants: exposure, never coverage


def test_eligible_grant_is_exposure_not_standing_access():
    rei = eligibility_row(rg_scope(), KV_SECRETS_USER, "u1", name="rei-1")
    index, access = access_for(eligibilities=[rei])
    assert access.rbac_data("u1") == 0                          # standing access (coverage)
    assert access.rbac_data("u1", eligible=True) == GET | LIST   # exposure
    assert access.rbac_grants("u1") == []
    (grant,) = access.rbac_grants("u1", eligible=True)
    assert grant.eligible and grant.evidence()["eligible"] is True and grant.assignment.id == rei["id"]
    assert access.data_principals() == ["u1"]
    (row,) = access_rows(index, access)
    assert row["source"] == "eligibleAssignment" and row["effective"] is False


def test_eligible_grant_gives_control_access_and_object_scoped_exposure():
    rows = [eligibility_row(SUB_SCOPE, OWNER, "owner"),
            eligibility_row(vault_id() + "/secrets/s1", KV_SECRETS_OFFICER, "u1")]
    _, access = access_for(eligibilities=rows)
    mask, grants = access.control("owner")
    assert mask & p.C_DEPLOY and mask & p.C_ROLE_WRITE and grants[0].eligible
    assert list(access.holders(p.C_DEPLOY)) == ["owner"]
    assert access.rbac_data("u1", objects=True) == 0
    assert access.rbac_data("u1", objects=True, eligible=True) == SECRETS_ALL


def test_eligibility_scope_from_properties_or_from_the_id():
    rei = eligibility_row(rg_scope(), KV_SECRETS_USER, "u1")
    del rei["properties"]["scope"]
    _, access = access_for(eligibilities=[rei])
    (grant,) = access.rbac_grants("u1", eligible=True)
    assert grant.level == "resourceGroup" and grant.assignment.scope == rg_scope()


def test_eligible_grant_at_a_management_group_is_tenant_bound():
    rows = [eligibility_row(mg_scope("mg-corp"), KV_SECRETS_USER, "same", tenant=TENANT),
            eligibility_row(mg_scope("mg-corp"), KV_SECRETS_USER, "other", tenant=OTHER_TENANT)]
    _, access = access_for(eligibilities=rows)
    assert access.data_principals() == ["same"]


# ---------------------------------------------------------------------------------------------
# deny assignments


def test_deny_for_everyone_removes_its_data_actions_from_every_grant():
    rows = [assignment_row(vault_id(), KV_SECRETS_USER, "u1"), assignment_row("/", KV_SECRETS_OFFICER, "u2"),
            eligibility_row(rg_scope(), KV_SECRETS_USER, "u3")]
    _, access = access_for(assignments=rows[:2], eligibilities=rows[2:],
                           denies=[deny_row(rg_scope(), data_actions=[GET_ACTION])])
    assert access.rbac_data("u1") == LIST
    assert access.rbac_data("u2") == SECRETS_ALL & ~GET
    assert access.rbac_data("u3", eligible=True) == LIST
    # the grants themselves are still listed (the deny is subtracted from the access, not the evidence)
    assert len(access.rbac_grants("u1")) == 1


def test_deny_data_actions_minus_not_data_actions_per_block():
    deny = deny_row(vault_id(), data_actions=["Microsoft.KeyVault/vaults/secrets/*"], not_data_actions=[GET_ACTION])
    _, access = access_for(assignments=[assignment_row(vault_id(), KV_SECRETS_OFFICER, "u1")], denies=[deny])
    assert access.rbac_data("u1") == GET


def test_deny_of_control_actions():
    deny = deny_row(SUB_SCOPE, actions=["Microsoft.KeyVault/vaults/*"], not_actions=["Microsoft.KeyVault/vaults/write"])
    _, access = access_for(assignments=[assignment_row(rg_scope(), OWNER, "owner")], denies=[deny])
    mask, grants = access.control("owner")
    assert mask & p.C_VAULT_WRITE and mask & p.C_ROLE_WRITE        # notActions carve these out of the deny
    assert not mask & p.C_DEPLOY and not mask & p.C_POLICY_WRITE
    assert grants and access.holders(p.C_DEPLOY) == {}
    assert access.rbac_data("owner") == 0


def test_deny_scopes_that_apply_and_that_do_not():
    grant = [assignment_row(vault_id(), KV_SECRETS_USER, "u1")]
    cases = {
        "vault": (deny_row(vault_id(), data_actions=[GET_ACTION]), LIST),
        "vault, doNotApplyToChildScopes": (deny_row(vault_id(), data_actions=[GET_ACTION], children=False), LIST),
        "rg": (deny_row(rg_scope(), data_actions=[GET_ACTION]), LIST),
        "rg, doNotApplyToChildScopes": (deny_row(rg_scope(), data_actions=[GET_ACTION], children=False), GET | LIST),
        "sub, doNotApplyToChildScopes": (deny_row(SUB_SCOPE, data_actions=[GET_ACTION], children=False), GET | LIST),
        "root": (deny_row("/", data_actions=[GET_ACTION]), LIST),
        "root, doNotApplyToChildScopes": (deny_row("/", data_actions=[GET_ACTION], children=False), GET | LIST),
        "mg ancestor": (deny_row(mg_scope("mg-contoso"), data_actions=[GET_ACTION]), LIST),
        "mg ancestor, doNotApplyToChildScopes": (deny_row(mg_scope("mg-contoso"), data_actions=[GET_ACTION],
                                                          children=False), GET | LIST),
        "mg not an ancestor": (deny_row(mg_scope("mg-online"), data_actions=[GET_ACTION]), GET | LIST),
        "sibling rg sharing a prefix": (deny_row(rg_scope(rg="rg-app2"), data_actions=[GET_ACTION]), GET | LIST),
        "other subscription": (deny_row(f"/subscriptions/{SUB2}", data_actions=[GET_ACTION]), GET | LIST),
        "inside the vault": (deny_row(vault_id() + "/secrets/s1", data_actions=[GET_ACTION]), GET | LIST),
    }
    for what, (deny, expected) in cases.items():
        _, access = access_for(assignments=grant, denies=[deny])
        assert access.rbac_data("u1") == expected, what


def test_deny_rows_as_arm_spells_them():
    grant = [assignment_row(vault_id(), KV_SECRETS_USER, "u1")]
    no_scope = deny_row(vault_id().upper().replace("/SUBSCRIPTIONS/", "/subscriptions/"), data_actions=[GET_ACTION])
    del no_scope["properties"]["scope"]                              # scope taken from the id
    pascal = deny_row(vault_id() + "/", name="deny2", principals=["U1"])
    pascal["properties"]["permissions"] = [{"Actions": [], "NotActions": [], "DataActions": [GET_ACTION.lower()],
                                            "NotDataActions": []}]
    for deny in (no_scope, pascal):
        _, access = access_for(assignments=grant, denies=[deny])
        assert access.rbac_data("u1") == LIST, deny["id"]
    # doNotApplyToChildScopes missing or null: it applies to child scopes
    for value in (None, "missing"):
        deny = deny_row(rg_scope(), data_actions=[GET_ACTION])
        if value == "missing":
            del deny["properties"]["doNotApplyToChildScopes"]
        else:
            deny["properties"]["doNotApplyToChildScopes"] = None
        _, access = access_for(assignments=grant, denies=[deny])
        assert access.rbac_data("u1") == LIST, value


def test_deny_inside_a_vault_never_applies_even_to_grants_on_that_object():
    scope = vault_id() + "/secrets/s1"
    _, access = access_for(assignments=[assignment_row(scope, KV_SECRETS_USER, "u1")],
                           denies=[deny_row(scope, data_actions=[GET_ACTION])])
    assert access.denies == ()
    assert access.rbac_data("u1", objects=True) == GET | LIST


def test_deny_that_applies_to_the_vault_also_removes_object_scoped_access():
    _, access = access_for(assignments=[assignment_row(vault_id() + "/secrets/s1", KV_SECRETS_USER, "u1")],
                           denies=[deny_row(rg_scope(), data_actions=[GET_ACTION])])
    assert access.rbac_data("u1", objects=True) == LIST


def test_deny_principals_and_exclude_principals():
    rows = [assignment_row(vault_id(), KV_SECRETS_USER, who) for who in ("u1", "u2", "u3")]
    named = deny_row(vault_id(), principals=["U1"], data_actions=[GET_ACTION])
    _, access = access_for(assignments=rows, denies=[named])
    assert access.rbac_data("u1") == LIST and access.rbac_data("u2") == GET | LIST
    everyone_but = deny_row(vault_id(), principals=[EVERYONE], exclude=["u2"], data_actions=[GET_ACTION])
    _, access = access_for(assignments=rows, denies=[everyone_but])
    assert access.rbac_data("u1") == LIST and access.rbac_data("u3") == LIST
    assert access.rbac_data("u2") == GET | LIST
    # a principal both named and excluded is excluded
    both = deny_row(vault_id(), principals=["u1"], exclude=["U1"], data_actions=[GET_ACTION])
    _, access = access_for(assignments=rows, denies=[both])
    assert access.rbac_data("u1") == GET | LIST


def test_deny_matches_group_ids_only_with_directory_data():
    grant = [assignment_row(vault_id(), KV_SECRETS_USER, "u1")]
    to_group = deny_row(vault_id(), principals=["g1"], data_actions=[GET_ACTION])
    _, without = access_for(assignments=grant, denies=[to_group])
    assert without.rbac_data("u1") == GET | LIST
    _, with_dir = access_for(assignments=grant, denies=[to_group], principals=[principal_row("u1", member_of=["G1"])])
    assert with_dir.rbac_data("u1") == LIST
    # excludePrincipals naming one of the principal's groups exempts it
    exempt = deny_row(vault_id(), principals=[EVERYONE], exclude=["g1"], data_actions=[GET_ACTION])
    _, with_dir = access_for(assignments=grant, denies=[exempt], principals=[principal_row("u1", member_of=["g1"])])
    assert with_dir.rbac_data("u1") == GET | LIST
    _, without = access_for(assignments=grant, denies=[exempt])
    assert without.rbac_data("u1") == LIST


def test_denied_on_at_index_level_matches_vault_access():
    estate, index = load(assignments=[assignment_row(rg_scope(), OWNER, "o1")],
                         denies=[deny_row(SUB_SCOPE, principals=["o1"], actions=["*"], data_actions=["*"])])
    data, control = index.denied_on("o1", estate.vaults[0])
    assert data == p.ALL_DATA and control == sum(1 << i for i in range(len(p.CONTROL_ACTIONS)))
    assert index.denied_on("o2", estate.vaults[0]) == (0, 0)
    assert index.vault_access(estate.vaults[0]).control("o1")[0] == 0


def test_deny_without_key_vault_actions_is_ignored():
    deny = deny_row(vault_id(), actions=["Microsoft.Storage/*"], data_actions=["Microsoft.Storage/*"])
    estate, index = load(assignments=[assignment_row(vault_id(), KV_SECRETS_USER, "u1")], denies=[deny])
    assert len(estate.denies) == 1 and index.vault_access(estate.vaults[0]).rbac_data("u1") == GET | LIST
    assert not index.has_denies


# ---------------------------------------------------------------------------------------------
# `/` and management-group scopes belong to one tenant


def test_root_and_management_group_grants_are_tenant_bound():
    rows = [assignment_row("/", KV_SECRETS_USER, "root-same", tenant=TENANT),
            assignment_row("/", KV_SECRETS_USER, "root-other", tenant=OTHER_TENANT),
            assignment_row("/", KV_SECRETS_USER, "root-none", tenant=None),
            assignment_row(mg_scope(TENANT), KV_SECRETS_USER, "mg-same", tenant=TENANT.upper()),
            assignment_row(mg_scope("mg-corp"), KV_SECRETS_USER, "mg-other", tenant=OTHER_TENANT),
            assignment_row(mg_scope("mg-corp"), KV_SECRETS_USER, "mg-none", tenant=None),
            # subscription and below are not tenant-bound
            assignment_row(SUB_SCOPE, KV_SECRETS_USER, "sub-other", tenant=OTHER_TENANT),
            assignment_row(vault_id(), KV_SECRETS_USER, "vault-other", tenant=OTHER_TENANT)]
    _, access = access_for(assignments=rows)
    assert access.data_principals() == ["mg-none", "mg-same", "root-none", "root-same", "sub-other", "vault-other"]


def test_vault_row_without_tenant_is_covered_by_any_tenant():
    # no tenantId on the row and no subscription row to take it from: the tenant is unknown, so it covers
    rows = [assignment_row("/", KV_SECRETS_USER, "root-other", tenant=OTHER_TENANT)]
    _, access = access_for(vault=vault_row(row_tenant=None), assignments=rows, subscriptions=[])
    assert access.vault.row_tenant_id is None
    assert access.data_principals() == ["root-other"]


def test_vault_row_without_tenant_is_covered_by_every_tenants_root_grants():
    """Catalog 2: a tenant test needs both ids; the subscription's tenant is never borrowed."""
    rows = [assignment_row("/", KV_SECRETS_USER, "root-other", tenant=OTHER_TENANT),
            assignment_row("/", KV_SECRETS_USER, "root-same", tenant=TENANT)]
    _, access = access_for(vault=vault_row(row_tenant=None), assignments=rows,
                           subscriptions=[subscription_row(tenant=TENANT)])
    assert access.data_principals() == ["root-other", "root-same"]


def test_root_and_management_group_denies_are_tenant_bound():
    grant = [assignment_row(vault_id(), KV_SECRETS_USER, "u1")]
    for scope in ("/", mg_scope("mg-corp")):
        _, access = access_for(assignments=grant, denies=[deny_row(scope, data_actions=[GET_ACTION], tenant=OTHER_TENANT)])
        assert access.rbac_data("u1") == GET | LIST, scope
        _, access = access_for(assignments=grant, denies=[deny_row(scope, data_actions=[GET_ACTION], tenant=TENANT)])
        assert access.rbac_data("u1") == LIST, scope
        _, access = access_for(assignments=grant, denies=[deny_row(scope, data_actions=[GET_ACTION], tenant=None)])
        assert access.rbac_data("u1") == LIST, scope


def test_tenant_binding_is_per_vault_in_one_scope_cache():
    vaults = [vault_row("kv1"), vault_row("kv2", row_tenant=OTHER_TENANT)]
    estate, index = load(vaults=vaults, assignments=[assignment_row("/", KV_SECRETS_USER, "u1", tenant=OTHER_TENANT)])
    by_name = {v.name: index.vault_access(v) for v in estate.vaults}
    assert by_name["kv1"].data_principals() == [] and by_name["kv2"].data_principals() == ["u1"]
    (grant,) = estate.assignments
    assert [v.name for v in index.covered_vaults(grant)] == ["kv2"]


# ---------------------------------------------------------------------------------------------
# unknown management-group ancestry


def test_empty_chain_is_unknown_ancestry_only_when_management_group_grants_exist():
    subs = [subscription_row(mgs=())]
    estate, index = load(subscriptions=subs, assignments=[assignment_row("/", KV_SECRETS_USER, "u1")])
    assert not index.unknown_ancestry(estate.vaults[0])
    estate, index = load(subscriptions=subs, assignments=[assignment_row(mg_scope("mg-corp"), KV_SECRETS_USER, "u1")])
    assert index.unknown_ancestry(estate.vaults[0])


def test_unknown_ancestry_triggers():
    mg_grant = [assignment_row(mg_scope("mg-any"), KV_SECRETS_USER, "u1")]
    missing_chain = subscription_row()
    del missing_chain["properties"]["managementGroupAncestorsChain"]
    null_chain = subscription_row()
    null_chain["properties"]["managementGroupAncestorsChain"] = None
    cases = {
        "empty chain": dict(subscriptions=[subscription_row(mgs=())], assignments=mg_grant),
        "missing chain": dict(subscriptions=[missing_chain], assignments=mg_grant),
        "null chain": dict(subscriptions=[null_chain], assignments=mg_grant),
        "no subscription row": dict(subscriptions=[subscription_row(SUB2)], assignments=mg_grant),
        "eligible grant at a management group": dict(
            subscriptions=[subscription_row(mgs=())], eligibilities=[eligibility_row(mg_scope("x"), KV_SECRETS_USER, "u1")]),
        "another tenant's management-group grant": dict(
            subscriptions=[subscription_row(mgs=())],
            assignments=[assignment_row(mg_scope("x"), KV_SECRETS_USER, "u1", tenant=OTHER_TENANT)]),
        "unknown role at a management group": dict(
            subscriptions=[subscription_row(mgs=())],
            assignments=[assignment_row(mg_scope("x"), "deadbeef-0000-0000-0000-000000000000", "u1")]),
    }
    for what, kwargs in cases.items():
        estate, index = load(**kwargs)
        assert index.unknown_ancestry(estate.vaults[0]), what


def test_not_unknown_ancestry():
    cases = {
        "known chain": dict(assignments=[assignment_row(mg_scope("mg-any"), KV_SECRETS_USER, "u1")]),
        "only a deny at a management group": dict(subscriptions=[subscription_row(mgs=())],
                                                  denies=[deny_row(mg_scope("mg-corp"), data_actions=[GET_ACTION])]),
        "only grants at / and below": dict(subscriptions=[subscription_row(mgs=())],
                                           assignments=[assignment_row("/", KV_ADMIN, "u1"),
                                                        assignment_row(SUB_SCOPE, KV_ADMIN, "u2")]),
    }
    for what, kwargs in cases.items():
        estate, index = load(**kwargs)
        assert not index.unknown_ancestry(estate.vaults[0]), what


def test_unknown_ancestry_no_management_group_grant_or_deny_covers_the_vault():
    rows = [assignment_row(mg_scope(TENANT), KV_SECRETS_USER, "tenant-root"),
            assignment_row(mg_scope("mg-corp"), KV_SECRETS_USER, "mg"),
            assignment_row("/", KV_SECRETS_USER, "root"), assignment_row(rg_scope(), KV_SECRETS_USER, "rg")]
    estate, index = load(subscriptions=[subscription_row(mgs=())], assignments=rows,
                         denies=[deny_row(mg_scope(TENANT), principals=["rg"], data_actions=[GET_ACTION])])
    vault = estate.vaults[0]
    access = index.vault_access(vault)
    assert access.data_principals() == ["rg", "root"]
    assert access.rbac_data("rg") == GET | LIST                    # the tenant-root-group deny does not cover it
    by_id = {a.principal_id: a for a in estate.assignments}
    assert index.covered_vaults(by_id["tenant-root"]) == [] and index.covered_vaults(by_id["mg"]) == []
    assert index.covered_vaults(by_id["root"]) == [vault]


def test_unknown_ancestry_is_per_subscription():
    vaults = [vault_row("kv1"), vault_row("kv2", sub=SUB2)]
    subs = [subscription_row(mgs=("mg-corp", TENANT)), subscription_row(SUB2, mgs=())]
    estate, index = load(vaults=vaults, subscriptions=subs,
                         assignments=[assignment_row(mg_scope("mg-corp"), KV_SECRETS_USER, "u1")])
    by_name = {v.name: v for v in estate.vaults}
    assert not index.unknown_ancestry(by_name["kv1"]) and index.unknown_ancestry(by_name["kv2"])
    assert index.vault_access(by_name["kv1"]).data_principals() == ["u1"]
    assert index.vault_access(by_name["kv2"]).data_principals() == []



# ---------------------------------------------------------------------------------------------
# a collection gap in the eligible or deny tables is not a pass


@pytest.mark.parametrize("table", ["role_eligibilities", "deny_assignments"])
def test_unread_eligible_or_deny_assignments_make_rbac_rules_not_evaluated(table):
    from audit_function.engine.evaluate import evaluate
    from rules import latent_grant, template_deployment_path
    from rules.base import RuleContext
    from tests.factories import AS_OF

    tables = {"subscriptions": [subscription_row()], "role_definitions": [], "role_assignments": [],
              "vaults": [vault_row(rbac=False, enabledForTemplateDeployment=True)],
              "role_eligibilities": [], "deny_assignments": []}
    manifest = {"format": "kv-audit-snapshot/1", "complete": False,
                "gaps": [{"scope": SUB_SCOPE, "table": table, "reason": "403 Forbidden"}]}
    estate = load_estate(RawSnapshot(tables=tables, manifest=manifest))
    out = evaluate(estate, (latent_grant, template_deployment_path), RuleContext(as_of=AS_OF), index=AccessIndex(estate))
    assert {(n.rule_id, n.vault_id) for n in out.not_evaluated} == {
        ("latent-grant", vault_id()), ("template-deployment-path", vault_id())}
