"""latent-grant: access principals would gain if their access-policy vault were switched to RBAC.

Catalog 2: one finding per vault, the principals in ``evidence["principals"]``.
"""

from rules import latent_grant
from rules.base import fingerprint
from tests.factories import (actions, KV_ADMIN, KV_READER, KV_SECRETS_OFFICER, KV_SECRETS_USER, OTHER_TENANT, OWNER, SUB, SUB2,
                             TENANT, assignment_row, deny_row, eligibility_row, mg_scope, policy, principal_row,
                             rg_scope, role_definition_row, run_rules, subscription_row, vault_id, vault_row)

RULES = (latent_grant,)
GET = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
LIST = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
SET = "Microsoft.KeyVault/vaults/secrets/setSecret/action"
PURGE = "Microsoft.KeyVault/vaults/secrets/purge/action"
RELEASE = "Microsoft.KeyVault/vaults/certificates/release/action"
APP = "11111111-aaaa-bbbb-cccc-000000000001"


def ap_vault(*entries, name="kv1", **kw):
    return vault_row(name, rbac=False, policies=entries, **kw)


def principals_of(finding):
    return {p["principalId"]: p for p in finding["evidence"]["principals"]}


def test_fires_when_rbac_grants_more_than_the_policy():
    ra = assignment_row(rg_scope(), KV_SECRETS_OFFICER, "u1", name="ra-officer")
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["get", "list"]))], assignments=[ra])
    (f,) = run.of("latent-grant")
    assert f["severity"] == "medium" and f["principalId"] == "u1" and f["vaultId"] == vault_id()
    assert f["subject"] == "vault" and f["fingerprint"] == fingerprint("latent-grant", vault_id())
    ev = f["evidence"]
    assert ev["principalsCount"] == 1 and ev["grantCount"] == 1
    (p,) = ev["principals"]
    assert p["principalId"] == "u1"
    assert GET not in actions(p["widenedDataActionsInWords"]) and LIST not in actions(p["widenedDataActionsInWords"])
    assert SET in actions(p["widenedDataActionsInWords"]) and PURGE in actions(p["widenedDataActionsInWords"])
    assert "setSecret" in p["widenedDataActionsInWords"]
    assert actions(p["accessPolicyDataActionsInWords"]) == [GET, LIST]
    assert p["withoutAccessPolicyEquivalent"] == []
    (g,) = p["grants"]
    assert g["assignmentId"] == ra["id"] and g["roleName"] == "Key Vault Secrets Officer"
    # the grant names its role (its data actions are in the report's roles section), not a per-grant action list
    assert g["scopeLevel"] == "resourceGroup" and g["roleDefinitionId"] == ra["properties"]["roleDefinitionId"]
    assert "widenedDataActions" not in g
    assert "kv1" in f["message"] and "1 principal" in f["message"] and "1 grant" in f["message"]
    assert ra["id"] in f["remediation"]


def test_principal_without_any_policy_entry():
    run = run_rules(RULES, vaults=[ap_vault()], assignments=[assignment_row(vault_id(), KV_SECRETS_USER, "u1")])
    (f,) = run.of("latent-grant")
    p = principals_of(f)["u1"]
    assert actions(p["widenedDataActionsInWords"]) == [GET, LIST] and actions(p["accessPolicyDataActionsInWords"]) == []


def test_does_not_fire_when_the_policy_covers_it_or_on_rbac_vaults():
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1")
    assert run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["get", "list"]))], assignments=[ra]).findings == []
    assert run_rules(RULES, vaults=[vault_row(policies=[])], assignments=[ra]).findings == []
    # control-plane roles carry no data actions: nothing to gain
    assert run_rules(RULES, vaults=[ap_vault()], assignments=[assignment_row(vault_id(), OWNER, "u1")]).findings == []


def test_policy_access_is_the_union_of_the_principals_own_entries():
    entries = [policy("u1", secrets=["get"]), policy("U1", secrets=["list"])]
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
    p = principals_of(f)["u1"]
    assert actions(p["widenedDataActionsInWords"]) == [RELEASE] and p["withoutAccessPolicyEquivalent"] == [RELEASE]


def test_object_scoped_assignment_counts_here():
    scope = vault_id() + "/secrets/db-password"
    run = run_rules(RULES, vaults=[ap_vault()], assignments=[assignment_row(scope, KV_SECRETS_USER, "u1")])
    (f,) = run.of("latent-grant")
    (g,) = principals_of(f)["u1"]["grants"]
    assert g["scopeLevel"] == "object" and g["assignmentId"].lower().startswith(scope.lower() + "/")
    assert "scope" not in g and "principalId" not in g   # the assignment id spells the scope; the item names the principal


