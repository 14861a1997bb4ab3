"""migration-gap: access-policy entries RBAC does not cover yet (pre-flip; catalog 2: one finding per vault)."""

from rules import migration_gap
from rules.base import fingerprint
from tests.factories import (actions, KV_ADMIN, KV_READER, KV_SECRETS_OFFICER, KV_SECRETS_USER, OTHER_TENANT, SUB, SUB2, TENANT,
                             assignment_row, deny_row, eligibility_row, mg_scope, policy, principal_row, rg_scope,
                             role_definition_row, run_rules, subscription_row, vault_id, vault_row)

RULES = (migration_gap,)
GET = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
LIST = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
SET = ["Microsoft.KeyVault/vaults/secrets/setSecret/action", "Microsoft.KeyVault/vaults/secrets/update/action"]
APP = "11111111-aaaa-bbbb-cccc-000000000001"


def ap_vault(*entries, name="kv1", **kw):
    return vault_row(name, rbac=False, policies=entries, **kw)


def entries_of(finding):
    return finding["evidence"]["entries"]


def test_fires_when_no_rbac_covers_the_entry():
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["get", "list"]))])
    (f,) = run.of("migration-gap")
    assert f["severity"] == "low" and f["principalId"] == "u1" and f["vaultId"] == vault_id()
    assert f["subject"] == "vault" and f["fingerprint"] == fingerprint("migration-gap", vault_id())
    (item,) = entries_of(f)
    assert actions(item["missingDataActionsInWords"]) == [GET, LIST] and item["coveredBy"] == "none of it"
    assert item["missingDataActionsInWords"] == "secrets: getSecret, readMetadata"
    assert item["objectId"] == "u1" and item["index"] == 0
    assert "permissions" not in item and "tenantId" not in item   # the access export has them (report 2)
    assert "kv1" in f["message"] and "1 access-policy entry" in f["message"]
    assert "Key Vault Secrets User" in f["remediation"] and vault_id() in f["remediation"]
    assert "--assignee-object-id u1" in f["remediation"]


def test_partial_coverage_lists_only_the_missing_actions():
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["get", "set"]))],
                    assignments=[assignment_row(rg_scope(), KV_SECRETS_USER, "u1")])
    (f,) = run.of("migration-gap")
    (item,) = entries_of(f)
    assert actions(item["missingDataActionsInWords"]) == SET and item["coveredBy"] == "part of it"
    assert actions(item["rbacDataActionsInWords"]) == [GET, LIST]
    assert item["partiallyCoveredBy"][0]["scopeLevel"] == "resourceGroup"


def test_does_not_fire_when_covered_from_any_ancestor_scope():
    entry = policy("u1", secrets=["all"])
    for scope in (vault_id(), rg_scope(), f"/subscriptions/{SUB}", mg_scope("mg-contoso"), mg_scope(TENANT), "/"):
        run = run_rules(RULES, vaults=[ap_vault(entry)], assignments=[assignment_row(scope, KV_SECRETS_OFFICER, "u1")])
        assert run.findings == [], scope


def test_entry_mapping_to_no_data_action_never_fires():
    entries = [policy("u1", secrets=[]), {"objectId": "u2"}, policy("u3", keys=["nonsense"])]
    assert run_rules(RULES, vaults=[ap_vault(*entries)]).findings == []


def test_does_not_apply_to_rbac_vaults():
    assert run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["get"])])]).findings == []


def test_missing_rbac_setting_is_an_access_policy_vault():
    run = run_rules(RULES, vaults=[vault_row(rbac=None, policies=[policy("u1", secrets=["get"])])])
    assert len(run.of("migration-gap")) == 1


def test_object_scoped_grant_does_not_cover():
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["get"]))],
                    assignments=[assignment_row(vault_id() + "/secrets/s1", KV_ADMIN, "u1")])
    (f,) = run.of("migration-gap")
    assert entries_of(f)[0]["objectScopedGrants"][0]["scopeLevel"] == "object"


