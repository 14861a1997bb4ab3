"""stranded-access-policy: entries on RBAC vaults whose access RBAC does not give (catalog 2: one finding per vault)."""

from rules import dead_access_policy, stranded_access_policy
from rules.base import fingerprint
from tests.factories import (actions, KV_ADMIN, KV_SECRETS_OFFICER, KV_SECRETS_USER, OTHER_TENANT, SUB, TENANT, assignment_row,
                             deny_row, eligibility_row, mg_scope, policy, principal_row, rg_scope, role_definition_row,
                             run_rules, subscription_row, vault_id, vault_row)

RULES = (stranded_access_policy, dead_access_policy)
GET = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
LIST = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
SET = ["Microsoft.KeyVault/vaults/secrets/setSecret/action", "Microsoft.KeyVault/vaults/secrets/update/action"]
APP = "11111111-aaaa-bbbb-cccc-000000000001"


def entries_of(finding):
    return finding["evidence"]["entries"]


def test_fires_with_the_missing_actions():
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1")
    run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["get", "list", "set"])])], assignments=[ra])
    (f,) = run.of("stranded-access-policy")
    assert f["severity"] == "high" and f["principalId"] == "u1" and f["vaultId"] == vault_id()
    assert f["subject"] == "vault" and f["fingerprint"] == fingerprint("stranded-access-policy", vault_id())
    assert f["evidence"]["entriesCount"] == 1
    (item,) = entries_of(f)
    assert item["objectId"] == "u1" and item["index"] == 0
    assert "tenantId" not in item and "permissions" not in item   # same tenant as the vault; permissions: access export
    assert actions(item["missingDataActionsInWords"]) == SET
    assert item["missingDataActionsInWords"] == "secrets: setSecret, update"
    assert item["coveredBy"] == "part of it" and actions(item["rbacDataActionsInWords"]) == [GET, LIST]
    assert item["partiallyCoveredBy"][0]["assignmentId"] == ra["id"] and item["objectScopedGrants"] == []
    assert "kv1" in f["message"] and "setSecret" in f["message"]
    assert '--role "Key Vault Secrets Officer"' in f["remediation"] and vault_id() in f["remediation"]
    assert "--assignee-object-id u1" in f["remediation"]
    assert not run.of("dead-access-policy")


def test_principal_without_any_rbac_is_stranded_with_none_of_it():
    run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["get"])])])
    (f,) = run.of("stranded-access-policy")
    (item,) = entries_of(f)
    assert item["coveredBy"] == "none of it" and actions(item["missingDataActionsInWords"]) == [GET]
    assert actions(item["rbacDataActionsInWords"]) == [] and item["partiallyCoveredBy"] == []


def test_suggested_role_follows_the_missing_actions_of_the_first_entry():
    cases = {("secrets", ("get",)): "Key Vault Secrets User", ("secrets", ("set",)): "Key Vault Secrets Officer",
             ("keys", ("sign",)): "Key Vault Crypto Officer",
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
    assert run_rules(RULES, vaults=[vault_row(rbac=None, policies=[policy("u1", secrets=["get"])])]).findings == []


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
    (item,) = entries_of(f)
    assert item["objectScopedGrants"][0]["assignmentId"].lower().startswith(scope.lower() + "/")
    assert item["coveredBy"] == "none of it"


def test_not_data_actions_are_not_denies_across_roles():
    carve = role_definition_row("cccccccc-0000-0000-0000-000000000001", "No set", key_case="pascal",
                                data_actions=["Microsoft.KeyVault/vaults/secrets/*"],
                                not_data_actions=["Microsoft.KeyVault/vaults/secrets/setSecret/action"])
    officer_like = role_definition_row("cccccccc-0000-0000-0000-000000000002", "Set only", data_actions=SET)
    entry = policy("u1", secrets=["get", "set"])
    alone = run_rules(RULES, vaults=[vault_row(policies=[entry])], definitions=[carve],
                      assignments=[assignment_row(vault_id(), carve["name"], "u1")])
    assert actions(entries_of(alone.of("stranded-access-policy")[0])[0]["missingDataActionsInWords"]) == [SET[0]]
    both = run_rules(RULES, vaults=[vault_row(policies=[entry])], definitions=[carve, officer_like],
                     assignments=[assignment_row(vault_id(), carve["name"], "u1"),
                                  assignment_row(rg_scope(), officer_like["name"], "u1")])
    assert not both.of("stranded-access-policy")


def test_conditional_assignment_counts_with_flag():
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1", condition="@Resource[x] StringEquals 'y'")
    run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["get", "set"])])], assignments=[ra])
    (f,) = run.of("stranded-access-policy")
    (item,) = entries_of(f)
    assert item["partiallyCoveredBy"][0]["conditional"] is True
    assert actions(item["missingDataActionsInWords"]) == SET