def test_only_widening_grants_are_listed():
    rows = [assignment_row(vault_id(), KV_SECRETS_USER, "u1", name="covered"),
            assignment_row(f"/subscriptions/{SUB}", KV_READER, "U1", name="reader"),
            assignment_row("/", KV_ADMIN, "u1", name="admin", condition="@Resource[x] StringEquals 'y'")]
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["get", "list"]))], assignments=rows)
    (f,) = run.of("latent-grant")
    (p,) = f["evidence"]["principals"]              # u1 and U1 are one principal
    assert p["principalId"].lower() == "u1" and f["evidence"]["principalsCount"] == 1
    listed = {g["assignmentId"].rsplit("/", 1)[-1]: g for g in p["grants"]}
    assert set(listed) == {"reader", "admin"}
    assert listed["admin"]["conditional"] is True and listed["admin"]["scopeLevel"] == "root"
    assert "conditional" not in listed["reader"]
    assert f["evidence"]["grantCount"] == 2


def test_not_data_actions_in_one_role_do_not_deny_another():
    carve = role_definition_row("cccccccc-0000-0000-0000-000000000002", "No get",
                                data_actions=["Microsoft.KeyVault/vaults/secrets/*"], not_data_actions=[GET])
    rows = [assignment_row(vault_id(), carve["name"], "u1"), assignment_row(vault_id(), KV_SECRETS_USER, "u1")]
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["all"]))], assignments=rows, definitions=[carve])
    # all (without purge) covers everything but purge; the custom role's secrets/* includes purge
    (f,) = run.of("latent-grant")
    assert actions(principals_of(f)["u1"]["widenedDataActionsInWords"]) == [PURGE]
    only_list = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["list"]))], definitions=[carve],
                          assignments=rows)
    assert GET in actions(principals_of(only_list.of("latent-grant")[0])["u1"]["widenedDataActionsInWords"])


def test_management_group_ancestors_and_root():
    for scope in (mg_scope("mg-corp"), mg_scope(TENANT), "/"):
        run = run_rules(RULES, vaults=[ap_vault()], assignments=[assignment_row(scope, KV_SECRETS_USER, "u1")])
        (f,) = run.of("latent-grant")
        assert principals_of(f)["u1"]["grants"][0]["assignmentId"].lower().startswith(scope.rstrip("/").lower() + "/")
    unrelated = run_rules(RULES, vaults=[ap_vault()], subscriptions=[subscription_row(mgs=("mg-other", TENANT))],
                          assignments=[assignment_row(mg_scope("mg-corp"), KV_SECRETS_USER, "u1")])
    assert unrelated.findings == []


def test_group_assignee_and_expansion_with_directory_data():
    rows = [assignment_row(vault_id(), KV_SECRETS_OFFICER, "g1", principal_type="Group"),
            assignment_row(vault_id(), KV_READER, "u1")]
    vault = ap_vault(policy("g1", secrets=["all"]), policy("u1", keys=["get", "list"]))
    without = run_rules(RULES, vaults=[vault], assignments=rows)
    (f,) = without.of("latent-grant")
    by_p = principals_of(f)
    assert set(by_p) == {"g1", "u1"} and f["evidence"]["principalsCount"] == 2
    assert "not expanded" in f["evidence"]["groups"]
    assert by_p["u1"]["grants"] and all("principalId" not in g for g in by_p["u1"]["grants"])
    assert by_p["g1"]["principalType"] == "Group"
    with_dir = run_rules(RULES, vaults=[vault], assignments=rows,
                         principals=[principal_row("u1", member_of=["G1"]), principal_row("g1", "group")])
    (f,) = with_dir.of("latent-grant")
    u1 = principals_of(f)["u1"]
    # u1 gains the group's secrets/* from RBAC, but also has the group's `secrets: all` policy
    assert PURGE in actions(u1["widenedDataActionsInWords"]) and GET not in actions(u1["widenedDataActionsInWords"])
    # its own Reader grant widens too (certificates and rotation policies read): both grants are listed
    assert [g.get("principalId") for g in u1["grants"]].count("g1") == 1   # a group's grant names the group
    assert len(u1["grants"]) == 2
    assert u1["principalName"] == "user u1"
    assert "expanded from directory data" in f["evidence"]["groups"]


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
    assert f["principalId"] == "ABC-1" and actions(principals_of(f)["ABC-1"]["widenedDataActionsInWords"]) == [LIST]


# -- catalog 2 -----------------------------------------------------------------------------------


