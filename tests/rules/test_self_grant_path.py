"""self-grant-path (catalog 2): one finding per grant whose role lets its holder give itself data access.

Paths: ``access-policy-write`` (vaults/write or vaults/accessPolicies/write, access-policy vaults only) and
``role-assignment-write`` (roleAssignments/write, both models), at a scope at or above the vault, after the
deny assignments that apply to the grant's own principal on that vault.
"""

import pytest

from rules import self_grant_path
from rules.base import fingerprint
from tests.factories import (
    CONTRIBUTOR,
    KV_ADMIN,
    KV_CONTRIBUTOR,
    KV_DATA_ACCESS_ADMIN,
    KV_SECRETS_USER,
    OTHER_TENANT,
    OWNER,
    READER,
    SUB,
    SUB2,
    TENANT,
    USER_ACCESS_ADMIN,
    assignment_row,
    deny_row,
    eligibility_row,
    mg_scope,
    principal_row,
    rg_scope,
    role_definition_row,
    run_rules,
    subscription_row,
    vault_id,
    vault_row,
)

RULES = (self_grant_path,)
RULE = "self-grant-path"
RBAC_ADMIN = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"   # Role Based Access Control Administrator
AP_VAULT = vault_row(rbac=False)
RBAC_VAULT = vault_row(rbac=True)
VAULT_WRITE = "Microsoft.KeyVault/vaults/write"
POLICY_WRITE = "Microsoft.KeyVault/vaults/accessPolicies/write"
ROLE_WRITE = "Microsoft.Authorization/roleAssignments/write"


def test_contributor_at_resource_group_is_one_grant_finding():
    ra = assignment_row(rg_scope(), CONTRIBUTOR, "u1", name="ra-contrib")
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=[ra])
    (f,) = run.of(RULE)
    assert f["subject"] == "grant" and f["severity"] == "high"
    assert f["fingerprint"] == fingerprint(RULE, ra["id"])
    assert f["assignmentId"] == ra["id"] and f["principalId"] == "u1" and f["principalType"] == "User"
    assert f["roleDefinitionId"] == ra["properties"]["roleDefinitionId"] and f["roleName"] == "Contributor"
    assert f["vaultId"] is None and f["scope"] == rg_scope() and f["eligible"] is False
    assert f["affected"] == {"vaults": 1, "rbac": 0, "accessPolicy": 1}
    ev = f["evidence"]
    assert ev["paths"] == ["access-policy-write"]
    assert set(ev["controlActions"]) == {POLICY_WRITE, VAULT_WRITE}
    assert f["eligible"] is False and "eligible" not in ev and ev["conditional"] is False
    assert ev["vaultIds"] == [vault_id()] and ev["vaultIdsCount"] == 1
    assert "Contributor" in f["message"] and rg_scope() in f["message"]
    assert ra["id"] in f["remediation"]


def test_one_finding_per_grant_however_many_vaults_and_grants_of_the_principal():
    vaults = [vault_row("kv1", rbac=False), vault_row("kv2", rbac=False), vault_row("kv3", rbac=False, rg="rg-b")]
    rows = [assignment_row(f"/subscriptions/{SUB}", OWNER, "u1", name="sub"),
            assignment_row(rg_scope(), OWNER, "U1", name="rg"),
            assignment_row(vault_id("kv1"), KV_CONTRIBUTOR, "u1", name="vault")]
    run = run_rules(RULES, vaults=vaults, assignments=rows)
    found = {f["assignmentId"].rsplit("/", 1)[-1]: f for f in run.of(RULE)}
    assert set(found) == {"sub", "rg", "vault"}
    assert found["sub"]["affected"]["vaults"] == 3 and found["rg"]["affected"]["vaults"] == 2
    assert found["vault"]["affected"]["vaults"] == 1
    assert len({f["fingerprint"] for f in found.values()}) == 3


@pytest.mark.parametrize("role,name", [(OWNER, "Owner"), (USER_ACCESS_ADMIN, "User Access Administrator"),
                                       (RBAC_ADMIN, "Role Based Access Control Administrator"),
                                       (KV_DATA_ACCESS_ADMIN, "Key Vault Data Access Administrator")])