def test_unknown_role_grants_nothing_and_is_not_evaluated():
    ra = assignment_row(vault_id(), "99999999-9999-9999-9999-999999999999", "u1")
    run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["get"])])], assignments=[ra])
    assert len(run.of("stranded-access-policy")) == 1
    assert {n["ruleId"] for n in run.not_evaluated} == {"stranded-access-policy", "dead-access-policy"}


def test_entries_with_the_same_object_id_are_judged_separately():
    entries = [policy("u1", secrets=["get"]), policy("U1", secrets=["set"]), policy("u1", keys=["get"])]
    run = run_rules(RULES, vaults=[vault_row(policies=entries)],
                    assignments=[assignment_row(vault_id(), KV_SECRETS_USER, "u1")])
    (f,) = run.of("stranded-access-policy")
    assert [e["objectId"] for e in entries_of(f)] == ["U1", "u1"]
    assert actions(entries_of(f)[0]["missingDataActionsInWords"]) == SET and f["evidence"]["entriesCount"] == 2
    (d,) = run.of("dead-access-policy")
    assert [e["permissions"] for e in entries_of(d)] == [{"secrets": ["get"]}]


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


# -- catalog 2 -----------------------------------------------------------------------------------


def test_one_finding_per_vault_and_per_vault_subjects():
    vaults = [vault_row("kv1", policies=[policy("u1", secrets=["get"]), policy("u2", keys=["get"])]),
              vault_row("kv2", policies=[policy("u1", secrets=["get"])])]
    run = run_rules(RULES, vaults=vaults)
    found = {f["vaultId"]: f for f in run.of("stranded-access-policy")}
    assert set(found) == {vault_id("kv1"), vault_id("kv2")}
    assert found[vault_id("kv1")]["evidence"]["entriesCount"] == 2
    assert "2 principal entries" in found[vault_id("kv1")]["message"]
    assert found[vault_id("kv2")]["fingerprint"] == fingerprint("stranded-access-policy", vault_id("kv2"))
    assert len({f["fingerprint"] for f in found.values()}) == 2


def test_evidence_is_capped_at_100_entries():
    entries = [policy(f"u{i:03d}", secrets=["get"]) for i in range(101)]
    (f,) = run_rules(RULES, vaults=[vault_row(policies=entries)]).of("stranded-access-policy")
    assert len(entries_of(f)) == 100 and f["evidence"]["entriesCount"] == 101


def test_cross_tenant_entry_is_never_stranded():
    entries = [policy("u1", tenant=OTHER_TENANT, secrets=["get", "set"]), policy("u2", secrets=["get"])]
    run = run_rules(RULES, vaults=[vault_row(policies=entries)])
    (f,) = run.of("stranded-access-policy")
    assert [e["objectId"] for e in entries_of(f)] == ["u2"]
    (d,) = run.of("dead-access-policy")
    assert [e["objectId"] for e in entries_of(d)] == ["u1"] and entries_of(d)[0]["crossTenant"] is True


def test_compound_entry_is_judged_as_any_entry():
    entry = policy("u1", application_id=APP, secrets=["get", "list"])
    run = run_rules(RULES, vaults=[vault_row(policies=[entry])])
    (f,) = run.of("stranded-access-policy")
    assert entries_of(f)[0]["applicationId"] == APP
    covered = run_rules(RULES, vaults=[vault_row(policies=[entry])],
                        assignments=[assignment_row(vault_id(), KV_SECRETS_USER, "u1")])
    assert covered.of("dead-access-policy") and not covered.of("stranded-access-policy")