def test_not_data_actions_do_not_deny_across_roles():
    carve = role_definition_row("cccccccc-0000-0000-0000-000000000001", "No get", key_case="pascal",
                                data_actions=["Microsoft.KeyVault/vaults/secrets/*"],
                                not_data_actions=["Microsoft.KeyVault/vaults/secrets/getSecret/action"])
    entry = policy("u1", secrets=["get", "list"])
    only_carved = run_rules(RULES, vaults=[ap_vault(entry)], definitions=[carve],
                            assignments=[assignment_row(vault_id(), carve["name"], "u1")])
    (f,) = only_carved.of("migration-gap")
    assert actions(entries_of(f)[0]["missingDataActionsInWords"]) == [GET]
    both = run_rules(RULES, vaults=[ap_vault(entry)], definitions=[carve],
                     assignments=[assignment_row(vault_id(), carve["name"], "u1"),
                                  assignment_row(vault_id(), KV_SECRETS_USER, "u1")])
    assert both.findings == []


def test_entries_with_the_same_object_id_are_judged_separately():
    entries = [policy("u1", keys=["get", "list"]), policy("u1", secrets=["get"]), policy("U1", secrets=["list"])]
    run = run_rules(RULES, vaults=[ap_vault(*entries)], assignments=[assignment_row(vault_id(), KV_READER, "u1")])
    (f,) = run.of("migration-gap")   # Key Vault Reader covers keys get/list and secrets list, not secrets get
    assert [(e["index"], e["missingDataActionsInWords"]) for e in entries_of(f)] == [(1, "secrets: getSecret")]
    assert f["evidence"]["entriesCount"] == 1


def test_odd_casing_of_object_id_role_id_and_permission_names():
    run = run_rules(RULES, vaults=[ap_vault(policy("U1-ABC", secrets=["GET", "List"]))],
                    assignments=[assignment_row(vault_id().lower(), KV_SECRETS_USER.upper(), "u1-abc",
                                                role_prefix="/subscriptions/X")])
    assert run.findings == []


def test_group_grant_counts_only_with_directory_data():
    row = ap_vault(policy("u1", secrets=["get"]))
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "g1", principal_type="Group")
    without = run_rules(RULES, vaults=[row], assignments=[ra])
    (f,) = without.of("migration-gap")
    assert "not expanded" in f["evidence"]["groups"]
    with_dir = run_rules(RULES, vaults=[row], assignments=[ra], principals=[principal_row("u1", member_of=["G1"])])
    assert with_dir.findings == []


def test_conditional_grant_counts_and_is_marked():
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1", condition="@Resource[x] StringEquals 'y'")
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["get", "set"]))], assignments=[ra])
    (f,) = run.of("migration-gap")
    (item,) = entries_of(f)
    assert item["partiallyCoveredBy"][0]["conditional"] is True
    assert actions(item["missingDataActionsInWords"]) == SET


def test_unknown_role_is_not_evaluated_and_grants_nothing():
    ra = assignment_row(vault_id(), "99999999-9999-9999-9999-999999999999", "u1")
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["get"]))], assignments=[ra])
    assert len(run.of("migration-gap")) == 1
    (n,) = run.not_evaluated
    assert n["ruleId"] == "migration-gap" and n["vaultId"] == vault_id() and ra["id"] in n["reason"]


def test_management_group_not_in_the_subscription_chain_does_not_cover():
    subs = [subscription_row(mgs=("mg-corp", TENANT))]
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["get"]))], subscriptions=subs,
                    assignments=[assignment_row(mg_scope("mg-contoso"), KV_SECRETS_USER, "u1")])
    assert len(run.of("migration-gap")) == 1


# -- catalog 2 -----------------------------------------------------------------------------------


def test_one_finding_per_vault_with_every_gap_entry():
    entries = [policy("u1", secrets=["get"]), policy("u2", keys=["get"]), policy("u3", secrets=["get"])]
    run = run_rules(RULES, vaults=[ap_vault(*entries), ap_vault(policy("u1", secrets=["get"]), name="kv2")],
                    assignments=[assignment_row(vault_id(), KV_SECRETS_USER, "u3")])
    by_vault = {f["vaultId"]: f for f in run.of("migration-gap")}
    assert set(by_vault) == {vault_id(), vault_id("kv2")}
    assert [e["objectId"] for e in entries_of(by_vault[vault_id()])] == ["u1", "u2"]
    assert by_vault[vault_id()]["evidence"]["entriesCount"] == 2 and "2 access-policy entries" in \
        by_vault[vault_id()]["message"]