def test_role_assignment_write_is_a_path_on_rbac_vaults(role, name):
    run = run_rules(RULES, vaults=[RBAC_VAULT], assignments=[assignment_row(rg_scope(), role, "u1")])
    (f,) = run.of(RULE)
    assert f["roleName"] == name
    assert f["evidence"]["paths"] == ["role-assignment-write"]
    # on an RBAC vault only roleAssignments/write opens a path (Owner's vaults/write does not)
    assert f["evidence"]["controlActions"] == [ROLE_WRITE]
    assert f["affected"] == {"vaults": 1, "rbac": 1, "accessPolicy": 0}


@pytest.mark.parametrize("role", [USER_ACCESS_ADMIN, RBAC_ADMIN, KV_DATA_ACCESS_ADMIN])
def test_role_assignment_write_is_a_two_step_path_on_access_policy_vaults(role):
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=[assignment_row(rg_scope(), role, "u1")])
    (f,) = run.of(RULE)
    assert f["evidence"]["paths"] == ["role-assignment-write"]
    assert f["evidence"]["controlActions"] == [ROLE_WRITE]


def test_owner_on_access_policy_vault_has_both_paths():
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=[assignment_row(vault_id(), OWNER, "u1")])
    (f,) = run.of(RULE)
    assert f["evidence"]["paths"] == ["access-policy-write", "role-assignment-write"]
    assert set(f["evidence"]["controlActions"]) == {VAULT_WRITE, POLICY_WRITE, ROLE_WRITE}


def test_policy_write_roles_do_not_count_on_rbac_vaults():
    rows = [assignment_row(rg_scope(), CONTRIBUTOR, "u1"), assignment_row(rg_scope(), KV_CONTRIBUTOR, "u2")]
    assert run_rules(RULES, vaults=[RBAC_VAULT], assignments=rows).findings == []


def test_mixed_models_count_only_the_vaults_where_a_path_exists():
    vaults = [vault_row("kv-ap", rbac=False), vault_row("kv-rbac", rbac=True)]
    rows = [assignment_row(rg_scope(), CONTRIBUTOR, "u1", name="contrib"),
            assignment_row(rg_scope(), OWNER, "u2", name="owner")]
    run = run_rules(RULES, vaults=vaults, assignments=rows)
    found = {f["assignmentId"].rsplit("/", 1)[-1]: f for f in run.of(RULE)}
    assert found["contrib"]["affected"] == {"vaults": 1, "rbac": 0, "accessPolicy": 1}
    assert found["contrib"]["evidence"]["vaultIds"] == [vault_id("kv-ap")]
    assert found["owner"]["affected"] == {"vaults": 2, "rbac": 1, "accessPolicy": 1}
    assert found["owner"]["evidence"]["paths"] == ["access-policy-write", "role-assignment-write"]


def test_roles_without_a_self_grant_action_do_not_fire():
    rows = [assignment_row(rg_scope(), r, f"p{i}") for i, r in enumerate((READER, KV_ADMIN, KV_SECRETS_USER))]
    assert run_rules(RULES, vaults=[AP_VAULT, vault_row("kv2")], assignments=rows).findings == []


def test_object_scoped_control_grant_does_not_count():
    rows = [assignment_row(vault_id() + "/secrets/s1", OWNER, "u1")]
    assert run_rules(RULES, vaults=[AP_VAULT], assignments=rows).findings == []


def test_grant_at_a_vault_not_in_the_snapshot_affects_nothing():
    rows = [assignment_row(vault_id("elsewhere"), OWNER, "u1")]
    assert run_rules(RULES, vaults=[AP_VAULT], assignments=rows).findings == []


