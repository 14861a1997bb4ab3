"""template-deployment-path: Resource Manager reads the vault's secrets into deployments for its deployers."""

from rules import template_deployment_path
from rules.base import fingerprint
from tests.factories import (CONTRIBUTOR, KV_ADMIN, KV_CONTRIBUTOR, KV_DATA_ACCESS_ADMIN, KV_READER, KV_SECRETS_OFFICER,
                             OTHER_TENANT, OWNER, READER, SUB, SUB2, TENANT, USER_ACCESS_ADMIN, assignment_row, deny_row,
                             eligibility_row, mg_scope, principal_row, rg_scope, role_definition_row, run_rules,
                             subscription_row, vault_id, vault_row)

RULES = (template_deployment_path,)
RULE = "template-deployment-path"
DEPLOY = "Microsoft.KeyVault/vaults/deploy/action"


def tvault(name="kv1", rbac=True, **kw):
    return vault_row(name, rbac=rbac, enabledForTemplateDeployment=True, **kw)


def principals_of(finding):
    return {p["principalId"]: p for p in finding["evidence"]["principals"]}


def test_fires_for_owner_contributor_and_key_vault_contributor():
    rows = [assignment_row(f"/subscriptions/{SUB}", OWNER, "owner", name="ra-owner"),
            assignment_row(rg_scope(), CONTRIBUTOR, "contrib", principal_type="ServicePrincipal"),
            assignment_row(vault_id(), KV_CONTRIBUTOR, "kvc")]
    run = run_rules(RULES, vaults=[tvault()], assignments=rows)
    (f,) = run.of(RULE)
    assert f["severity"] == "medium" and f["subject"] == "vault" and f["vaultId"] == vault_id()
    assert f["fingerprint"] == fingerprint(RULE, vault_id())
    ev = f["evidence"]
    assert ev["enabledForTemplateDeployment"] is True and ev["permissionModel"] == "rbac"
    assert ev["principalsCount"] == 3
    by_p = principals_of(f)
    assert set(by_p) == {"owner", "contrib", "kvc"}
    assert by_p["owner"]["grants"][0]["assignmentId"] == rows[0]["id"]
    assert by_p["owner"]["grants"][0]["scopeLevel"] == "subscription"
    assert by_p["contrib"]["grants"][0]["roleName"] == "Contributor"
    assert by_p["contrib"]["principalType"] == "ServicePrincipal"
    assert by_p["kvc"]["grants"][0]["scopeLevel"] == "vault"
    assert all(p["eligible"] is False for p in by_p.values())
    assert "3 principals" in f["message"] and "kv1" in f["message"]
    assert "--enabled-for-template-deployment false" in f["remediation"] and "--name kv1" in f["remediation"]


def test_fires_on_access_policy_vaults_too():
    run = run_rules(RULES, vaults=[tvault(rbac=False)], assignments=[assignment_row(rg_scope(), OWNER, "o1")])
    (f,) = run.of(RULE)
    assert f["evidence"]["permissionModel"] == "accessPolicy"


def test_only_json_true_enables_the_path():
    grant = [assignment_row(rg_scope(), OWNER, "o1")]
    for value in (False, None, "true", 1):
        run = run_rules(RULES, vaults=[vault_row(enabledForTemplateDeployment=value)], assignments=grant)
        assert run.findings == [], value
    assert run_rules(RULES, vaults=[vault_row()], assignments=grant).findings == []          # property missing
    # catalog 2 (readings pinned): only JSON true enables it; a string is not true, and not a gap either
    run = run_rules(RULES, vaults=[vault_row(enabledForTemplateDeployment="true")], assignments=grant)
    assert run.not_evaluated == [] and run.gaps == []


def test_property_name_casing_does_not_matter():
    row = vault_row()
    row["properties"]["EnabledForTemplateDeployment"] = True
    run = run_rules(RULES, vaults=[row], assignments=[assignment_row(rg_scope(), OWNER, "o1")])
    assert len(run.of(RULE)) == 1


def test_roles_without_deploy_action_do_not_fire():
    rows = [assignment_row(vault_id(), KV_ADMIN, "data-admin"), assignment_row(vault_id(), KV_SECRETS_OFFICER, "officer"),
            assignment_row(vault_id(), KV_READER, "kv-reader"), assignment_row(rg_scope(), READER, "reader"),
            assignment_row(rg_scope(), USER_ACCESS_ADMIN, "uaa"),
            assignment_row(vault_id(), KV_DATA_ACCESS_ADMIN, "data-access-admin")]
    assert run_rules(RULES, vaults=[tvault()], assignments=rows).findings == []