def test_one_finding_per_vault_with_every_gaining_principal():
    rows = [assignment_row(rg_scope(), KV_SECRETS_USER, f"u{i}", name=f"ra-{i}") for i in range(3)]
    vaults = [ap_vault(policy("u0", secrets=["get", "list"])), ap_vault(name="kv2")]
    run = run_rules(RULES, vaults=vaults, assignments=rows)
    by_vault = {f["vaultId"]: f for f in run.of("latent-grant")}
    assert set(by_vault) == {vault_id(), vault_id("kv2")}
    assert set(principals_of(by_vault[vault_id()])) == {"u1", "u2"}
    assert set(principals_of(by_vault[vault_id("kv2")])) == {"u0", "u1", "u2"}
    assert by_vault[vault_id("kv2")]["evidence"]["grantCount"] == 3
    assert "3 principals" in by_vault[vault_id("kv2")]["message"]


def test_principals_are_capped_at_100_with_the_full_count():
    rows = [assignment_row(vault_id(), KV_SECRETS_USER, f"u{i:03d}") for i in range(105)]
    (f,) = run_rules(RULES, vaults=[ap_vault()], assignments=rows).of("latent-grant")
    assert len(f["evidence"]["principals"]) == 100 and f["evidence"]["principalsCount"] == 105
    assert f["evidence"]["grantCount"] == 105


def test_cross_tenant_and_compound_entries_are_not_the_principals_policy_access():
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1")
    for entry in (policy("u1", tenant=OTHER_TENANT, secrets=["get", "list"]),
                  policy("u1", application_id=APP, secrets=["get", "list"])):
        (f,) = run_rules(RULES, vaults=[ap_vault(entry)], assignments=[ra]).of("latent-grant")
        p = principals_of(f)["u1"]
        assert actions(p["widenedDataActionsInWords"]) == [GET, LIST] and actions(p["accessPolicyDataActionsInWords"]) == []
    # a plain entry next to them is the principal's policy access
    entries = [policy("u1", secrets=["get"]), policy("u1", tenant=OTHER_TENANT, application_id=APP, secrets=["list"])]
    (f,) = run_rules(RULES, vaults=[ap_vault(*entries)], assignments=[ra]).of("latent-grant")
    assert actions(principals_of(f)["u1"]["widenedDataActionsInWords"]) == [LIST]
    assert actions(principals_of(f)["u1"]["accessPolicyDataActionsInWords"]) == [GET]


def test_entry_tenant_missing_or_vault_tenant_missing_is_not_cross_tenant():
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1")
    no_entry_tenant = {"objectId": "u1", "permissions": {"secrets": ["get", "list"]}}
    assert run_rules(RULES, vaults=[ap_vault(no_entry_tenant)], assignments=[ra]).findings == []
    foreign = policy("u1", tenant=OTHER_TENANT, secrets=["get", "list"])
    assert run_rules(RULES, vaults=[ap_vault(foreign, omit=("tenantId",))], assignments=[ra]).findings == []


def test_eligible_grants_count_and_are_marked():
    rei = eligibility_row(f"/subscriptions/{SUB}", KV_SECRETS_OFFICER, "u1", name="rei-officer")
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["get", "list"]))], eligibilities=[rei])
    (f,) = run.of("latent-grant")
    (g,) = principals_of(f)["u1"]["grants"]
    assert g["eligible"] is True and g["assignmentId"] == rei["id"] and g["scopeLevel"] == "subscription"
    assert SET in actions(principals_of(f)["u1"]["widenedDataActionsInWords"])
    # an eligible grant on an object inside the vault counts too
    obj = eligibility_row(vault_id() + "/secrets/s1", KV_SECRETS_USER, "u2")
    (f,) = run_rules(RULES, vaults=[ap_vault()], eligibilities=[obj]).of("latent-grant")
    assert principals_of(f)["u2"]["grants"][0]["scopeLevel"] == "object"


def test_deny_assignments_remove_what_they_deny():
    ra = assignment_row(vault_id(), KV_SECRETS_OFFICER, "u1")
    row = ap_vault(policy("u1", secrets=["all"]))
    # the only widening is purge; a deny of purge removes it
    found = run_rules(RULES, vaults=[row], assignments=[ra]).findings[0]
    assert actions(principals_of(found)["u1"]["widenedDataActionsInWords"]) == [PURGE]
    for deny in (deny_row(vault_id(), data_actions=[PURGE]), deny_row("/", principals=["U1"], data_actions=["*"]),
                 deny_row(mg_scope("mg-corp"), data_actions=["Microsoft.KeyVault/vaults/secrets/*"])):
        assert run_rules(RULES, vaults=[row], assignments=[ra], denies=[deny]).findings == [], deny["id"]
    # denies that do not apply leave it
    for deny in (deny_row(vault_id(), exclude=["u1"], data_actions=[PURGE]),
                 deny_row(rg_scope(), data_actions=[PURGE], children=False),
                 deny_row(vault_id() + "/secrets/s1", data_actions=[PURGE]),
                 deny_row("/", data_actions=[PURGE], tenant=OTHER_TENANT)):
        assert run_rules(RULES, vaults=[row], assignments=[ra], denies=[deny]).of("latent-grant"), deny["id"]