def test_not_actions_apply_per_block_and_custom_pascal_keys():
    only_policies = role_definition_row("cccccccc-0000-0000-0000-000000000001", "Policy writer", key_case="pascal",
                                        actions=["Microsoft.KeyVault/vaults/*"], not_actions=[VAULT_WRITE])
    nothing = role_definition_row("cccccccc-0000-0000-0000-000000000002", "No writes",
                                  actions=["Microsoft.KeyVault/*", "Microsoft.Authorization/*"],
                                  not_actions=["Microsoft.KeyVault/vaults/*", "Microsoft.Authorization/*/write"])
    # notActions of one block do not remove what another block grants
    two_blocks = role_definition_row("cccccccc-0000-0000-0000-000000000003", "Two blocks",
                                     actions=["Microsoft.Authorization/*"], not_actions=[ROLE_WRITE])
    two_blocks["properties"]["permissions"].append({"actions": [ROLE_WRITE], "notActions": [], "dataActions": [],
                                                    "notDataActions": []})
    rows = [assignment_row(vault_id(), only_policies["name"], "u1", name="a"),
            assignment_row(vault_id(), nothing["name"], "u2", name="b"),
            assignment_row(vault_id(), two_blocks["name"], "u3", name="c")]
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=rows, definitions=[only_policies, nothing, two_blocks])
    found = {f["principalId"]: f for f in run.of(RULE)}
    assert set(found) == {"u1", "u3"}
    assert found["u1"]["evidence"]["controlActions"] == [POLICY_WRITE]
    assert found["u1"]["evidence"]["paths"] == ["access-policy-write"]
    assert found["u3"]["evidence"]["paths"] == ["role-assignment-write"]


def test_wildcard_patterns_in_actions_count():
    star = role_definition_row("cccccccc-0000-0000-0000-000000000004", "Star", actions=["*"])
    authz = role_definition_row("cccccccc-0000-0000-0000-000000000005", "Authz writer",
                                actions=["microsoft.authorization/*/WRITE"])
    rows = [assignment_row(rg_scope(), star["name"], "u1"), assignment_row(rg_scope(), authz["name"], "u2")]
    run = run_rules(RULES, vaults=[RBAC_VAULT], assignments=rows, definitions=[star, authz])
    assert {f["principalId"]: f["evidence"]["paths"] for f in run.of(RULE)} == {
        "u1": ["role-assignment-write"], "u2": ["role-assignment-write"]}


# -- scopes, management groups and tenants -------------------------------------------------------


def test_management_group_ancestor_covers_the_vault():
    rows = [assignment_row(mg_scope("MG-Contoso"), KV_CONTRIBUTOR, "u1"),
            assignment_row(mg_scope("mg-unrelated"), KV_CONTRIBUTOR, "u2")]
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=rows)
    (f,) = run.of(RULE)
    assert f["principalId"] == "u1" and f["scope"] == mg_scope("MG-Contoso")
    # a chain that does not name the management group: it does not reach the vault
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=rows, subscriptions=[subscription_row(mgs=(TENANT,))])
    assert run.findings == []


@pytest.mark.parametrize("subscriptions", [[subscription_row(mgs=())], [subscription_row(SUB2)]],
                         ids=["empty-chain", "no-subscription-row"])  # the vault's subscription is not in the snapshot
def test_unknown_ancestry_management_group_grants_do_not_cover(subscriptions):
    rows = [assignment_row(mg_scope("mg-corp"), OWNER, "u1", name="mg"),
            assignment_row(mg_scope(TENANT), OWNER, "u2", name="tenant-root-group"),
            assignment_row("/", OWNER, "u3", name="root"),
            assignment_row(f"/subscriptions/{SUB}", OWNER, "u4", name="sub")]
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=rows, subscriptions=subscriptions)
    assert sorted(f["assignmentId"].rsplit("/", 1)[-1] for f in run.of(RULE)) == ["root", "sub"]


def test_known_ancestry_of_other_subscriptions_is_unaffected_by_one_unknown():
    vaults = [vault_row("kv1", rbac=False), vault_row("kv2", sub=SUB2, rbac=False)]
    subs = [subscription_row(SUB, mgs=()), subscription_row(SUB2)]
    run = run_rules(RULES, vaults=vaults, assignments=[assignment_row(mg_scope("mg-corp"), OWNER, "u1")],
                    subscriptions=subs)
    (f,) = run.of(RULE)
    assert f["evidence"]["vaultIds"] == [vault_id("kv2", sub=SUB2)] and f["affected"]["vaults"] == 1


