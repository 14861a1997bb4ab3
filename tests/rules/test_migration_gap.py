"""migration-gap: access-policy entries RBAC does not cover yet (pre-flip)."""

from rules import migration_gap
from tests.factories import (KV_ADMIN, KV_READER, KV_SECRETS_OFFICER, KV_SECRETS_USER, OTHER_TENANT, SUB, TENANT,
                             assignment_row, mg_scope, policy, principal_row, rg_scope, role_definition_row, run_rules,
                             subscription_row, vault_id, vault_row)

RULES = (migration_gap,)


def ap_vault(*entries):
    return vault_row(rbac=False, policies=entries)


def test_fires_when_no_rbac_covers_the_entry():
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["get", "list"]))])
    (f,) = run.of("migration-gap")
    assert f["severity"] == "low" and f["principalId"] == "u1" and f["vaultId"] == vault_id()
    assert f["evidence"]["missingDataActions"] == ["Microsoft.KeyVault/vaults/secrets/getSecret/action",
                                                   "Microsoft.KeyVault/vaults/secrets/readMetadata/action"]
    assert "none of it" in f["message"] and "kv1" in f["message"] and "u1" in f["message"]
    assert "Key Vault Secrets User" in f["remediation"] and vault_id() in f["remediation"]


def test_partial_coverage_lists_only_the_missing_actions():
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["get", "set"]))],
                    assignments=[assignment_row(rg_scope(), KV_SECRETS_USER, "u1")])
    (f,) = run.of("migration-gap")
    assert f["evidence"]["missingDataActions"] == ["Microsoft.KeyVault/vaults/secrets/setSecret/action",
                                                   "Microsoft.KeyVault/vaults/secrets/update/action"]
    assert "only part of it" in f["message"]
    assert f["evidence"]["partiallyCoveredBy"][0]["scopeLevel"] == "resourceGroup"


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


def test_object_scoped_grant_does_not_cover():
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["get"]))],
                    assignments=[assignment_row(vault_id() + "/secrets/s1", KV_ADMIN, "u1")])
    (f,) = run.of("migration-gap")
    assert f["evidence"]["objectScopedGrants"][0]["scopeLevel"] == "object"


def test_not_data_actions_do_not_deny_across_roles():
    carve = role_definition_row("cccccccc-0000-0000-0000-000000000001", "No get", key_case="pascal",
                                data_actions=["Microsoft.KeyVault/vaults/secrets/*"],
                                not_data_actions=["Microsoft.KeyVault/vaults/secrets/getSecret/action"])
    entry = policy("u1", secrets=["get", "list"])
    only_carved = run_rules(RULES, vaults=[ap_vault(entry)], definitions=[carve],
                            assignments=[assignment_row(vault_id(), carve["name"], "u1")])
    (f,) = only_carved.of("migration-gap")
    assert f["evidence"]["missingDataActions"] == ["Microsoft.KeyVault/vaults/secrets/getSecret/action"]
    both = run_rules(RULES, vaults=[ap_vault(entry)], definitions=[carve],
                     assignments=[assignment_row(vault_id(), carve["name"], "u1"),
                                  assignment_row(vault_id(), KV_SECRETS_USER, "u1")])
    assert both.findings == []


def test_two_entries_same_object_id_are_judged_separately():
    entries = [policy("u1", keys=["get", "list"]), policy("u1", tenant=OTHER_TENANT, secrets=["get"])]
    run = run_rules(RULES, vaults=[ap_vault(*entries)], assignments=[assignment_row(vault_id(), KV_READER, "u1")])
    (f,) = run.of("migration-gap")   # Key Vault Reader covers keys get/list, not secrets get
    assert f["evidence"]["policyEntry"]["tenantId"] == OTHER_TENANT


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
    assert f["evidence"]["partiallyCoveredBy"][0]["conditional"] is True
    assert "getSecret" not in " ".join(f["evidence"]["missingDataActions"])


def test_unknown_role_is_not_evaluated_and_grants_nothing():
    ra = assignment_row(vault_id(), "99999999-9999-9999-9999-999999999999", "u1")
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["get"]))], assignments=[ra])
    assert len(run.of("migration-gap")) == 1
    (n,) = run.not_evaluated
    assert n["ruleId"] == "migration-gap" and n["vaultId"] == vault_id()


def test_management_group_not_in_the_subscription_chain_does_not_cover():
    subs = [subscription_row(mgs=("mg-corp", TENANT))]
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["get"]))], subscriptions=subs,
                    assignments=[assignment_row(mg_scope("mg-contoso"), KV_SECRETS_USER, "u1")])
    assert len(run.of("migration-gap")) == 1
