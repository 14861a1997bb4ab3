"""wildcard-custom-role (catalog 2): one finding per custom role definition whose '*' patterns reach Key Vault.

Data patterns count when they match a Key Vault data action; action patterns when they match
vaults/write, vaults/accessPolicies/write or roleAssignments/write. The role needs a grant at ``/``, a
management group, subscription, resource group, or a vault (or inside one, in the snapshot or not).
"""

import pytest

from rules import wildcard_custom_role
from rules.base import fingerprint
from tests.factories import (
    KV_ADMIN,
    OTHER_TENANT,
    OWNER,
    SUB,
    SUB2,
    assignment_row,
    eligibility_row,
    mg_scope,
    rg_scope,
    role_definition_row,
    run_rules,
    subscription_row,
    vault_id,
    vault_row,
)

RULES = (wildcard_custom_role,)
RULE = "wildcard-custom-role"
GUID = "cccccccc-0000-0000-0000-000000000001"
STAR_SECRETS = role_definition_row(GUID, "Secrets star", data_actions=["Microsoft.KeyVault/vaults/secrets/*"])


def custom(n: int, name: str, **permissions) -> dict:
    return role_definition_row(f"cccccccc-0000-0000-0000-{n:012d}", name, **permissions)


def test_fires_for_a_data_wildcard_at_a_resource_group():
    ra = assignment_row(rg_scope(), STAR_SECRETS["name"], "u1", name="ra1")
    run = run_rules(RULES, vaults=[vault_row(), vault_row("kv2", rbac=False)], assignments=[ra],
                    definitions=[STAR_SECRETS])
    (f,) = run.of(RULE)
    assert f["subject"] == "roleDefinition" and f["severity"] == "medium"
    assert f["fingerprint"] == fingerprint(RULE, GUID)
    assert f["roleDefinitionId"] == STAR_SECRETS["id"] and f["roleName"] == "Secrets star"
    assert f["assignmentId"] is None and f["vaultId"] is None
    assert f["affected"] == {"vaults": 2, "rbac": 1, "accessPolicy": 1}
    ev = f["evidence"]
    assert ev["dataActionWildcards"] == ["Microsoft.KeyVault/vaults/secrets/*"] and ev["actionWildcards"] == []
    assert "Microsoft.KeyVault/vaults/secrets/getSecret/action" in ev["matchedDataActions"]
    assert not any("/keys/" in a for a in ev["matchedDataActions"])
    (g,) = ev["grants"]
    assert g["assignmentId"] == ra["id"] and g["scopeLevel"] == "resourceGroup" and g["principalId"] == "u1"
    assert ev["grantsCount"] == 1
    assert ev["vaultIds"] == [vault_id(), vault_id("kv2")] and ev["vaultIdsCount"] == 2
    assert "Secrets star" in f["message"] and "Secrets star" in f["remediation"]


def test_one_finding_per_role_however_many_grants():
    rows = [assignment_row(rg_scope(), STAR_SECRETS["name"], "u1", name="a"),
            assignment_row(f"/subscriptions/{SUB}", STAR_SECRETS["name"], "u2", name="b",
                           condition="@Resource[x] StringEquals 'y'"),
            assignment_row(vault_id(), STAR_SECRETS["name"].upper(), "u3", name="c")]
    els = [eligibility_row("/", STAR_SECRETS["name"], "u4", name="d")]
    run = run_rules(RULES, vaults=[vault_row()], assignments=rows, definitions=[STAR_SECRETS], eligibilities=els)
    (f,) = run.of(RULE)
    grants = {g["assignmentId"].rsplit("/", 1)[-1]: g for g in f["evidence"]["grants"]}
    assert set(grants) == {"a", "b", "c", "d"} and f["evidence"]["grantsCount"] == 4
    assert grants["b"]["conditional"] is True and grants["a"]["conditional"] is False
    assert grants["d"]["eligible"] is True and grants["d"]["scopeLevel"] == "root"
    assert grants["c"]["scopeLevel"] == "vault"
    assert f["affected"]["vaults"] == 1