def test_object_scoped_control_grant_does_not_count():
    rows = [assignment_row(vault_id() + "/secrets/s1", OWNER, "o1")]
    assert run_rules(RULES, vaults=[tvault()], assignments=rows).findings == []


def test_custom_roles_with_and_without_deploy_action():
    deployer = role_definition_row("dddddddd-0000-0000-0000-000000000001", "Deployer", actions=[DEPLOY])
    wildcard = role_definition_row("dddddddd-0000-0000-0000-000000000002", "KV ops", key_case="pascal",
                                   actions=["microsoft.keyvault/*"])
    carved = role_definition_row("dddddddd-0000-0000-0000-000000000003", "KV ops without deploy",
                                 actions=["Microsoft.KeyVault/*"], not_actions=[DEPLOY.upper()])
    rows = [assignment_row(vault_id(), deployer["name"], "deployer"),
            assignment_row(vault_id(), wildcard["name"], "wildcard"),
            assignment_row(vault_id(), carved["name"], "carved")]
    run = run_rules(RULES, vaults=[tvault()], assignments=rows, definitions=[deployer, wildcard, carved])
    (f,) = run.of(RULE)
    assert set(principals_of(f)) == {"deployer", "wildcard"}


def test_eligible_grants_count_and_are_marked():
    rei = eligibility_row(f"/subscriptions/{SUB}", OWNER, "o1", name="rei-owner")
    (f,) = run_rules(RULES, vaults=[tvault()], eligibilities=[rei]).of(RULE)
    p = principals_of(f)["o1"]
    assert p["eligible"] is True and p["grants"][0]["eligible"] is True and p["grants"][0]["assignmentId"] == rei["id"]
    # eligible and active: the principal's access is standing
    ra = assignment_row(rg_scope(), CONTRIBUTOR, "o1")
    (f,) = run_rules(RULES, vaults=[tvault()], assignments=[ra], eligibilities=[rei]).of(RULE)
    p = principals_of(f)["o1"]
    assert p["eligible"] is False and len(p["grants"]) == 2


def test_deny_assignments_remove_the_deploy_action():
    ra = [assignment_row(rg_scope(), OWNER, "o1")]
    for deny in (deny_row(vault_id(), actions=[DEPLOY]), deny_row(f"/subscriptions/{SUB}", actions=["*"]),
                 deny_row(vault_id(), principals=["O1"], actions=["Microsoft.KeyVault/vaults/*"]),
                 deny_row(mg_scope("mg-corp"), actions=[DEPLOY]), deny_row("/", actions=[DEPLOY]),
                 deny_row(vault_id(), actions=[DEPLOY], children=False)):
        assert run_rules(RULES, vaults=[tvault()], assignments=ra, denies=[deny]).findings == [], deny["id"]


def test_deny_assignments_that_do_not_apply():
    ra = [assignment_row(rg_scope(), OWNER, "o1")]
    for deny in (deny_row(vault_id(), exclude=["o1"], actions=[DEPLOY]),
                 deny_row(vault_id(), principals=["someone-else"], actions=[DEPLOY]),
                 deny_row(rg_scope(), actions=[DEPLOY], children=False),
                 deny_row(vault_id() + "/secrets/s", actions=[DEPLOY]),
                 deny_row(vault_id(), actions=["Microsoft.KeyVault/vaults/*"], not_actions=[DEPLOY]),
                 deny_row(vault_id(), data_actions=["*"]),
                 deny_row("/", actions=[DEPLOY], tenant=OTHER_TENANT),
                 deny_row(mg_scope("mg-corp"), actions=[DEPLOY], tenant=OTHER_TENANT),
                 deny_row(mg_scope("mg-online"), actions=[DEPLOY])):
        assert len(run_rules(RULES, vaults=[tvault()], assignments=ra, denies=[deny]).of(RULE)) == 1, deny["id"]


def test_deny_to_a_group_applies_with_directory_data():
    ra = [assignment_row(rg_scope(), OWNER, "o1")]
    deny = [deny_row(vault_id(), principals=["g-blocked"], actions=[DEPLOY])]
    assert run_rules(RULES, vaults=[tvault()], assignments=ra, denies=deny).of(RULE)
    assert run_rules(RULES, vaults=[tvault()], assignments=ra, denies=deny,
                     principals=[principal_row("o1", member_of=["g-blocked"])]).findings == []