def test_deny_on_the_vault_removes_what_object_scoped_grants_give_inside_it():
    ra = assignment_row(vault_id() + "/secrets/s1", KV_SECRETS_USER, "u1")
    run = run_rules(RULES, vaults=[ap_vault()], assignments=[ra], denies=[deny_row(vault_id(), data_actions=[GET])])
    (f,) = run.of("latent-grant")
    assert actions(principals_of(f)["u1"]["widenedDataActionsInWords"]) == [LIST]
    run = run_rules(RULES, vaults=[ap_vault()], assignments=[ra],
                    denies=[deny_row(vault_id(), data_actions=[GET, LIST])])
    assert run.findings == []


def test_eligible_grant_is_denied_like_any_grant():
    rei = eligibility_row(vault_id(), KV_SECRETS_USER, "u1")
    run = run_rules(RULES, vaults=[ap_vault()], eligibilities=[rei],
                    denies=[deny_row(vault_id(), data_actions=[GET, LIST])])
    assert run.findings == []


def test_root_and_management_group_grants_of_another_tenant_give_nothing():
    for scope in ("/", mg_scope("mg-corp")):
        other = run_rules(RULES, vaults=[ap_vault()],
                          assignments=[assignment_row(scope, KV_SECRETS_USER, "u1", tenant=OTHER_TENANT)])
        assert other.findings == [], scope
        unknown_tenant = run_rules(RULES, vaults=[ap_vault()],
                                   assignments=[assignment_row(scope, KV_SECRETS_USER, "u1", tenant=None)])
        assert unknown_tenant.of("latent-grant"), scope


def test_unknown_ancestry_is_not_evaluated_even_when_a_vault_grant_proves_it():
    rows = [assignment_row(vault_id(), KV_ADMIN, "u1"), assignment_row(mg_scope("mg-corp"), KV_READER, "u2")]
    for subs in ([subscription_row(mgs=())], [subscription_row(SUB2)]):
        run = run_rules(RULES, vaults=[ap_vault()], assignments=rows, subscriptions=subs)
        assert run.findings == []
        (n,) = run.not_evaluated
        assert n["ruleId"] == "latent-grant" and n["vaultId"] == vault_id()
    # an eligible grant at a management group (another tenant's, even) triggers it too
    rei = eligibility_row(mg_scope("elsewhere"), KV_READER, "u2", tenant=OTHER_TENANT)
    run = run_rules(RULES, vaults=[ap_vault()], assignments=rows[:1], eligibilities=[rei],
                    subscriptions=[subscription_row(mgs=())])
    assert run.findings == [] and [n["ruleId"] for n in run.not_evaluated] == ["latent-grant"]
    # a grant at / does not
    run = run_rules(RULES, vaults=[ap_vault()], assignments=[assignment_row("/", KV_READER, "u2")],
                    subscriptions=[subscription_row(mgs=())])
    assert run.of("latent-grant") and run.not_evaluated == []


def test_grants_inside_or_at_a_vault_not_in_the_snapshot_give_nothing():
    rows = [assignment_row(vault_id("gone"), KV_ADMIN, "u1"), assignment_row(vault_id("gone") + "/keys/k", KV_ADMIN, "u1"),
            assignment_row(vault_id("kv10") + "/secrets/s", KV_ADMIN, "u1")]
    assert run_rules(RULES, vaults=[ap_vault()], assignments=rows).findings == []


def test_grants_of_one_principal_are_capped_at_100_with_the_full_count():
    # one object-scoped grant per secret is how teams grant narrow access: the list must stay bounded
    rows = [assignment_row(f"{vault_id()}/secrets/s{i:03d}", KV_SECRETS_USER, "u1") for i in range(130)]
    (f,) = run_rules(RULES, vaults=[ap_vault()], assignments=rows).of("latent-grant")
    p = principals_of(f)["u1"]
    assert len(p["grants"]) == 100 and p["grantsCount"] == 130
    assert f["evidence"]["grantCount"] == 130 and actions(p["widenedDataActionsInWords"]) == [GET, LIST]