def test_two_roles_are_two_findings_with_their_own_fingerprints():
    other = custom(2, "Keys star", data_actions=["Microsoft.KeyVault/vaults/keys/*"])
    rows = [assignment_row(rg_scope(), STAR_SECRETS["name"], "u1"), assignment_row(rg_scope(), other["name"], "u1")]
    run = run_rules(RULES, assignments=rows, definitions=[STAR_SECRETS, other])
    assert {f["fingerprint"] for f in run.of(RULE)} == {fingerprint(RULE, GUID), fingerprint(RULE, other["name"])}


def test_grant_list_is_capped_with_the_full_count():
    rows = [assignment_row(rg_scope(), STAR_SECRETS["name"], f"u{i}", name=f"ra{i:03d}") for i in range(103)]
    (f,) = run_rules(RULES, assignments=rows, definitions=[STAR_SECRETS]).of(RULE)
    assert len(f["evidence"]["grants"]) == 100 and f["evidence"]["grantsCount"] == 103


def test_subject_is_the_guid_whatever_id_spelling_the_rows_use():
    upper = role_definition_row(GUID.upper(), "Secrets star", data_actions=["Microsoft.KeyVault/vaults/*"])
    ra = assignment_row(rg_scope(), GUID, "u1")   # references /providers/.../roleDefinitions/<lower guid>
    (f,) = run_rules(RULES, assignments=[ra], definitions=[upper]).of(RULE)
    assert f["fingerprint"] == fingerprint(RULE, GUID) and f["roleDefinitionId"] == upper["id"]


def test_role_listed_under_two_subscriptions_is_one_subject():
    first = role_definition_row(GUID, "Secrets star", data_actions=["*"])
    second = dict(first, id=first["id"].replace(SUB, SUB2))
    rows = [assignment_row(f"/subscriptions/{SUB}", GUID, "u1"), assignment_row(f"/subscriptions/{SUB2}", GUID, "u2")]
    run = run_rules(RULES, assignments=rows, definitions=[first, second])
    (f,) = run.of(RULE)
    assert f["fingerprint"] == fingerprint(RULE, GUID) and f["evidence"]["grantsCount"] == 2
    assert len(run.gaps) == 1


@pytest.mark.parametrize("pattern", ["*", "Microsoft.KeyVault/*", "microsoft.keyvault/VAULTS/*",
                                     "Microsoft.KeyVault/vaults/secrets/*", "Microsoft.KeyVault/vaults/*/getSecret/action",
                                     "*/getSecret/action", "*/read"])
def test_data_wildcards_matching_key_vault_data_actions_fire(pattern):
    role = custom(3, "Star", data_actions=[pattern])
    (f,) = run_rules(RULES, assignments=[assignment_row(rg_scope(), role["name"], "u1")], definitions=[role]).of(RULE)
    assert f["evidence"]["dataActionWildcards"] == [pattern] and f["evidence"]["matchedDataActions"]


@pytest.mark.parametrize("pattern", ["Microsoft.KeyVault/managedHsm/*", "Microsoft.Storage/*", "*/managedHsm/*"])
def test_data_wildcards_outside_key_vault_vaults_do_not_fire(pattern):
    role = custom(4, "Other", data_actions=[pattern])
    assert run_rules(RULES, assignments=[assignment_row(rg_scope(), role["name"], "u1")], definitions=[role]).findings == []


def test_fires_even_when_not_data_actions_carve_everything_out():
    carved = custom(5, "Carved", key_case="pascal", data_actions=["Microsoft.KeyVault/*"],
                    not_data_actions=["Microsoft.KeyVault/vaults/*"])
    run = run_rules(RULES, assignments=[assignment_row(f"/subscriptions/{SUB}", carved["name"], "u1")],
                    definitions=[carved])
    (f,) = run.of(RULE)
    assert f["evidence"]["matchedDataActions"] and f["evidence"]["notDataActions"] == ["Microsoft.KeyVault/vaults/*"]