def test_group_grant_is_one_principal_the_group():
    ra = [assignment_row(rg_scope(), CONTRIBUTOR, "g1", principal_type="Group")]
    (f,) = run_rules(RULES, vaults=[tvault()], assignments=ra,
                     principals=[principal_row("g1", "group"), principal_row("u1", member_of=["g1"])]).of(RULE)
    assert list(principals_of(f)) == ["g1"] and principals_of(f)["g1"]["principalName"] == "group g1"


def test_management_group_and_root_grants_are_tenant_bound():
    for scope in ("/", mg_scope("mg-corp"), mg_scope(TENANT)):
        same = run_rules(RULES, vaults=[tvault()], assignments=[assignment_row(scope, OWNER, "o1")])
        assert same.of(RULE), scope
        other = run_rules(RULES, vaults=[tvault()], assignments=[assignment_row(scope, OWNER, "o1", tenant=OTHER_TENANT)])
        assert other.findings == [], scope
    outside = run_rules(RULES, vaults=[tvault()], assignments=[assignment_row(mg_scope("mg-online"), OWNER, "o1")])
    assert outside.findings == []


def test_unknown_ancestry_is_not_evaluated_even_when_a_vault_grant_proves_it():
    rows = [assignment_row(vault_id(), OWNER, "o1"), assignment_row(mg_scope("mg-corp"), READER, "x"),
            assignment_row(mg_scope("mg-corp"), KV_CONTRIBUTOR, "x2")]
    for subs in ([subscription_row(mgs=())], [subscription_row(SUB2)]):
        run = run_rules(RULES, vaults=[tvault()], assignments=rows, subscriptions=subs)
        assert run.findings == []
        (n,) = run.not_evaluated
        assert n["ruleId"] == RULE and n["vaultId"] == vault_id()
    # a disabled vault is not evaluated there either (the rule reads RBAC access), and never a finding
    run = run_rules(RULES, vaults=[vault_row()], assignments=rows, subscriptions=[subscription_row(mgs=())])
    assert run.findings == []


def test_one_finding_per_vault():
    rows = [assignment_row(rg_scope(), OWNER, "o1"), assignment_row(rg_scope(), CONTRIBUTOR, "c1")]
    vaults = [tvault("kv1"), tvault("kv2"), vault_row("kv3")]
    run = run_rules(RULES, vaults=vaults, assignments=rows)
    by_vault = {f["vaultId"]: f for f in run.of(RULE)}
    assert set(by_vault) == {vault_id("kv1"), vault_id("kv2")}
    assert all(f["evidence"]["principalsCount"] == 2 for f in by_vault.values())


def test_grants_at_another_vault_do_not_count():
    rows = [assignment_row(vault_id("kv10"), OWNER, "o1"), assignment_row(vault_id("gone"), OWNER, "o2"),
            assignment_row(rg_scope(rg="rg-app2"), OWNER, "o3")]
    assert run_rules(RULES, vaults=[tvault()], assignments=rows).findings == []


def test_unknown_role_is_not_evaluated():
    ra = assignment_row(vault_id(), "99999999-9999-9999-9999-999999999999", "u1")
    run = run_rules(RULES, vaults=[tvault()], assignments=[ra])
    assert run.findings == [] and [n["ruleId"] for n in run.not_evaluated] == [RULE]


def test_principals_are_capped_at_100():
    rows = [assignment_row(rg_scope(), CONTRIBUTOR, f"c{i:03d}") for i in range(120)]
    (f,) = run_rules(RULES, vaults=[tvault()], assignments=rows).of(RULE)
    assert len(f["evidence"]["principals"]) == 100 and f["evidence"]["principalsCount"] == 120


def test_grants_of_one_principal_are_listed_with_their_count():
    roles = [role_definition_row(f"eeeeeeee-0000-0000-0000-{i:012d}", f"Deployer {i}", actions=[DEPLOY])
             for i in range(102)]
    rows = [assignment_row(vault_id(), r["name"], "o1") for r in roles]
    (f,) = run_rules(RULES, vaults=[tvault()], assignments=rows, definitions=roles).of(RULE)
    p = principals_of(f)["o1"]
    assert len(p["grants"]) == 100 and p["grantsCount"] == 102
    single = run_rules(RULES, vaults=[tvault()], assignments=rows[:1], definitions=roles[:1]).of(RULE)
    assert principals_of(single[0])["o1"]["grantsCount"] == 1
