"""dead-access-policy: passing, failing and edge rows (catalog 2: one finding per vault, entries in evidence)."""

from rules import dead_access_policy, stranded_access_policy
from rules.base import fingerprint
from tests.factories import (actions, KV_ADMIN, KV_SECRETS_OFFICER, KV_SECRETS_USER, OTHER_TENANT, SUB, SUB2, TENANT, assignment_row,
                             deny_row, eligibility_row, mg_scope, policy, principal_row, rg_scope, run_rules,
                             subscription_row, vault_id, vault_row)

RULES = (dead_access_policy, stranded_access_policy)
GET = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
LIST = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"


def entries_of(finding):
    return finding["evidence"]["entries"]


def test_fires_when_rbac_covers_the_entry():
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1")
    run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["get", "list"])])], assignments=[ra])
    (f,) = run.of("dead-access-policy")
    assert f["severity"] == "low" and f["subject"] == "vault" and f["vaultId"] == vault_id()
    assert f["fingerprint"] == fingerprint("dead-access-policy", vault_id())
    assert f["principalId"] == "u1" and f["assignmentId"] is None
    assert f["evidence"]["entriesCount"] == 1
    (item,) = entries_of(f)
    assert item["objectId"] == "u1" and item["tenantId"] == TENANT and item["applicationId"] is None
    assert item["permissions"] == {"secrets": ["get", "list"]}
    assert actions(item["policyDataActionsInWords"]) == [GET, LIST] and item["crossTenant"] is False
    assert item["coveredBy"][0]["roleName"] == "Key Vault Secrets User"
    assert item["coveredBy"][0]["assignmentId"] == ra["id"]
    assert {"principalName", "principalType", "userType"} <= set(item)
    assert "kv1" in f["message"] and "--object-id u1" in f["remediation"]
    assert not run.of("stranded-access-policy")


def test_does_not_fire_when_rbac_misses_an_action():
    run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["get", "list", "set"])])],
                    assignments=[assignment_row(vault_id(), KV_SECRETS_USER, "u1")])
    assert not run.of("dead-access-policy")
    assert len(run.of("stranded-access-policy")) == 1


def test_does_not_apply_to_access_policy_vaults():
    for rbac in (False, None):
        run = run_rules(RULES, vaults=[vault_row(rbac=rbac, policies=[policy("u1", secrets=["get"])])],
                        assignments=[assignment_row(vault_id(), KV_ADMIN, "u1")])
        assert run.findings == [], rbac


def test_entry_granting_nothing_is_dead_without_any_rbac():
    run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=[], keys=[]),
                                                       policy("u2", keys=["nonsense"])])])
    (f,) = run.of("dead-access-policy")
    assert [e["objectId"] for e in entries_of(f)] == ["u1", "u2"]
    assert all(actions(e["policyDataActionsInWords"]) == [] and e["coveredBy"] == [] for e in entries_of(f))
    assert "grants nothing" in f["message"]
    assert not run.of("stranded-access-policy")


def test_odd_casing_of_ids_permissions_and_role_id():
    row = vault_row(policies=[policy("AbC-1", secrets=["Get", "LIST"])])
    ra = assignment_row(rg_scope().upper().replace("/SUBSCRIPTIONS/", "/subscriptions/"), KV_SECRETS_USER.upper(), "abc-1",
                        role_prefix="/subscriptions/X")
    run = run_rules(RULES, vaults=[row], assignments=[ra])
    (f,) = run.of("dead-access-policy")
    assert entries_of(f)[0]["objectId"] == "AbC-1"


def test_object_scoped_grant_does_not_cover():
    run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["get"])])],
                    assignments=[assignment_row(vault_id() + "/secrets/db-password", KV_ADMIN, "u1")])
    assert not run.of("dead-access-policy")
    (f,) = run.of("stranded-access-policy")
    assert entries_of(f)[0]["objectScopedGrants"][0]["scopeLevel"] == "object"


def test_one_finding_per_vault_listing_every_dead_entry():
    entries = [policy("u1", secrets=["get"]), policy("u1", secrets=["list"]), policy("u2", keys=["get"]),
               policy("u3", secrets=["set"])]
    rows = [assignment_row(vault_id(), KV_SECRETS_USER, "u1"), assignment_row(rg_scope(), KV_ADMIN, "u2")]
    run = run_rules(RULES, vaults=[vault_row(policies=entries)], assignments=rows)
    (f,) = run.of("dead-access-policy")
    # two entries with the same objectId are two evidence items
    assert [(e["objectId"], e["permissions"]) for e in entries_of(f)] == [
        ("u1", {"secrets": ["get"]}), ("u1", {"secrets": ["list"]}), ("u2", {"keys": ["get"]})]
    assert f["evidence"]["entriesCount"] == 3 and "3 access-policy entries" in f["message"]
    (s,) = run.of("stranded-access-policy")     # each entry is dead or stranded, never both
    assert [e["objectId"] for e in entries_of(s)] == ["u3"]


