"""inert-role-assignment (catalog 2): one finding per grant of a data role at or inside an access-policy vault.

The rule judges the grant itself (its role's data actions and its scope), not deny assignments or tenants.
"""

from rules import inert_role_assignment
from rules.base import fingerprint
from tests.factories import (
    CONTRIBUTOR,
    KV_ADMIN,
    KV_SECRETS_USER,
    OTHER_TENANT,
    OWNER,
    assignment_row,
    deny_row,
    eligibility_row,
    mg_scope,
    rg_scope,
    role_definition_row,
    run_rules,
    subscription_row,
    vault_id,
    vault_row,
)

RULES = (inert_role_assignment,)
RULE = "inert-role-assignment"
AP_VAULT = vault_row(rbac=False)


def test_fires_for_a_data_role_at_the_vault():
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1", name="ra-vault")
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=[ra])
    (f,) = run.of(RULE)
    assert f["severity"] == "medium" and f["subject"] == "grant"
    assert f["fingerprint"] == fingerprint(RULE, ra["id"])
    assert f["assignmentId"] == ra["id"] and f["principalId"] == "u1" and f["vaultId"] == vault_id()
    assert f["roleDefinitionId"] == ra["properties"]["roleDefinitionId"]
    assert f["roleName"] == "Key Vault Secrets User" and f["scope"] == vault_id() and f["eligible"] is False
    assert f["affected"] == {"vaults": 1, "rbac": 0, "accessPolicy": 1}
    ev = f["evidence"]
    assert ev["scopeLevel"] == "vault" and ev["objectScoped"] is False and f["eligible"] is False
    assert not {"eligible", "assignmentId", "principalId", "scope"} & set(ev)   # the finding's fields say them
    assert ev["permissionModel"] == "accessPolicy"
    assert ev["dataActionsInWords"] == "secrets: getSecret, readMetadata" and ev["dataActionCount"] == 2
    assert "kv1" in f["message"] and "Key Vault Secrets User" in f["message"] and "u1" in f["message"]
    assert ra["id"] in f["remediation"] and vault_id() in f["remediation"]


def test_fires_for_an_object_scoped_assignment():
    scope = vault_id() + "/secrets/db-password"
    ra = assignment_row(scope, KV_ADMIN, "u1")
    (f,) = run_rules(RULES, vaults=[AP_VAULT], assignments=[ra]).of(RULE)
    assert f["evidence"]["scopeLevel"] == "object" and f["evidence"]["objectScoped"] is True
    assert f["vaultId"] == vault_id() and f["scope"] == scope and scope in f["message"]
    assert f["fingerprint"] == fingerprint(RULE, ra["id"])


def test_eligible_grant_counts_and_is_marked():
    el = eligibility_row(vault_id(), KV_SECRETS_USER, "u1", name="el1")
    (f,) = run_rules(RULES, vaults=[AP_VAULT], eligibilities=[el]).of(RULE)
    assert f["assignmentId"] == el["id"] and f["eligible"] is True and "eligible" not in f["evidence"]
    assert "eligible" in f["message"]


def test_does_not_fire_above_the_vault_or_on_rbac_vaults_or_without_data_actions():
    above = [assignment_row(rg_scope(), KV_ADMIN, "u1"), assignment_row("/", KV_ADMIN, "u2"),
             assignment_row(mg_scope("mg-corp"), KV_ADMIN, "u3")]
    assert run_rules(RULES, vaults=[AP_VAULT], assignments=above).findings == []
    at_vault = [assignment_row(vault_id(), KV_ADMIN, "u1"), assignment_row(vault_id() + "/keys/k", KV_ADMIN, "u2")]
    assert run_rules(RULES, vaults=[vault_row(rbac=True)], assignments=at_vault).findings == []
    control_only = [assignment_row(vault_id(), CONTRIBUTOR, "u1"), assignment_row(vault_id(), OWNER, "u2")]
    assert run_rules(RULES, vaults=[AP_VAULT], assignments=control_only).findings == []


def test_grant_at_a_vault_not_in_the_snapshot_gives_no_finding():
    rows = [assignment_row(vault_id("not-collected"), KV_ADMIN, "u1"),
            assignment_row(vault_id("not-collected") + "/secrets/s", KV_ADMIN, "u2")]
    assert run_rules(RULES, vaults=[AP_VAULT], assignments=rows).findings == []


def test_missing_or_null_rbac_flag_means_access_policies():
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1")
    assert len(run_rules(RULES, vaults=[vault_row(rbac=None)], assignments=[ra]).findings) == 1
    assert len(run_rules(RULES, vaults=[vault_row(enableRbacAuthorization=None)], assignments=[ra]).findings) == 1