def test_root_and_management_group_grants_are_bound_to_their_tenant():
    rows = [assignment_row("/", OWNER, "u1", tenant=OTHER_TENANT, name="root-other"),
            assignment_row(mg_scope("mg-corp"), OWNER, "u2", tenant=OTHER_TENANT, name="mg-other"),
            assignment_row("/", OWNER, "u3", tenant=TENANT.upper(), name="root-same"),
            assignment_row(mg_scope("mg-corp"), OWNER, "u4", name="mg-same"),
            # subscription and resource-group scopes are not tenant-bound
            assignment_row(f"/subscriptions/{SUB}", OWNER, "u5", tenant=OTHER_TENANT, name="sub-other")]
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=rows)
    assert sorted(f["assignmentId"].rsplit("/", 1)[-1] for f in run.of(RULE)) == ["mg-same", "root-same", "sub-other"]


def test_missing_tenant_on_either_side_covers():
    grant = assignment_row("/", OWNER, "u1", name="no-tenant")
    grant.pop("tenantId")
    vault = vault_row(rbac=False, row_tenant=None)
    rows = [grant, assignment_row(mg_scope("mg-corp"), OWNER, "u2", tenant=OTHER_TENANT, name="mg-other")]
    run = run_rules(RULES, vaults=[vault], assignments=rows,
                    subscriptions=[subscription_row(tenant=None), subscription_row(SUB2)])
    assert sorted(f["assignmentId"].rsplit("/", 1)[-1] for f in run.of(RULE)) == ["mg-other", "no-tenant"]


def test_grant_tenant_filters_vaults_one_by_one():
    vaults = [vault_row("kv1", rbac=False), vault_row("kv2", sub=SUB2, rbac=False, row_tenant=OTHER_TENANT)]
    run = run_rules(RULES, vaults=vaults, assignments=[assignment_row("/", OWNER, "u1", tenant=OTHER_TENANT)])
    (f,) = run.of(RULE)
    assert f["evidence"]["vaultIds"] == [vault_id("kv2", sub=SUB2)]


def test_missing_scope_property_uses_the_id():
    ra = assignment_row(rg_scope(), OWNER, "u1", omit_scope=True)
    (f,) = run_rules(RULES, vaults=[AP_VAULT], assignments=[ra]).of(RULE)
    assert f["scope"] == rg_scope() and f["affected"]["vaults"] == 1


def test_grant_without_any_usable_scope_is_a_gap_and_covers_nothing():
    ra = assignment_row(rg_scope(), OWNER, "u1", omit_scope=True)
    ra["id"] = "/weird/ra-without-scope"
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=[ra])
    assert run.findings == []
    assert [g["scope"] for g in run.gaps] == ["/weird/ra-without-scope"]


# -- deny assignments -----------------------------------------------------------------------------


def test_deny_on_the_vault_removes_it_from_the_grant():
    vaults = [vault_row("kv1"), vault_row("kv2")]
    ra = assignment_row(rg_scope(), OWNER, "u1")
    deny = deny_row(vault_id("kv1"), actions=[ROLE_WRITE])
    (f,) = run_rules(RULES, vaults=vaults, assignments=[ra], denies=[deny]).of(RULE)
    assert f["evidence"]["vaultIds"] == [vault_id("kv2")] and f["affected"]["vaults"] == 1
    # denied on every vault it covers: no finding at all
    denies = [deny_row(rg_scope(), actions=["Microsoft.Authorization/*"])]
    assert run_rules(RULES, vaults=vaults, assignments=[ra], denies=denies).findings == []


def test_deny_removes_only_what_it_denies():
    ra = assignment_row(vault_id(), OWNER, "u1")
    deny = deny_row(rg_scope(), actions=[VAULT_WRITE, POLICY_WRITE])
    (f,) = run_rules(RULES, vaults=[AP_VAULT], assignments=[ra], denies=[deny]).of(RULE)
    assert f["evidence"]["paths"] == ["role-assignment-write"]
    assert f["evidence"]["controlActions"] == [ROLE_WRITE]   # what is left after the deny
    # actions minus notActions: a deny whose notActions carve out the action denies nothing of it
    carved = deny_row(rg_scope(), actions=["*"], not_actions=["Microsoft.Authorization/roleAssignments/*"])
    (g,) = run_rules(RULES, vaults=[AP_VAULT], assignments=[ra], denies=[carved]).of(RULE)
    assert g["evidence"]["paths"] == ["role-assignment-write"]


