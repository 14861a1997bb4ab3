"""latent-grant: access a principal would gain if its access-policy vault were switched to RBAC."""

from rules import latent_grant
from tests.factories import (KV_ADMIN, KV_READER, KV_SECRETS_OFFICER, KV_SECRETS_USER, OTHER_TENANT, OWNER, SUB, TENANT,
                             assignment_row, mg_scope, policy, principal_row, rg_scope, role_definition_row, run_rules,
                             subscription_row, vault_id, vault_row)

RULES = (latent_grant,)
GET = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
LIST = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
RELEASE = "Microsoft.KeyVault/vaults/certificates/release/action"


def ap_vault(*entries):
    return vault_row(rbac=False, policies=entries)


def test_fires_when_rbac_grants_more_than_the_policy():
    ra = assignment_row(rg_scope(), KV_SECRETS_OFFICER, "u1", name="ra-officer")
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["get", "list"]))], assignments=[ra])
    (f,) = run.of("latent-grant")
    assert f["severity"] == "medium" and f["principalId"] == "u1" and f["vaultId"] == vault_id()
    ev = f["evidence"]
    assert GET not in ev["widenedDataActions"] and LIST not in ev["widenedDataActions"]
    assert "Microsoft.KeyVault/vaults/secrets/setSecret/action" in ev["widenedDataActions"]
    assert ev["widenedDataActionCount"] == len(ev["widenedDataActions"])
    assert "setSecret" in ev["widenedDataActionsInWords"]
    (a,) = ev["assignments"]
    assert a["assignmentId"] == ra["id"] and a["roleName"] == "Key Vault Secrets Officer"
    assert a["scopeLevel"] == "resourceGroup"
    assert "kv1" in f["message"] and "Key Vault Secrets Officer" in f["message"] and rg_scope() in f["message"]
    assert ra["id"] in f["remediation"]


def test_principal_without_any_policy_entry():
    run = run_rules(RULES, vaults=[ap_vault()], assignments=[assignment_row(vault_id(), KV_SECRETS_USER, "u1")])
    (f,) = run.of("latent-grant")
    assert f["evidence"]["widenedDataActions"] == [GET, LIST] and f["evidence"]["accessPolicyEntries"] == 0
    assert "no access-policy entry" in f["message"]


def test_does_not_fire_when_the_policy_covers_it_or_on_rbac_vaults():
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1")
    assert run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["get", "list"]))], assignments=[ra]).findings == []
    assert run_rules(RULES, vaults=[vault_row(policies=[])], assignments=[ra]).findings == []
    # control-plane roles carry no data actions: nothing to gain
    assert run_rules(RULES, vaults=[ap_vault()], assignments=[assignment_row(vault_id(), OWNER, "u1")]).findings == []


def test_policy_access_is_the_union_of_all_entries_of_the_principal():
    entries = [policy("u1", secrets=["get"]), policy("u1", tenant=OTHER_TENANT, application_id="app", secrets=["list"])]
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1")
    assert run_rules(RULES, vaults=[ap_vault(*entries)], assignments=[ra]).findings == []


def test_action_without_access_policy_equivalent_always_widens():
    role = role_definition_row("cccccccc-0000-0000-0000-000000000001", "Cert release", key_case="pascal",
                               data_actions=[RELEASE])
    entry = policy("u1", certificates=["all", "purge"], keys=["all", "purge"], secrets=["all", "purge"],
                   storage=["all", "purge"])
    run = run_rules(RULES, vaults=[ap_vault(entry)], definitions=[role],
                    assignments=[assignment_row(vault_id(), role["name"], "u1")])
    (f,) = run.of("latent-grant")
    assert f["evidence"]["widenedDataActions"] == [RELEASE]
    assert f["evidence"]["withoutAccessPolicyEquivalent"] == [RELEASE]


def test_object_scoped_assignment_counts_here():
    scope = vault_id() + "/secrets/db-password"
    run = run_rules(RULES, vaults=[ap_vault()], assignments=[assignment_row(scope, KV_SECRETS_USER, "u1")])
    (f,) = run.of("latent-grant")
    assert f["evidence"]["assignments"][0]["scopeLevel"] == "object" and scope in f["message"]