def test_evidence_is_capped_at_100_entries():
    entries = [policy(f"u{i:03d}", keys=["get"]) for i in range(150)]
    (f,) = run_rules(RULES, vaults=[ap_vault(*entries)]).of("migration-gap")
    assert len(entries_of(f)) == 100 and f["evidence"]["entriesCount"] == 150


def test_cross_tenant_entry_never_gives_a_gap():
    entries = [policy("u1", tenant=OTHER_TENANT, secrets=["get"]), policy("u1", tenant=OTHER_TENANT.upper(), keys=["all"])]
    assert run_rules(RULES, vaults=[ap_vault(*entries)]).findings == []
    # without the vault's tenant the entry cannot be proven foreign: it is judged
    run = run_rules(RULES, vaults=[ap_vault(*entries, omit=("tenantId",))])
    assert run.of("migration-gap")[0]["evidence"]["entriesCount"] == 2


def test_compound_entry_is_judged_as_any_entry():
    entry = policy("u1", application_id=APP, secrets=["get", "list"])
    (f,) = run_rules(RULES, vaults=[ap_vault(entry)]).of("migration-gap")
    assert entries_of(f)[0]["applicationId"] == APP
    assert run_rules(RULES, vaults=[ap_vault(entry)],
                     assignments=[assignment_row(vault_id(), KV_SECRETS_USER, "u1")]).findings == []


def test_eligible_grant_is_not_coverage():
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["get", "list"]))],
                    eligibilities=[eligibility_row(vault_id(), KV_SECRETS_USER, "u1"),
                                   eligibility_row("/", KV_ADMIN, "u1")])
    (f,) = run.of("migration-gap")
    assert entries_of(f)[0]["coveredBy"] == "none of it" and entries_of(f)[0]["partiallyCoveredBy"] == []


def test_deny_assignment_leaves_a_gap_rbac_would_otherwise_cover():
    row = ap_vault(policy("u1", secrets=["get", "list"]))
    ra = assignment_row(f"/subscriptions/{SUB}", KV_SECRETS_USER, "u1")
    run = run_rules(RULES, vaults=[row], assignments=[ra], denies=[deny_row(rg_scope(), data_actions=[LIST])])
    (f,) = run.of("migration-gap")
    assert actions(entries_of(f)[0]["missingDataActionsInWords"]) == [LIST] and actions(entries_of(f)[0]["rbacDataActionsInWords"]) == [GET]
    # a deny with doNotApplyToChildScopes at the resource group does not reach the vault
    run = run_rules(RULES, vaults=[row], assignments=[ra],
                    denies=[deny_row(rg_scope(), data_actions=[LIST], children=False)])
    assert run.findings == []


def test_root_and_management_group_grants_are_tenant_bound():
    row = ap_vault(policy("u1", secrets=["get"]))
    for scope in ("/", mg_scope("mg-corp")):
        other = run_rules(RULES, vaults=[row], assignments=[assignment_row(scope, KV_SECRETS_USER, "u1",
                                                                           tenant=OTHER_TENANT)])
        assert len(other.of("migration-gap")) == 1, scope
        same = run_rules(RULES, vaults=[row], assignments=[assignment_row(scope, KV_SECRETS_USER, "u1")])
        assert same.findings == [], scope


def test_unknown_ancestry_is_not_evaluated():
    row = ap_vault(policy("u1", secrets=["get"]))
    run = run_rules(RULES, vaults=[row], subscriptions=[subscription_row(mgs=())],
                    assignments=[assignment_row(mg_scope(TENANT), KV_SECRETS_USER, "u1")])
    assert run.findings == []
    (n,) = run.not_evaluated
    assert n["ruleId"] == "migration-gap" and n["vaultId"] == vault_id()
    assert "management-group ancestry" in n["reason"]
    # a vault whose subscription has no row
    run = run_rules(RULES, vaults=[row], subscriptions=[subscription_row(SUB2)],
                    assignments=[assignment_row(mg_scope("mg-corp"), KV_SECRETS_USER, "u9")])
    assert run.findings == [] and "not in the snapshot" in run.not_evaluated[0]["reason"]
    # empty chain but no management-group grant anywhere: evaluated
    run = run_rules(RULES, vaults=[row], subscriptions=[subscription_row(mgs=())])
    assert len(run.of("migration-gap")) == 1 and run.not_evaluated == []