def test_eligible_grant_does_not_cover():
    rei = eligibility_row(vault_id(), KV_SECRETS_OFFICER, "u1")
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1")
    run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["get", "set"])])],
                    assignments=[ra], eligibilities=[rei])
    (f,) = run.of("stranded-access-policy")
    (item,) = entries_of(f)
    assert actions(item["missingDataActionsInWords"]) == SET
    assert [g["assignmentId"] for g in item["partiallyCoveredBy"]] == [ra["id"]]   # the eligible grant is not listed
    assert not run.of("dead-access-policy")


def test_deny_assignment_strands_an_entry_rbac_would_cover():
    row = vault_row(policies=[policy("u1", secrets=["get", "list"])])
    ra = assignment_row(rg_scope(), KV_SECRETS_OFFICER, "u1")
    for deny in (deny_row(vault_id(), data_actions=[GET]), deny_row(vault_id(), data_actions=[GET], children=False),
                 deny_row(f"/subscriptions/{SUB}", principals=["U1"], data_actions=["Microsoft.KeyVault/vaults/secrets/*"],
                          not_data_actions=[LIST])):
        run = run_rules(RULES, vaults=[row], assignments=[ra], denies=[deny])
        (f,) = run.of("stranded-access-policy")
        assert actions(entries_of(f)[0]["missingDataActionsInWords"]) == [GET]
        assert entries_of(f)[0]["coveredBy"] == "part of it"


def test_deny_that_does_not_apply_leaves_coverage():
    row = vault_row(policies=[policy("u1", secrets=["get", "list"])])
    ra = assignment_row(rg_scope(), KV_SECRETS_OFFICER, "u1")
    for deny in (deny_row(rg_scope(), data_actions=[GET], children=False),       # not the vault itself
                 deny_row(vault_id() + "/secrets/s1", data_actions=[GET]),      # inside the vault: never applies
                 deny_row(vault_id(), principals=["u2"], data_actions=[GET]),
                 deny_row(vault_id(), exclude=["u1"], data_actions=[GET]),
                 deny_row("/", data_actions=[GET], tenant=OTHER_TENANT),
                 deny_row(mg_scope("mg-corp"), data_actions=[GET], tenant=OTHER_TENANT)):
        run = run_rules(RULES, vaults=[row], assignments=[ra], denies=[deny])
        assert not run.of("stranded-access-policy"), deny["properties"]["scope"]
        assert run.of("dead-access-policy")


def test_root_grant_of_another_tenant_does_not_cover():
    row = vault_row(policies=[policy("u1", secrets=["get"])])
    run = run_rules(RULES, vaults=[row], assignments=[assignment_row("/", KV_ADMIN, "u1", tenant=OTHER_TENANT)])
    (f,) = run.of("stranded-access-policy")
    assert entries_of(f)[0]["coveredBy"] == "none of it"
    missing_tenant = run_rules(RULES, vaults=[row], assignments=[assignment_row("/", KV_ADMIN, "u1", tenant=None)])
    assert not missing_tenant.of("stranded-access-policy")


def test_unknown_ancestry_is_not_evaluated():
    row = vault_row(policies=[policy("u1", secrets=["get"])])
    run = run_rules(RULES, vaults=[row], subscriptions=[subscription_row(mgs=())],
                    assignments=[assignment_row(mg_scope(TENANT), KV_ADMIN, "u1")])
    assert run.findings == []
    assert {n["ruleId"] for n in run.not_evaluated if n["vaultId"] == vault_id()} == {
        "stranded-access-policy", "dead-access-policy"}
    # an eligible grant at a management group is enough to make the chain matter
    run = run_rules(RULES, vaults=[row], subscriptions=[subscription_row(mgs=())],
                    eligibilities=[eligibility_row(mg_scope("mg-corp"), KV_ADMIN, "u9")])
    assert run.findings == [] and len(run.not_evaluated) == 2