@pytest.mark.parametrize("pattern,matched", [
    ("Microsoft.KeyVault/*", "Microsoft.KeyVault/vaults/write"),
    ("Microsoft.KeyVault/vaults/*/write", "Microsoft.KeyVault/vaults/accessPolicies/write"),
    ("Microsoft.Authorization/*", "Microsoft.Authorization/roleAssignments/write"),
    ("microsoft.authorization/roleassignments/*", "Microsoft.Authorization/roleAssignments/write"),
    ("*", "Microsoft.KeyVault/vaults/write"),
])
def test_control_wildcards_matching_a_self_grant_action_fire(pattern, matched):
    role = custom(6, "Operator", actions=[pattern])
    (f,) = run_rules(RULES, assignments=[assignment_row(mg_scope("mg-corp"), role["name"], "u1")],
                     definitions=[role]).of(RULE)
    assert f["evidence"]["actionWildcards"] == [pattern] and f["evidence"]["dataActionWildcards"] == []
    assert matched in f["message"]


def test_control_wildcard_fires_even_when_not_actions_carve_it_out():
    role = custom(7, "KV operator", actions=["Microsoft.KeyVault/*"], not_actions=["Microsoft.KeyVault/vaults/write",
                                                                                  "Microsoft.KeyVault/vaults/accessPolicies/write"])
    (f,) = run_rules(RULES, assignments=[assignment_row(rg_scope(), role["name"], "u1")], definitions=[role]).of(RULE)
    assert f["evidence"]["actionWildcards"] == ["Microsoft.KeyVault/*"]
    assert f["evidence"]["notActions"] == ["Microsoft.KeyVault/vaults/accessPolicies/write",
                                           "Microsoft.KeyVault/vaults/write"]


@pytest.mark.parametrize("pattern", ["Microsoft.KeyVault/vaults/deploy/*", "*/read", "Microsoft.KeyVault/vaults/*/read",
                                     "Microsoft.Authorization/roleAssignments/*/read", "Microsoft.Storage/*"])
def test_control_wildcards_matching_no_self_grant_action_do_not_fire(pattern):
    role = custom(8, "Harmless", actions=[pattern])
    assert run_rules(RULES, assignments=[assignment_row(rg_scope(), role["name"], "u1")], definitions=[role]).findings == []


def test_does_not_fire_for_builtin_roles_or_explicit_actions():
    explicit = custom(9, "Explicit", data_actions=["Microsoft.KeyVault/vaults/secrets/getSecret/action"],
                      actions=["Microsoft.KeyVault/vaults/write", "Microsoft.Authorization/roleAssignments/write"])
    builtin_like = custom(10, "Looks built in", data_actions=["*"], custom=False)
    rows = [assignment_row(rg_scope(), KV_ADMIN, "builtin"), assignment_row(rg_scope(), OWNER, "owner"),
            assignment_row(rg_scope(), explicit["name"], "explicit"),
            assignment_row(rg_scope(), builtin_like["name"], "b")]
    assert run_rules(RULES, assignments=rows, definitions=[explicit, builtin_like]).findings == []


def test_role_type_compares_case_insensitively():
    row = custom(11, "Lower", data_actions=["*"])
    row["properties"]["type"] = "customrole"
    (f,) = run_rules(RULES, assignments=[assignment_row("/", row["name"].upper(), "u1")], definitions=[row]).of(RULE)
    assert f["evidence"]["grants"][0]["scopeLevel"] == "root" and f["evidence"]["dataActionWildcards"] == ["*"]


def test_without_a_grant_the_role_does_not_fire():
    assert run_rules(RULES, vaults=[vault_row()], definitions=[STAR_SECRETS]).findings == []