def test_non_boolean_rbac_flag_is_a_gap_not_an_audit():
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1")
    run = run_rules(RULES, vaults=[vault_row(enableRbacAuthorization="false")], assignments=[ra])
    assert run.findings == [] and [g["scope"] for g in run.gaps] == [vault_id()]


def test_vault_row_without_properties_is_a_gap_never_audited():
    row = vault_row(rbac=False)
    row.pop("properties")
    run = run_rules(RULES, vaults=[row], assignments=[assignment_row(vault_id(), KV_SECRETS_USER, "u1")])
    assert run.findings == [] and [g["scope"] for g in run.gaps] == [vault_id()]


def test_one_finding_per_assignment_and_conditional_marked():
    rows = [assignment_row(vault_id(), KV_SECRETS_USER, "u1", name="a"),
            assignment_row(vault_id(), KV_ADMIN, "u1", name="b", condition="@Resource[x] StringEquals 'y'")]
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=rows)
    found = {f["assignmentId"].rsplit("/", 1)[-1]: f for f in run.of(RULE)}
    assert set(found) == {"a", "b"}
    assert found["b"]["evidence"]["conditional"] is True and found["a"]["evidence"]["conditional"] is False
    assert "condition" in found["b"]["message"]
    assert len({f["fingerprint"] for f in found.values()}) == 2


def test_deny_assignments_and_tenants_do_not_change_the_finding():
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1", tenant=OTHER_TENANT)
    deny = deny_row(vault_id(), data_actions=["*"])
    (f,) = run_rules(RULES, vaults=[AP_VAULT], assignments=[ra], denies=[deny]).of(RULE)
    assert f["evidence"]["dataActionCount"] == 2


def test_duplicate_rows_give_one_finding_and_a_gap():
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1", name="dup")
    run = run_rules(RULES, vaults=[AP_VAULT, AP_VAULT], assignments=[ra, dict(ra)])
    assert len(run.of(RULE)) == 1
    assert sorted(g["reason"] for g in run.gaps) == ["duplicate role assignment row ignored",
                                                     "duplicate vault row ignored"]


def test_odd_casing_of_scope_role_id_and_missing_scope_property():
    scope = vault_id().upper().replace("/SUBSCRIPTIONS/", "/subscriptions/")
    rows = [assignment_row(scope, KV_SECRETS_USER.upper(), "U1", role_prefix="/subscriptions/X", name="upper"),
            assignment_row(vault_id(), KV_SECRETS_USER, "u2", omit_scope=True, name="noscope")]
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=rows)
    found = {f["principalId"]: f for f in run.of(RULE)}
    assert set(found) == {"U1", "u2"}
    assert found["U1"]["roleDefinitionId"] == rows[0]["properties"]["roleDefinitionId"]
    assert found["u2"]["scope"] == vault_id()


def test_unknown_role_is_not_evaluated_not_a_finding():
    ra = assignment_row(vault_id(), "99999999-9999-9999-9999-999999999999", "u1")
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=[ra])
    assert run.findings == []
    (n,) = run.not_evaluated
    assert n["ruleId"] == RULE and n["vaultId"] == vault_id() and "unknown" in n["reason"]


def test_custom_role_pascal_keys_and_not_data_actions_carving_everything_out():
    grants = role_definition_row("cccccccc-0000-0000-0000-000000000001", "Reader-ish", key_case="pascal",
                                 data_actions=["Microsoft.KeyVault/vaults/secrets/readMetadata/action"])
    carved = role_definition_row("cccccccc-0000-0000-0000-000000000002", "Nothing",
                                 data_actions=["Microsoft.KeyVault/vaults/secrets/*"],
                                 not_data_actions=["Microsoft.KeyVault/vaults/secrets/*"])
    hsm = role_definition_row("cccccccc-0000-0000-0000-000000000003", "HSM only",
                              data_actions=["Microsoft.KeyVault/managedHsm/*"])
    rows = [assignment_row(vault_id(), grants["name"], "u1"), assignment_row(vault_id(), carved["name"], "u2"),
            assignment_row(vault_id(), hsm["name"], "u3")]
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=rows, definitions=[grants, carved, hsm])
    (f,) = run.of(RULE)
    assert f["principalId"] == "u1" and f["roleName"] == "Reader-ish"


def test_unknown_ancestry_does_not_hide_grants_at_the_vault():
    rows = [assignment_row(vault_id(), KV_SECRETS_USER, "u1"), assignment_row(mg_scope("mg-corp"), OWNER, "u2")]
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=rows, subscriptions=[subscription_row(mgs=())])
    assert len(run.of(RULE)) == 1
