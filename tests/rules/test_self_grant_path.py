"""self-grant-path: control access that can write the vault's access policies."""

from rules import self_grant_path
from tests.factories import (CONTRIBUTOR, KV_ADMIN, KV_CONTRIBUTOR, KV_DATA_ACCESS_ADMIN, OWNER, READER, SUB, TENANT,
                             USER_ACCESS_ADMIN, assignment_row, mg_scope, rg_scope, role_definition_row, run_rules,
                             subscription_row, vault_id, vault_row)

RULES = (self_grant_path,)
AP_VAULT = vault_row(rbac=False)
VAULT_WRITE = "Microsoft.KeyVault/vaults/write"
POLICY_WRITE = "Microsoft.KeyVault/vaults/accessPolicies/write"


def test_fires_for_contributor_at_resource_group():
    ra = assignment_row(rg_scope(), CONTRIBUTOR, "u1", name="ra-contrib")
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=[ra])
    (f,) = run.of("self-grant-path")
    assert f["severity"] == "high" and f["principalId"] == "u1" and f["vaultId"] == vault_id()
    assert f["evidence"]["controlActions"] == [POLICY_WRITE, VAULT_WRITE]
    (a,) = f["evidence"]["assignments"]
    assert a["assignmentId"] == ra["id"] and a["roleName"] == "Contributor" and a["scopeLevel"] == "resourceGroup"
    assert "Contributor" in f["message"] and "kv1" in f["message"] and rg_scope() in f["message"]
    assert ra["id"] in f["remediation"]


def test_one_finding_per_principal_however_many_assignments():
    rows = [assignment_row(vault_id(), KV_CONTRIBUTOR, "u1", name="a"), assignment_row("/", OWNER, "u1", name="b"),
            assignment_row(f"/subscriptions/{SUB}", CONTRIBUTOR, "U1", name="c"),
            assignment_row(vault_id(), OWNER, "u2", name="d")]
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=rows)
    by_principal = {f["principalId"].lower(): f for f in run.of("self-grant-path")}
    assert set(by_principal) == {"u1", "u2"}
    u1 = by_principal["u1"]
    assert u1["evidence"]["assignmentCount"] == 3
    assert {a["scopeLevel"] for a in u1["evidence"]["assignments"]} == {"vault", "root", "subscription"}


def test_does_not_fire_on_rbac_vaults_or_for_roles_without_vault_write():
    rows = [assignment_row(rg_scope(), OWNER, "u1")]
    assert run_rules(RULES, vaults=[vault_row(rbac=True)], assignments=rows).findings == []
    rows = [assignment_row(rg_scope(), r, f"p{i}")
            for i, r in enumerate((READER, USER_ACCESS_ADMIN, KV_DATA_ACCESS_ADMIN, KV_ADMIN))]
    assert run_rules(RULES, vaults=[AP_VAULT], assignments=rows).findings == []


def test_object_scoped_control_grant_does_not_count():
    rows = [assignment_row(vault_id() + "/secrets/s1", OWNER, "u1")]
    assert run_rules(RULES, vaults=[AP_VAULT], assignments=rows).findings == []


def test_not_actions_apply_per_block_and_custom_pascal_keys():
    only_policies = role_definition_row("cccccccc-0000-0000-0000-000000000001", "Policy writer", key_case="pascal",
                                        actions=["Microsoft.KeyVault/vaults/*"], not_actions=[VAULT_WRITE])
    nothing = role_definition_row("cccccccc-0000-0000-0000-000000000002", "No writes",
                                  actions=["Microsoft.KeyVault/*"], not_actions=["Microsoft.KeyVault/vaults/*"])
    rows = [assignment_row(vault_id(), only_policies["name"], "u1"), assignment_row(vault_id(), nothing["name"], "u2")]
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=rows, definitions=[only_policies, nothing])
    (f,) = run.of("self-grant-path")
    assert f["principalId"] == "u1" and f["evidence"]["controlActions"] == [POLICY_WRITE]


def test_management_group_ancestor_covers_the_vault():
    rows = [assignment_row(mg_scope("MG-Contoso"), KV_CONTRIBUTOR, "u1"),
            assignment_row(mg_scope("mg-unrelated"), KV_CONTRIBUTOR, "u2")]
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=rows)
    (f,) = run.of("self-grant-path")
    assert f["principalId"] == "u1" and f["evidence"]["assignments"][0]["scopeLevel"] == "managementGroup"
    # without the subscription's ancestry the management group does not reach the vault
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=rows, subscriptions=[subscription_row(mgs=(TENANT,))])
    assert run.findings == []


def test_conditional_assignment_counts_and_is_marked():
    ra = assignment_row(vault_id(), OWNER, "u1", condition="@Resource[x] StringEquals 'y'")
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=[ra])
    (f,) = run.of("self-grant-path")
    assert f["evidence"]["assignments"][0]["conditional"] is True


def test_group_assignee_is_its_own_subject():
    ra = assignment_row(rg_scope(), CONTRIBUTOR, "g1", principal_type="Group")
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=[ra])
    (f,) = run.of("self-grant-path")
    assert f["principalId"] == "g1" and f["principalType"] == "Group"


def test_unknown_role_is_listed_as_not_evaluated():
    ra = assignment_row(rg_scope(), "99999999-9999-9999-9999-999999999999", "u1")
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=[ra])
    assert run.findings == []
    assert [n["ruleId"] for n in run.not_evaluated] == ["self-grant-path"]
