"""inert-role-assignment: data roles at or inside an access-policy vault."""

from rules import inert_role_assignment
from tests.factories import (CONTRIBUTOR, KV_ADMIN, KV_SECRETS_USER, assignment_row, rg_scope, role_definition_row,
                             run_rules, vault_id, vault_row)

RULES = (inert_role_assignment,)
AP_VAULT = vault_row(rbac=False)


def test_fires_for_a_data_role_at_the_vault():
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1", name="ra-vault")
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=[ra])
    (f,) = run.of("inert-role-assignment")
    assert f["severity"] == "medium"
    assert f["assignmentId"] == ra["id"] and f["principalId"] == "u1" and f["vaultId"] == vault_id()
    assert f["roleName"] == "Key Vault Secrets User" and f["scope"] == vault_id()
    assert f["evidence"]["scopeLevel"] == "vault" and f["evidence"]["objectScoped"] is False
    assert f["evidence"]["dataActions"] == ["Microsoft.KeyVault/vaults/secrets/getSecret/action",
                                            "Microsoft.KeyVault/vaults/secrets/readMetadata/action"]
    assert "getSecret" in f["evidence"]["dataActionsInWords"]
    assert "kv1" in f["message"] and "Key Vault Secrets User" in f["message"] and "u1" in f["message"]
    assert ra["id"] in f["remediation"]


def test_fires_for_an_object_scoped_assignment():
    scope = vault_id() + "/secrets/db-password"
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=[assignment_row(scope, KV_ADMIN, "u1")])
    (f,) = run.of("inert-role-assignment")
    assert f["evidence"]["scopeLevel"] == "object" and f["evidence"]["objectScoped"] is True
    assert scope in f["message"]


def test_does_not_fire_above_the_vault_or_on_rbac_vaults_or_without_data_actions():
    above = [assignment_row(rg_scope(), KV_ADMIN, "u1"), assignment_row("/", KV_ADMIN, "u2")]
    assert run_rules(RULES, vaults=[AP_VAULT], assignments=above).findings == []
    at_vault = [assignment_row(vault_id(), KV_ADMIN, "u1")]
    assert run_rules(RULES, vaults=[vault_row(rbac=True)], assignments=at_vault).findings == []
    control_only = [assignment_row(vault_id(), CONTRIBUTOR, "u1")]
    assert run_rules(RULES, vaults=[AP_VAULT], assignments=control_only).findings == []


def test_missing_or_null_rbac_flag_means_access_policies():
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1")
    assert len(run_rules(RULES, vaults=[vault_row(rbac=None)], assignments=[ra]).findings) == 1
    assert len(run_rules(RULES, vaults=[vault_row(enableRbacAuthorization=None)], assignments=[ra]).findings) == 1


def test_one_finding_per_assignment_and_conditional_marked():
    rows = [assignment_row(vault_id(), KV_SECRETS_USER, "u1", name="a"),
            assignment_row(vault_id(), KV_ADMIN, "u1", name="b", condition="@Resource[x] StringEquals 'y'")]
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=rows)
    found = {f["assignmentId"].rsplit("/", 1)[-1]: f for f in run.of("inert-role-assignment")}
    assert set(found) == {"a", "b"}
    assert found["b"]["evidence"]["conditional"] is True and found["a"]["evidence"]["conditional"] is False
    assert len({f["fingerprint"] for f in found.values()}) == 2


def test_odd_casing_of_scope_role_id_and_missing_scope_property():
    scope = vault_id().upper().replace("/SUBSCRIPTIONS/", "/subscriptions/")
    rows = [assignment_row(scope, KV_SECRETS_USER.upper(), "U1", role_prefix="/subscriptions/X", name="upper"),
            assignment_row(vault_id(), KV_SECRETS_USER, "u2", omit_scope=True, name="noscope")]
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=rows)
    assert {f["principalId"] for f in run.of("inert-role-assignment")} == {"U1", "u2"}


def test_unknown_role_is_not_evaluated_not_a_finding():
    ra = assignment_row(vault_id(), "99999999-9999-9999-9999-999999999999", "u1")
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=[ra])
    assert run.findings == []
    (n,) = run.not_evaluated
    assert n["ruleId"] == "inert-role-assignment" and n["vaultId"] == vault_id() and "unknown" in n["reason"]


def test_custom_role_pascal_keys_and_not_data_actions_carving_everything_out():
    grants = role_definition_row("cccccccc-0000-0000-0000-000000000001", "Reader-ish", key_case="pascal",
                                 data_actions=["Microsoft.KeyVault/vaults/secrets/readMetadata/action"])
    carved = role_definition_row("cccccccc-0000-0000-0000-000000000002", "Nothing",
                                 data_actions=["Microsoft.KeyVault/vaults/secrets/*"],
                                 not_data_actions=["Microsoft.KeyVault/vaults/secrets/*"])
    rows = [assignment_row(vault_id(), grants["name"], "u1"), assignment_row(vault_id(), carved["name"], "u2")]
    run = run_rules(RULES, vaults=[AP_VAULT], assignments=rows, definitions=[grants, carved])
    (f,) = run.of("inert-role-assignment")
    assert f["principalId"] == "u1" and f["roleName"] == "Reader-ish"