def test_evidence_is_capped_at_100_entries_with_the_full_count():
    entries = [policy(f"u{i:03d}", secrets=[]) for i in range(130)]
    (f,) = run_rules(RULES, vaults=[vault_row(policies=entries)]).of("dead-access-policy")
    assert len(entries_of(f)) == 100 and f["evidence"]["entriesCount"] == 130
    assert entries_of(f)[0]["objectId"] == "u000" and entries_of(f)[-1]["objectId"] == "u099"


def test_fingerprint_is_keyed_by_the_vault_whatever_its_casing_or_entries():
    one = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=[])])]).of("dead-access-policy")
    upper = vault_row(policies=[policy("u9", keys=[]), policy("u8", secrets=[])])
    upper["id"] = upper["id"].upper()
    two = run_rules(RULES, vaults=[upper]).of("dead-access-policy")
    assert one[0]["fingerprint"] == two[0]["fingerprint"] == fingerprint("dead-access-policy", vault_id().lower())


def test_group_membership_counts_only_with_directory_data():
    row = vault_row(policies=[policy("u1", secrets=["get"])])
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "g1", principal_type="Group")
    without = run_rules(RULES, vaults=[row], assignments=[ra])
    assert without.of("stranded-access-policy") and not without.of("dead-access-policy")
    assert "not expanded" in without.of("stranded-access-policy")[0]["evidence"]["groups"]
    with_dir = run_rules(RULES, vaults=[row], assignments=[ra],
                         principals=[principal_row("u1", member_of=["G1"]), principal_row("g1", "group")])
    (f,) = with_dir.of("dead-access-policy")
    assert not with_dir.of("stranded-access-policy")
    item = entries_of(f)[0]
    assert item["coveredBy"][0]["principalId"] == "g1"
    assert item["principalName"] == "user u1" and item["principalType"] == "user" and item["userType"] == "Member"
    assert "expanded from directory data" in f["evidence"]["groups"]


def test_missing_tenant_and_permissions_properties():
    entry = {"objectId": "u1"}  # no tenantId, no permissions
    run = run_rules(RULES, vaults=[vault_row(policies=[entry])])
    (f,) = run.of("dead-access-policy")
    (item,) = entries_of(f)
    assert item["objectId"] == "u1" and item["crossTenant"] is False and actions(item["policyDataActionsInWords"]) == []


# -- catalog 2 -----------------------------------------------------------------------------------


def test_cross_tenant_entry_is_dead_even_without_any_rbac():
    entries = [policy("u1", tenant=OTHER_TENANT, secrets=["get", "list", "set"])]
    run = run_rules(RULES, vaults=[vault_row(policies=entries)])
    (f,) = run.of("dead-access-policy")
    (item,) = entries_of(f)
    assert item["crossTenant"] is True and item["tenantId"] == OTHER_TENANT and item["coveredBy"] == []
    assert not run.of("stranded-access-policy")


def test_cross_tenant_needs_both_tenant_ids():
    # entry without tenantId, or vault without properties.tenantId: not cross-tenant, judged on RBAC (here: none)
    for row in (vault_row(policies=[{"objectId": "u1", "permissions": {"secrets": ["get"]}}]),
                vault_row(policies=[policy("u1", tenant=OTHER_TENANT, secrets=["get"])], omit=("tenantId",))):
        run = run_rules(RULES, vaults=[row])
        assert not run.of("dead-access-policy")
        assert len(run.of("stranded-access-policy")) == 1
    # tenant ids compare case-insensitively
    run = run_rules(RULES, vaults=[vault_row(policies=[policy("u1", tenant=TENANT.upper(), secrets=["get"])])])
    assert not run.of("dead-access-policy") and run.of("stranded-access-policy")