def test_one_finding_per_principal_with_only_widening_assignments_listed():
    rows = [assignment_row(vault_id(), KV_SECRETS_USER, "u1", name="covered"),
            assignment_row(f"/subscriptions/{SUB}", KV_READER, "U1", name="reader"),
            assignment_row("/", KV_ADMIN, "u1", name="admin", condition="@Resource[x] StringEquals 'y'")]
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["get", "list"]))], assignments=rows)
    (f,) = run.of("latent-grant")
    listed = {a["assignmentId"].rsplit("/", 1)[-1]: a for a in f["evidence"]["assignments"]}
    assert set(listed) == {"reader", "admin"}
    assert listed["admin"]["conditional"] is True and listed["admin"]["scopeLevel"] == "root"
    assert listed["reader"]["conditional"] is False
    assert "(conditional)" in f["message"]


def test_not_data_actions_in_one_role_do_not_deny_another():
    carve = role_definition_row("cccccccc-0000-0000-0000-000000000002", "No get",
                                data_actions=["Microsoft.KeyVault/vaults/secrets/*"], not_data_actions=[GET])
    rows = [assignment_row(vault_id(), carve["name"], "u1"), assignment_row(vault_id(), KV_SECRETS_USER, "u1")]
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["all"]))], assignments=rows, definitions=[carve])
    # all (without purge) covers everything but purge; the custom role's secrets/* includes purge
    (f,) = run.of("latent-grant")
    assert f["evidence"]["widenedDataActions"] == ["Microsoft.KeyVault/vaults/secrets/purge/action"]
    only_get = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["list"]))], definitions=[carve],
                         assignments=rows)
    assert GET in only_get.of("latent-grant")[0]["evidence"]["widenedDataActions"]


def test_management_group_ancestors_and_root():
    for scope in (mg_scope("mg-corp"), mg_scope(TENANT), "/"):
        run = run_rules(RULES, vaults=[ap_vault()], assignments=[assignment_row(scope, KV_SECRETS_USER, "u1")])
        (f,) = run.of("latent-grant")
        assert f["evidence"]["assignments"][0]["scope"] == scope
    unrelated = run_rules(RULES, vaults=[ap_vault()], subscriptions=[subscription_row(mgs=("mg-other", TENANT))],
                          assignments=[assignment_row(mg_scope("mg-corp"), KV_SECRETS_USER, "u1")])
    assert unrelated.findings == []


def test_group_assignee_and_expansion_with_directory_data():
    rows = [assignment_row(vault_id(), KV_SECRETS_OFFICER, "g1", principal_type="Group"),
            assignment_row(vault_id(), KV_READER, "u1")]
    vault = ap_vault(policy("g1", secrets=["all"]), policy("u1", keys=["get", "list"]))
    without = run_rules(RULES, vaults=[vault], assignments=rows)
    by_p = {f["principalId"]: f for f in without.of("latent-grant")}
    assert set(by_p) == {"g1", "u1"}
    assert "not expanded" in by_p["u1"]["evidence"]["groups"]
    assert all(a["principalId"] == "u1" for a in by_p["u1"]["evidence"]["assignments"])
    with_dir = run_rules(RULES, vaults=[vault], assignments=rows,
                         principals=[principal_row("u1", member_of=["G1"]), principal_row("g1", "group")])
    by_p = {f["principalId"]: f for f in with_dir.of("latent-grant")}
    # u1 gains the group's secrets/* from RBAC, but also has the group's `secrets: all` policy
    u1 = by_p["u1"]["evidence"]
    assert "Microsoft.KeyVault/vaults/secrets/purge/action" in u1["widenedDataActions"]
    assert GET not in u1["widenedDataActions"]
    assert {a["principalId"] for a in u1["assignments"]} == {"u1", "g1"}
    assert "expanded" in u1["groups"] and "not" not in u1["groups"]


def test_unknown_role_is_not_evaluated_and_grants_nothing():
    ra = assignment_row(rg_scope(), "99999999-9999-9999-9999-999999999999", "u1")
    run = run_rules(RULES, vaults=[ap_vault()], assignments=[ra])
    assert run.findings == []
    (n,) = run.not_evaluated
    assert n["ruleId"] == "latent-grant" and n["vaultId"] == vault_id()


def test_odd_casing_of_ids():
    ra = assignment_row(vault_id().upper().replace("/SUBSCRIPTIONS/", "/subscriptions/"), KV_SECRETS_USER.upper(),
                        "ABC-1", role_prefix="/subscriptions/X")
    assert run_rules(RULES, vaults=[ap_vault(policy("abc-1", secrets=["GET", "List"]))], assignments=[ra]).findings == []
    run = run_rules(RULES, vaults=[ap_vault(policy("abc-1", secrets=["GET"]))], assignments=[ra])
    (f,) = run.of("latent-grant")
    assert f["principalId"] == "ABC-1" and f["evidence"]["widenedDataActions"] == [LIST]