def test_grants_at_other_resources_do_not_count():
    storage = f"{rg_scope()}/providers/Microsoft.Storage/storageAccounts/sa1"
    ra = assignment_row(storage, STAR_SECRETS["name"], "u1")
    assert run_rules(RULES, assignments=[ra], definitions=[STAR_SECRETS]).findings == []


def test_vault_and_object_scopes_name_the_vault():
    rows = [assignment_row(vault_id(), STAR_SECRETS["name"], "u1", name="v"),
            assignment_row(vault_id() + "/secrets/s1", STAR_SECRETS["name"], "u1", name="o")]
    (f,) = run_rules(RULES, vaults=[vault_row(rbac=False)], assignments=rows, definitions=[STAR_SECRETS]).of(RULE)
    levels = {g["assignmentId"].rsplit("/", 1)[-1]: g["scopeLevel"] for g in f["evidence"]["grants"]}
    assert levels == {"v": "vault", "o": "object"}
    assert f["evidence"]["vaultIds"] == [vault_id()] and f["affected"] == {"vaults": 1, "rbac": 0, "accessPolicy": 1}


@pytest.mark.parametrize("scope", [vault_id("not-collected"), vault_id("not-collected") + "/secrets/s1"])
def test_grant_at_or_inside_a_vault_outside_the_snapshot_counts(scope):
    ra = assignment_row(scope, STAR_SECRETS["name"], "u1")
    (f,) = run_rules(RULES, vaults=[vault_row()], assignments=[ra], definitions=[STAR_SECRETS]).of(RULE)
    assert f["evidence"]["grants"][0]["assignmentId"] == ra["id"]
    assert f["affected"]["vaults"] == 0 and f["evidence"]["vaultIds"] == []


def test_vaults_covered_are_tenant_bound_and_follow_known_ancestry():
    vaults = [vault_row("kv1"), vault_row("kv2", sub=SUB2)]
    rows = [assignment_row("/", STAR_SECRETS["name"], "u1", tenant=OTHER_TENANT),
            assignment_row(mg_scope("mg-corp"), STAR_SECRETS["name"], "u2")]
    (f,) = run_rules(RULES, vaults=vaults, assignments=rows, definitions=[STAR_SECRETS],
                     subscriptions=[subscription_row(), subscription_row(SUB2, mgs=())]).of(RULE)
    assert f["evidence"]["vaultIds"] == [vault_id("kv1")] and f["evidence"]["grantsCount"] == 2


def test_unknown_role_is_not_evaluated():
    run = run_rules(RULES, assignments=[assignment_row(rg_scope(), "99999999-9999-9999-9999-999999999999", "u1")])
    assert run.findings == []
    (n,) = run.not_evaluated
    assert n["ruleId"] == RULE and n["scope"] == rg_scope()


def test_data_patterns_written_in_actions_grant_no_data_and_do_not_fire():
    role = custom(12, "Misplaced", actions=["Microsoft.KeyVault/vaults/secrets/*"])
    assert run_rules(RULES, assignments=[assignment_row(rg_scope(), role["name"], "u1")], definitions=[role]).findings == []


def test_az_cli_shape_of_a_custom_role_is_read_too():
    # `az role definition list` flattens properties and names the role type roleType
    row = {"id": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{GUID}", "name": GUID,
           "type": "Microsoft.Authorization/roleDefinitions", "roleName": "Flat", "roleType": "CustomRole",
           "permissions": [{"actions": [], "notActions": [], "dataActions": ["Microsoft.KeyVault/*"],
                            "notDataActions": []}], "assignableScopes": [f"/subscriptions/{SUB}"]}
    (f,) = run_rules(RULES, assignments=[assignment_row(rg_scope(), GUID, "u1")], definitions=[row]).of(RULE)
    assert f["roleName"] == "Flat" and f["evidence"]["dataActionWildcards"] == ["Microsoft.KeyVault/*"]
