"""broad-data-role: Key Vault data roles assigned above the vault."""

from rules import broad_data_role
from tests.factories import (KV_CONTRIBUTOR, KV_SECRETS_USER, OWNER, SUB, SUB2, TENANT, assignment_row, mg_scope,
                             rg_scope, role_definition_row, run_rules, vault_id, vault_row)

RULES = (broad_data_role,)


def test_severity_by_scope_level():
    expected = {"/": ("high", "root"), mg_scope("mg-corp"): ("high", "managementGroup"),
                f"/subscriptions/{SUB}": ("high", "subscription"), rg_scope(): ("medium", "resourceGroup")}
    rows = [assignment_row(scope, KV_SECRETS_USER, f"p{i}") for i, scope in enumerate(expected)]
    run = run_rules(RULES, vaults=[vault_row()], assignments=rows)
    found = {f["scope"]: f for f in run.of("broad-data-role")}
    assert set(found) == set(expected)
    for scope, (severity, level) in expected.items():
        f = found[scope]
        assert f["severity"] == severity and f["evidence"]["scopeLevel"] == level
        assert f["assignmentId"].startswith("" if scope == "/" else scope)
        assert f["roleName"] == "Key Vault Secrets User" and scope in f["message"]
        assert f["assignmentId"] in f["remediation"]


def test_counts_vaults_covered_and_rbac_ones():
    vaults = [vault_row("kv1"), vault_row("kv2", rbac=False), vault_row("kv3", rg="rg-other"),
              vault_row("kv4", sub=SUB2)]
    run = run_rules(RULES, vaults=vaults, assignments=[assignment_row(f"/subscriptions/{SUB}", KV_SECRETS_USER, "u1")])
    (f,) = run.of("broad-data-role")
    assert (f["evidence"]["vaultsCovered"], f["evidence"]["rbacVaultsCovered"]) == (3, 2)
    assert "3 vault(s)" in f["message"]


def test_management_group_coverage_follows_the_subscription_chain():
    vaults = [vault_row("kv1"), vault_row("kv4", sub=SUB2)]
    run = run_rules(RULES, vaults=vaults, assignments=[assignment_row(mg_scope("MG-Corp"), KV_SECRETS_USER, "u1"),
                                                       assignment_row(mg_scope(TENANT), KV_SECRETS_USER, "u2")])
    found = {f["principalId"]: f["evidence"]["vaultsCovered"] for f in run.of("broad-data-role")}
    assert found == {"u1": 2, "u2": 2}


def test_fires_with_no_vault_beneath():
    run = run_rules(RULES, assignments=[assignment_row(rg_scope(rg="empty"), KV_SECRETS_USER, "u1")])
    (f,) = run.of("broad-data-role")
    assert f["evidence"]["vaultsCovered"] == 0 and f["vaultId"] is None


def test_does_not_fire_at_vault_or_object_scope_or_for_control_roles():
    rows = [assignment_row(vault_id(), KV_SECRETS_USER, "u1"), assignment_row(vault_id() + "/secrets/s", KV_SECRETS_USER, "u2"),
            assignment_row(rg_scope(), OWNER, "u3"), assignment_row(rg_scope(), KV_CONTRIBUTOR, "u4")]
    assert run_rules(RULES, vaults=[vault_row()], assignments=rows).findings == []


def test_custom_role_with_pascal_keys_and_carve_out():
    partial = role_definition_row("cccccccc-0000-0000-0000-000000000001", "Almost none", key_case="pascal",
                                  data_actions=["Microsoft.KeyVault/vaults/secrets/*"],
                                  not_data_actions=["Microsoft.KeyVault/vaults/secrets/getSecret/action"])
    nothing = role_definition_row("cccccccc-0000-0000-0000-000000000002", "None",
                                  data_actions=["Microsoft.KeyVault/vaults/secrets/*"],
                                  not_data_actions=["Microsoft.KeyVault/vaults/*"])
    rows = [assignment_row(rg_scope(), partial["name"], "u1"), assignment_row(rg_scope(), nothing["name"], "u2")]
    run = run_rules(RULES, assignments=rows, definitions=[partial, nothing])
    (f,) = run.of("broad-data-role")
    assert f["principalId"] == "u1"
    assert "Microsoft.KeyVault/vaults/secrets/getSecret/action" not in f["evidence"]["dataActions"]


def test_conditional_and_missing_scope_property():
    rows = [assignment_row(rg_scope(), KV_SECRETS_USER, "u1", condition="@Resource[x] StringEquals 'y'"),
            assignment_row(f"/subscriptions/{SUB}", KV_SECRETS_USER.upper(), "u2", omit_scope=True,
                           role_prefix="/subscriptions/X")]
    run = run_rules(RULES, assignments=rows)
    found = {f["principalId"]: f for f in run.of("broad-data-role")}
    assert found["u1"]["evidence"]["conditional"] is True
    assert found["u2"]["evidence"]["scopeLevel"] == "subscription" and found["u2"]["evidence"]["conditional"] is False


def test_unknown_role_is_not_evaluated():
    run = run_rules(RULES, assignments=[assignment_row(rg_scope(), "99999999-9999-9999-9999-999999999999", "u1")])
    assert run.findings == []
    (n,) = run.not_evaluated
    assert n["ruleId"] == "broad-data-role" and n["scope"] == rg_scope()
