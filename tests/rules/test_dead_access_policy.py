"""dead-access-policy: passing, failing and edge rows."""

from rules import dead_access_policy, stranded_access_policy
from tests.factories import (KV_ADMIN, KV_SECRETS_USER, OTHER_TENANT, TENANT, assignment_row, policy, principal_row,
                             rg_scope, run_rules, vault_id, vault_row)

RULES = (dead_access_policy, stranded_access_policy)


def test_fires_when_rbac_covers_the_entry():
    run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["get", "list"])])],
                    assignments=[assignment_row(vault_id(), KV_SECRETS_USER, "u1")])
    (f,) = run.of("dead-access-policy")
    assert f["principalId"] == "u1" and f["severity"] == "low"
    assert f["evidence"]["coveredBy"][0]["roleName"] == "Key Vault Secrets User"
    assert not run.of("stranded-access-policy")


def test_does_not_fire_when_rbac_misses_an_action():
    run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["get", "list", "set"])])],
                    assignments=[assignment_row(vault_id(), KV_SECRETS_USER, "u1")])
    assert not run.of("dead-access-policy")
    assert len(run.of("stranded-access-policy")) == 1


def test_does_not_apply_to_access_policy_vaults():
    run = run_rules(RULES, vaults=[vault_row(rbac=False, policies=[policy("u1", secrets=["get"])])],
                    assignments=[assignment_row(vault_id(), KV_ADMIN, "u1")])
    assert run.findings == []


def test_entry_granting_nothing_is_dead_without_any_rbac():
    run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=[], keys=[])])])
    (f,) = run.of("dead-access-policy")
    assert "grants no data action" in f["message"]


def test_odd_casing_of_ids_permissions_and_role_id():
    row = vault_row(policies=[policy("AbC-1", secrets=["Get", "LIST"])])
    ra = assignment_row(rg_scope().upper().replace("/SUBSCRIPTIONS/", "/subscriptions/"), KV_SECRETS_USER.upper(), "abc-1",
                        role_prefix="/subscriptions/X")
    run = run_rules(RULES, vaults=[row], assignments=[ra])
    assert len(run.of("dead-access-policy")) == 1


def test_object_scoped_grant_does_not_cover():
    run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["get"])])],
                    assignments=[assignment_row(vault_id() + "/secrets/db-password", KV_ADMIN, "u1")])
    assert not run.of("dead-access-policy")
    (f,) = run.of("stranded-access-policy")
    assert f["evidence"]["objectScopedGrants"][0]["scopeLevel"] == "object"


def test_two_entries_same_object_id_are_two_subjects():
    entries = [policy("u1", secrets=["get"]), policy("u1", tenant=OTHER_TENANT, secrets=["list"])]
    run = run_rules(RULES, vaults=[vault_row(policies=entries)],
                    assignments=[assignment_row(vault_id(), KV_SECRETS_USER, "u1")])
    fps = {f["fingerprint"] for f in run.of("dead-access-policy")}
    assert len(fps) == 2


def test_group_membership_counts_only_with_directory_data():
    row = vault_row(policies=[policy("u1", secrets=["get"])])
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "g1", principal_type="Group")
    without = run_rules(RULES, vaults=[row], assignments=[ra])
    assert without.of("stranded-access-policy") and not without.of("dead-access-policy")
    assert "not expanded" in without.of("stranded-access-policy")[0]["evidence"]["groups"]
    with_dir = run_rules(RULES, vaults=[row], assignments=[ra],
                         principals=[principal_row("u1", member_of=["G1"]), principal_row("g1", "group")])
    assert with_dir.of("dead-access-policy") and not with_dir.of("stranded-access-policy")


def test_missing_tenant_and_permissions_properties():
    entry = {"objectId": "u1"}  # no tenantId, no permissions
    run = run_rules(RULES, vaults=[vault_row(policies=[entry])])
    (f,) = run.of("dead-access-policy")
    assert f["evidence"]["policyEntry"]["tenantId"] == TENANT