def test_deny_that_does_not_apply_to_the_principal_or_vault_changes_nothing():
    ra = assignment_row(rg_scope(), OWNER, "u1")
    for deny in (deny_row(vault_id(), principals=("u2",), actions=["*"]),              # someone else
                 deny_row(vault_id(), exclude=("U1",), actions=["*"]),                 # everyone but u1
                 deny_row(rg_scope(), children=False, actions=["*"]),                  # its own scope only
                 deny_row(vault_id() + "/secrets/s1", actions=["*"]),                  # inside the vault
                 deny_row("/", tenant=OTHER_TENANT, actions=["*"]),                    # another tenant's root
                 deny_row(mg_scope("mg-corp"), tenant=OTHER_TENANT, actions=["*"]),
                 deny_row(vault_id(), data_actions=["*"])):                            # data only
        run = run_rules(RULES, vaults=[RBAC_VAULT], assignments=[ra], denies=[deny])
        assert len(run.of(RULE)) == 1, deny


def test_deny_applying_by_name_at_vault_itself_and_above():
    ra = assignment_row(rg_scope(), OWNER, "u1")
    for deny in (deny_row(vault_id(), principals=("U1",), actions=[ROLE_WRITE]),
                 deny_row(vault_id(), children=False, actions=[ROLE_WRITE]),
                 deny_row(mg_scope("mg-corp"), actions=[ROLE_WRITE]),
                 deny_row("/", actions=[ROLE_WRITE])):
        assert run_rules(RULES, vaults=[RBAC_VAULT], assignments=[ra], denies=[deny]).findings == [], deny


def test_deny_naming_a_group_applies_to_its_members_with_directory_data():
    ra = assignment_row(rg_scope(), OWNER, "u1")
    deny = deny_row(vault_id(), principals=("g1",), actions=[ROLE_WRITE])
    with_groups = run_rules(RULES, vaults=[RBAC_VAULT], assignments=[ra], denies=[deny],
                            principals=[principal_row("u1", member_of=("g1",))])
    assert with_groups.findings == []
    without = run_rules(RULES, vaults=[RBAC_VAULT], assignments=[ra], denies=[deny])
    assert len(without.of(RULE)) == 1


def test_only_the_grants_own_role_counts_other_grants_of_the_principal_play_no_part():
    # u1 holds Owner (denied roleAssignments/write on the vault) and Key Vault Contributor (vaults/write):
    # on an RBAC vault neither grant alone opens a path, and they are not combined
    rows = [assignment_row(rg_scope(), OWNER, "u1", name="owner"),
            assignment_row(vault_id(), KV_CONTRIBUTOR, "u1", name="kvc")]
    deny = deny_row(vault_id(), principals=("u1",), actions=[ROLE_WRITE])
    assert run_rules(RULES, vaults=[RBAC_VAULT], assignments=rows, denies=[deny]).findings == []
    # on an access-policy vault the Contributor grant opens a path by itself; Owner's remaining path counts too
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=rows, denies=[deny])
    found = {f["assignmentId"].rsplit("/", 1)[-1]: f["evidence"]["paths"] for f in run.of(RULE)}
    assert found == {"owner": ["access-policy-write"], "kvc": ["access-policy-write"]}


# -- eligible, conditional, principals -------------------------------------------------------------


def test_eligible_grant_counts_and_is_marked():
    el = eligibility_row(f"/subscriptions/{SUB}", OWNER, "u1", name="el1", status="Provisioned")
    run = run_rules(RULES, vaults=[RBAC_VAULT], eligibilities=[el])
    (f,) = run.of(RULE)
    assert f["assignmentId"] == el["id"] and f["eligible"] is True and "eligible" not in f["evidence"]
    assert f["roleDefinitionId"] == el["properties"]["roleDefinitionId"]
    assert f["fingerprint"] == fingerprint(RULE, el["id"])
    assert "eligible" in f["message"]


