"""stranded-access-policy: entries on RBAC vaults whose access RBAC does not give."""

from rules import dead_access_policy, stranded_access_policy
from tests.factories import (KV_ADMIN, KV_SECRETS_USER, OTHER_TENANT, SUB, TENANT, assignment_row, mg_scope, policy,
                             principal_row, rg_scope, role_definition_row, run_rules, subscription_row, vault_id,
                             vault_row)

RULES = (stranded_access_policy, dead_access_policy)
SET = ["Microsoft.KeyVault/vaults/secrets/setSecret/action", "Microsoft.KeyVault/vaults/secrets/update/action"]


def test_fires_with_the_missing_actions():
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1")
    run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["get", "list", "set"])])], assignments=[ra])
    (f,) = run.of("stranded-access-policy")
    assert f["severity"] == "high" and f["principalId"] == "u1" and f["vaultId"] == vault_id()
    assert f["evidence"]["missingDataActions"] == SET
    assert f["evidence"]["partiallyCoveredBy"][0]["assignmentId"] == ra["id"]
    assert "kv1" in f["message"] and "setSecret" in f["message"]
    assert '--role "Key Vault Secrets Officer"' in f["remediation"] and vault_id() in f["remediation"]
    assert not run.of("dead-access-policy")


def test_suggested_role_follows_the_missing_actions():
    cases = {("secrets", ("get",)): "Key Vault Secrets User", ("keys", ("sign",)): "Key Vault Crypto Officer",
             ("certificates", ("get",)): "Key Vault Certificates Officer", ("storage", ("get",)): "Key Vault Administrator"}
    for (category, names), role in cases.items():
        run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", **{category: list(names)})])])
        (f,) = run.of("stranded-access-policy")
        assert f'--role "{role}"' in f["remediation"], category


def test_does_not_fire_when_covered_from_above():
    for scope in (rg_scope(), f"/subscriptions/{SUB}", mg_scope("mg-corp"), mg_scope(TENANT), "/"):
        run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["all"])])],
                        assignments=[assignment_row(scope, KV_ADMIN, "u1")])
        assert not run.of("stranded-access-policy"), scope
        assert run.of("dead-access-policy")


def test_does_not_apply_to_access_policy_vaults():
    assert run_rules(RULES, vaults=[vault_row(rbac=False, policies=[policy("u1", secrets=["get"])])]).findings == []


def test_management_group_outside_the_chain_does_not_cover():
    run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["get"])])],
                    subscriptions=[subscription_row(mgs=("mg-other", TENANT))],
                    assignments=[assignment_row(mg_scope("mg-corp"), KV_ADMIN, "u1")])
    assert len(run.of("stranded-access-policy")) == 1


def test_object_scoped_grant_is_evidence_not_coverage():
    scope = vault_id() + "/secrets/s1"
    run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["get"])])],
                    assignments=[assignment_row(scope, KV_ADMIN, "u1")])
    (f,) = run.of("stranded-access-policy")
    assert f["evidence"]["objectScopedGrants"][0]["scope"] == scope


def test_not_data_actions_are_not_denies_across_roles():
    carve = role_definition_row("cccccccc-0000-0000-0000-000000000001", "No set", key_case="pascal",
                                data_actions=["Microsoft.KeyVault/vaults/secrets/*"],
                                not_data_actions=["Microsoft.KeyVault/vaults/secrets/setSecret/action"])
    officer_like = role_definition_row("cccccccc-0000-0000-0000-000000000002", "Set only", data_actions=SET)
    entry = policy("u1", secrets=["get", "set"])
    alone = run_rules(RULES, vaults=[vault_row(policies=[entry])], definitions=[carve],
                      assignments=[assignment_row(vault_id(), carve["name"], "u1")])
    assert alone.of("stranded-access-policy")[0]["evidence"]["missingDataActions"] == [SET[0]]
    both = run_rules(RULES, vaults=[vault_row(policies=[entry])], definitions=[carve, officer_like],
                     assignments=[assignment_row(vault_id(), carve["name"], "u1"),
                                  assignment_row(rg_scope(), officer_like["name"], "u1")])
    assert not both.of("stranded-access-policy")


def test_conditional_assignment_counts_with_flag():
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1", condition="@Resource[x] StringEquals 'y'")
    run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["get", "set"])])], assignments=[ra])
    (f,) = run.of("stranded-access-policy")
    assert f["evidence"]["partiallyCoveredBy"][0]["conditional"] is True
    assert f["evidence"]["missingDataActions"] == SET


def test_unknown_role_grants_nothing_and_is_not_evaluated():
    ra = assignment_row(vault_id(), "99999999-9999-9999-9999-999999999999", "u1")
    run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["get"])])], assignments=[ra])
    assert len(run.of("stranded-access-policy")) == 1
    assert {n["ruleId"] for n in run.not_evaluated} == {"stranded-access-policy", "dead-access-policy"}


def test_two_entries_same_object_id_judged_separately():
    entries = [policy("u1", secrets=["get"]), policy("U1", tenant=OTHER_TENANT, secrets=["set"])]
    run = run_rules(RULES, vaults=[vault_row(policies=entries)],
                    assignments=[assignment_row(vault_id(), KV_SECRETS_USER, "u1")])
    (f,) = run.of("stranded-access-policy")
    assert f["evidence"]["policyEntry"]["tenantId"] == OTHER_TENANT
    assert len(run.of("dead-access-policy")) == 1


def test_group_grant_with_and_without_directory_data():
    row = vault_row(policies=[policy("u1", secrets=["get"])])
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "G1", principal_type="Group")
    assert run_rules(RULES, vaults=[row], assignments=[ra]).of("stranded-access-policy")
    expanded = run_rules(RULES, vaults=[row], assignments=[ra], principals=[principal_row("U1", member_of=["g1"])])
    assert not expanded.of("stranded-access-policy")


def test_odd_permission_casing_and_unknown_permission_names():
    entry = policy("u1", Secrets=["GET", "frobnicate"])
    run = run_rules(RULES, vaults=[vault_row(policies=[entry])],
                    assignments=[assignment_row(vault_id(), KV_SECRETS_USER, "u1")])
    assert not run.of("stranded-access-policy") and run.of("dead-access-policy")