def test_eligible_grant_is_not_coverage():
    row = vault_row(policies=[policy("u1", secrets=["get", "list"])])
    run = run_rules(RULES, vaults=[row], eligibilities=[eligibility_row(vault_id(), KV_SECRETS_USER, "u1")])
    assert not run.of("dead-access-policy")
    (f,) = run.of("stranded-access-policy")
    assert entries_of(f)[0]["coveredBy"] == "none of it" and entries_of(f)[0]["partiallyCoveredBy"] == []


def test_deny_assignment_removes_coverage():
    row = vault_row(policies=[policy("u1", secrets=["get", "list"])])
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1")
    denied = run_rules(RULES, vaults=[row], assignments=[ra], denies=[deny_row(rg_scope(), data_actions=[GET])])
    assert not denied.of("dead-access-policy")
    (f,) = denied.of("stranded-access-policy")
    assert actions(entries_of(f)[0]["missingDataActionsInWords"]) == [GET]
    excluded = run_rules(RULES, vaults=[row], assignments=[ra],
                         denies=[deny_row(rg_scope(), exclude=["U1"], data_actions=[GET])])
    assert excluded.of("dead-access-policy") and not excluded.of("stranded-access-policy")
    # collected but empty: nothing is denied
    assert run_rules(RULES, vaults=[row], assignments=[ra], denies=[]).of("dead-access-policy")


def test_root_and_management_group_grants_of_another_tenant_do_not_cover():
    row = vault_row(policies=[policy("u1", secrets=["get"])])
    for scope in ("/", mg_scope("mg-corp"), mg_scope(TENANT)):
        other = run_rules(RULES, vaults=[row], assignments=[assignment_row(scope, KV_ADMIN, "u1", tenant=OTHER_TENANT)])
        assert not other.of("dead-access-policy") and other.of("stranded-access-policy"), scope
        same = run_rules(RULES, vaults=[row], assignments=[assignment_row(scope, KV_ADMIN, "u1", tenant=TENANT)])
        assert same.of("dead-access-policy") and not same.of("stranded-access-policy"), scope
    # a subscription-scoped grant is not tenant-bound
    sub = run_rules(RULES, vaults=[row],
                    assignments=[assignment_row(f"/subscriptions/{SUB}", KV_ADMIN, "u1", tenant=OTHER_TENANT)])
    assert sub.of("dead-access-policy")


def test_unknown_ancestry_is_not_evaluated():
    row = vault_row(policies=[policy("u1", secrets=["get"]), policy("u2", secrets=[])])
    rows = [assignment_row(vault_id(), KV_SECRETS_USER, "u1"), assignment_row(mg_scope("mg-x"), KV_SECRETS_OFFICER, "u9")]
    run = run_rules(RULES, vaults=[row], assignments=rows, subscriptions=[subscription_row(mgs=())])
    assert run.findings == []
    assert {(n["ruleId"], n["vaultId"]) for n in run.not_evaluated} == {
        ("dead-access-policy", vault_id()), ("stranded-access-policy", vault_id())}
    assert all("management-group" in n["reason"] for n in run.not_evaluated)
    # same chain without any management-group grant: evaluated
    run = run_rules(RULES, vaults=[row], assignments=rows[:1], subscriptions=[subscription_row(mgs=())])
    (f,) = run.of("dead-access-policy")
    assert f["evidence"]["entriesCount"] == 2 and run.not_evaluated == []


def test_vault_whose_subscription_has_no_row_is_unknown_ancestry_when_mg_grants_exist():
    row = vault_row(policies=[policy("u1", secrets=[])])
    run = run_rules(RULES, vaults=[row], subscriptions=[subscription_row(SUB2)],
                    assignments=[assignment_row(mg_scope("mg-corp"), KV_ADMIN, "u1")])
    assert run.findings == [] and {n["ruleId"] for n in run.not_evaluated} == {"dead-access-policy",
                                                                                "stranded-access-policy"}


def test_grant_at_a_vault_not_in_the_snapshot_covers_nothing():
    row = vault_row(policies=[policy("u1", secrets=["get"])])
    run = run_rules(RULES, vaults=[row], assignments=[assignment_row(vault_id("kv1-old"), KV_ADMIN, "u1")])
    assert not run.of("dead-access-policy") and run.of("stranded-access-policy")


def test_duplicate_vault_row_gives_one_finding_and_a_gap():
    row = vault_row(policies=[policy("u1", secrets=[])])
    run = run_rules(RULES, vaults=[row, row])
    assert len(run.of("dead-access-policy")) == 1
    assert [g["reason"] for g in run.gaps if g["table"] == "vaults"] == ["duplicate vault row ignored"]