def test_eligible_rows_count_whatever_their_status_and_are_deduplicated_by_id():
    el = eligibility_row(rg_scope(), OWNER, "u1", name="el1", status="Expired")
    again = eligibility_row(rg_scope(), OWNER, "u1", name="el1", status="Provisioned")
    run = run_rules(RULES, vaults=[RBAC_VAULT], eligibilities=[el, again])
    assert len(run.of(RULE)) == 1


def test_eligible_management_group_grant_triggers_unknown_ancestry():
    rows = [eligibility_row(mg_scope("mg-corp"), OWNER, "u1")]
    run = run_rules(RULES, vaults=[RBAC_VAULT], eligibilities=rows, subscriptions=[subscription_row(mgs=())])
    assert run.findings == []
    assert len(run_rules(RULES, vaults=[RBAC_VAULT], eligibilities=rows).of(RULE)) == 1


def test_conditional_assignment_counts_and_is_marked():
    ra = assignment_row(vault_id(), OWNER, "u1", condition="@Resource[x] StringEquals 'y'")
    (f,) = run_rules(RULES, vaults=[AP_VAULT], assignments=[ra]).of(RULE)
    assert f["evidence"]["conditional"] is True


def test_group_assignee_is_the_principal_of_its_grant():
    ra = assignment_row(rg_scope(), CONTRIBUTOR, "g1", principal_type="Group")
    (f,) = run_rules(RULES, vaults=[AP_VAULT], assignments=[ra]).of(RULE)
    assert f["principalId"] == "g1" and f["principalType"] == "Group"


def test_role_definition_id_is_the_one_the_grant_references_as_spelled():
    ra = assignment_row(rg_scope(), OWNER.upper(), "u1", role_prefix="/subscriptions/X")
    (f,) = run_rules(RULES, vaults=[AP_VAULT], assignments=[ra]).of(RULE)
    assert f["roleDefinitionId"] == f"/subscriptions/X/providers/Microsoft.Authorization/roleDefinitions/{OWNER.upper()}"
    assert f["roleName"] == "Owner"


def test_vault_lists_are_capped_with_the_full_count():
    vaults = [vault_row(f"kv{i:03d}") for i in range(101)]
    (f,) = run_rules(RULES, vaults=vaults, assignments=[assignment_row(rg_scope(), OWNER, "u1")]).of(RULE)
    assert f["affected"] == {"vaults": 101, "rbac": 101, "accessPolicy": 0}
    assert len(f["evidence"]["vaultIds"]) == 100 and f["evidence"]["vaultIdsCount"] == 101


def test_duplicate_grant_rows_give_one_finding_and_a_gap():
    ra = assignment_row(rg_scope(), OWNER, "u1", name="dup")
    upper = dict(ra, id=ra["id"].upper().replace("/SUBSCRIPTIONS/", "/subscriptions/"))
    run = run_rules(RULES, vaults=[RBAC_VAULT], assignments=[ra, upper])
    assert len(run.of(RULE)) == 1 and len(run.gaps) == 1


def test_unknown_role_is_listed_as_not_evaluated():
    ra = assignment_row(rg_scope(), "99999999-9999-9999-9999-999999999999", "u1")
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=[ra])
    assert run.findings == []
    (n,) = run.not_evaluated
    assert n["ruleId"] == RULE and "unknown" in n["reason"]


def test_scope_and_principal_casing_do_not_matter():
    scope = rg_scope().upper().replace("/SUBSCRIPTIONS/", "/Subscriptions/") + "/"
    ra = assignment_row(scope, OWNER, "U1-UPPER")
    (f,) = run_rules(RULES, vaults=[RBAC_VAULT], assignments=[ra],
                     denies=[deny_row(vault_id(), principals=("u1-upper",), actions=["Microsoft.KeyVault/*"])]).of(RULE)
    assert f["principalId"] == "U1-UPPER" and f["scope"] == scope and f["affected"]["vaults"] == 1
