"""broad-data-role (catalog 2): one finding per grant of a Key Vault data role above the vault.

The rule judges the grant itself (its role's data actions and its scope); the vaults it covers are
counted as coverage is everywhere (tenant-bound ``/`` and management-group scopes, unknown ancestry).
"""

import pytest

from rules import broad_data_role
from rules.base import fingerprint
from tests.factories import (
    KV_ADMIN,
    KV_CONTRIBUTOR,
    KV_SECRETS_USER,
    OTHER_TENANT,
    OWNER,
    SUB,
    SUB2,
    TENANT,
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

RULES = (broad_data_role,)
RULE = "broad-data-role"


def test_severity_by_scope_level():
    expected = {"/": ("high", "root"), mg_scope("mg-corp"): ("high", "managementGroup"),
                f"/subscriptions/{SUB}": ("high", "subscription"), rg_scope(): ("medium", "resourceGroup")}
    rows = [assignment_row(scope, KV_SECRETS_USER, f"p{i}") for i, scope in enumerate(expected)]
    run = run_rules(RULES, vaults=[vault_row()], assignments=rows)
    found = {f["scope"]: f for f in run.of(RULE)}
    assert set(found) == set(expected)
    for scope, (severity, level) in expected.items():
        f = found[scope]
        assert f["severity"] == severity and f["evidence"]["scopeLevel"] == level
        assert f["subject"] == "grant" and f["vaultId"] is None
        assert f["fingerprint"] == fingerprint(RULE, f["assignmentId"])
        assert f["assignmentId"].startswith("" if scope == "/" else scope)
        assert f["roleName"] == "Key Vault Secrets User" and scope in f["message"]
        # report 2: evidence does not repeat what the finding's own fields say
        assert not {"roleName", "scope", "assignmentId", "principalId"} & set(f["evidence"])
        assert f["assignmentId"] in f["remediation"]


def test_remediation_names_the_principal():
    (f,) = run_rules(RULES, assignments=[assignment_row(rg_scope(), KV_SECRETS_USER, "u1")]).of(RULE)
    assert "--assignee-object-id u1" in f["remediation"]


def test_severity_override_applies():
    run = run_rules(RULES, assignments=[assignment_row("/", KV_SECRETS_USER, "u1")],
                    severity_overrides={RULE: "low"})
    assert [f["severity"] for f in run.of(RULE)] == ["low"]


def test_counts_vaults_covered_and_rbac_ones():
    vaults = [vault_row("kv1"), vault_row("kv2", rbac=False), vault_row("kv3", rg="rg-other"),
              vault_row("kv4", sub=SUB2)]
    ra = assignment_row(f"/subscriptions/{SUB}", KV_SECRETS_USER, "u1")
    (f,) = run_rules(RULES, vaults=vaults, assignments=[ra]).of(RULE)
    assert (f["evidence"]["vaultsCovered"], f["evidence"]["rbacVaultsCovered"]) == (3, 2)
    assert f["affected"] == {"vaults": 3, "rbac": 2, "accessPolicy": 1}
    assert f["evidence"]["vaultIds"] == sorted([vault_id("kv1"), vault_id("kv2"), vault_id("kv3", rg="rg-other")])
    assert f["evidence"]["vaultIdsCount"] == 3
    assert "3 vault(s)" in f["message"]


def test_vault_list_is_capped_with_the_full_count():
    vaults = [vault_row(f"kv{i:03d}", rbac=i % 2 == 0) for i in range(105)]
    (f,) = run_rules(RULES, vaults=vaults, assignments=[assignment_row(rg_scope(), KV_SECRETS_USER, "u1")]).of(RULE)
    assert f["affected"] == {"vaults": 105, "rbac": 53, "accessPolicy": 52}
    assert len(f["evidence"]["vaultIds"]) == 100 and f["evidence"]["vaultIdsCount"] == 105


def test_management_group_coverage_follows_the_subscription_chain():
    vaults = [vault_row("kv1"), vault_row("kv4", sub=SUB2)]
    subs = [subscription_row(), subscription_row(SUB2, mgs=("mg-other", TENANT))]
    rows = [assignment_row(mg_scope("MG-Corp"), KV_SECRETS_USER, "u1"),
            assignment_row(mg_scope(TENANT), KV_SECRETS_USER, "u2")]
    run = run_rules(RULES, vaults=vaults, assignments=rows, subscriptions=subs)
    assert {f["principalId"]: f["evidence"]["vaultsCovered"] for f in run.of(RULE)} == {"u1": 1, "u2": 2}


@pytest.mark.parametrize("subscriptions", [[subscription_row(mgs=())], [subscription_row(SUB2)]],
                         ids=["empty-chain", "no-subscription-row"])  # the vault's subscription is not in the snapshot
def test_unknown_ancestry_management_group_grants_fire_but_do_not_count_those_vaults(subscriptions):
    rows = [assignment_row(mg_scope("mg-corp"), KV_SECRETS_USER, "u1"),
            assignment_row(mg_scope(TENANT), KV_SECRETS_USER, "u2"),
            assignment_row("/", KV_SECRETS_USER, "u3")]
    run = run_rules(RULES, vaults=[vault_row()], assignments=rows, subscriptions=subscriptions)
    assert {f["principalId"]: f["evidence"]["vaultsCovered"] for f in run.of(RULE)} == {"u1": 0, "u2": 0, "u3": 1}


def test_root_and_management_group_coverage_is_tenant_bound_but_the_grant_still_fires():
    vaults = [vault_row("kv1"), vault_row("kv2", sub=SUB2, row_tenant=OTHER_TENANT)]
    rows = [assignment_row("/", KV_SECRETS_USER, "u1", tenant=OTHER_TENANT),
            assignment_row(mg_scope("mg-corp"), KV_SECRETS_USER, "u2", tenant=OTHER_TENANT),
            assignment_row(mg_scope("mg-corp"), KV_SECRETS_USER, "u3", tenant=TENANT.upper()),
            assignment_row(f"/subscriptions/{SUB}", KV_SECRETS_USER, "u4", tenant=OTHER_TENANT)]
    run = run_rules(RULES, vaults=vaults, assignments=rows)
    found = {f["principalId"]: f["evidence"]["vaultIds"] for f in run.of(RULE)}
    assert found == {"u1": [vault_id("kv2", sub=SUB2)], "u2": [vault_id("kv2", sub=SUB2)],
                     "u3": [vault_id("kv1")], "u4": [vault_id("kv1")]}


def test_missing_tenant_on_either_side_covers():
    grant = assignment_row("/", KV_SECRETS_USER, "u1")
    grant.pop("tenantId")
    vaults = [vault_row("kv1"), vault_row("kv2", sub=SUB2, row_tenant=OTHER_TENANT)]
    (f,) = run_rules(RULES, vaults=vaults, assignments=[grant]).of(RULE)
    assert f["evidence"]["vaultsCovered"] == 2


def test_deny_assignments_do_not_change_the_finding():
    deny = deny_row(rg_scope(), data_actions=["*"])
    ra = assignment_row(rg_scope(), KV_SECRETS_USER, "u1")
    (f,) = run_rules(RULES, vaults=[vault_row()], assignments=[ra], denies=[deny]).of(RULE)
    assert f["evidence"]["vaultsCovered"] == 1


def test_fires_with_no_vault_beneath():
    run = run_rules(RULES, assignments=[assignment_row(rg_scope(rg="empty"), KV_SECRETS_USER, "u1")])
    (f,) = run.of(RULE)
    assert f["evidence"]["vaultsCovered"] == 0 and f["vaultId"] is None
    assert f["affected"] == {"vaults": 0, "rbac": 0, "accessPolicy": 0}


def test_eligible_grant_counts_and_is_marked():
    el = eligibility_row(f"/subscriptions/{SUB}", KV_ADMIN, "u1", name="el1")
    (f,) = run_rules(RULES, vaults=[vault_row()], eligibilities=[el]).of(RULE)
    assert f["assignmentId"] == el["id"] and f["eligible"] is True and "eligible" not in f["evidence"]
    assert f["fingerprint"] == fingerprint(RULE, el["id"]) and f["severity"] == "high"
    assert "eligible" in f["message"]


def test_a_role_assignment_and_an_eligibility_of_the_same_role_are_two_findings():
    rows = [assignment_row(rg_scope(), KV_SECRETS_USER, "u1")]
    els = [eligibility_row(rg_scope(), KV_SECRETS_USER, "u1")]
    run = run_rules(RULES, vaults=[vault_row()], assignments=rows, eligibilities=els)
    assert sorted(f["eligible"] for f in run.of(RULE)) == [False, True]


def test_does_not_fire_at_vault_or_object_scope_or_for_control_roles():
    rows = [assignment_row(vault_id(), KV_SECRETS_USER, "u1"),
            assignment_row(vault_id() + "/secrets/s", KV_SECRETS_USER, "u2"),
            assignment_row(vault_id("not-collected"), KV_SECRETS_USER, "u5"),
            assignment_row(rg_scope(), OWNER, "u3"), assignment_row(rg_scope(), KV_CONTRIBUTOR, "u4")]
    assert run_rules(RULES, vaults=[vault_row()], assignments=rows).findings == []


def test_custom_role_with_pascal_keys_and_carve_out():
    partial = role_definition_row("cccccccc-0000-0000-0000-000000000001", "Almost none", key_case="pascal",
                                  data_actions=["Microsoft.KeyVault/vaults/secrets/*"],
                                  not_data_actions=["Microsoft.KeyVault/vaults/secrets/getSecret/action"])
    nothing = role_definition_row("cccccccc-0000-0000-0000-000000000002", "None",
                                  data_actions=["Microsoft.KeyVault/vaults/secrets/*"],
                                  not_data_actions=["Microsoft.KeyVault/vaults/*"])
    hsm = role_definition_row("cccccccc-0000-0000-0000-000000000003", "HSM and storage",
                              data_actions=["Microsoft.KeyVault/managedHsm/*", "Microsoft.Storage/*"])
    rows = [assignment_row(rg_scope(), partial["name"], "u1"), assignment_row(rg_scope(), nothing["name"], "u2"),
            assignment_row(rg_scope(), hsm["name"], "u3")]
    run = run_rules(RULES, assignments=rows, definitions=[partial, nothing, hsm])
    (f,) = run.of(RULE)
    assert f["principalId"] == "u1" and f["roleName"] == "Almost none"


def test_conditional_and_missing_scope_property():
    rows = [assignment_row(rg_scope(), KV_SECRETS_USER, "u1", condition="@Resource[x] StringEquals 'y'"),
            assignment_row(f"/subscriptions/{SUB}", KV_SECRETS_USER.upper(), "u2", omit_scope=True,
                           role_prefix="/subscriptions/X")]
    run = run_rules(RULES, assignments=rows)
    found = {f["principalId"]: f for f in run.of(RULE)}
    assert found["u1"]["evidence"]["conditional"] is True
    assert found["u2"]["evidence"]["scopeLevel"] == "subscription" and found["u2"]["evidence"]["conditional"] is False
    # the id the grant references, as spelled there
    assert found["u2"]["roleDefinitionId"] == rows[1]["properties"]["roleDefinitionId"]


def test_duplicate_grant_rows_give_one_finding_and_a_gap():
    ra = assignment_row(rg_scope(), KV_SECRETS_USER, "u1", name="dup")
    run = run_rules(RULES, assignments=[ra, dict(ra)])
    assert len(run.of(RULE)) == 1 and len(run.gaps) == 1


def test_grant_without_any_usable_scope_is_a_gap_not_a_finding():
    ra = assignment_row(rg_scope(), KV_SECRETS_USER, "u1", omit_scope=True)
    ra["id"] = "ra-without-scope"
    run = run_rules(RULES, assignments=[ra])
    assert run.findings == [] and [g["scope"] for g in run.gaps] == ["ra-without-scope"]


def test_unknown_role_is_not_evaluated():
    run = run_rules(RULES, assignments=[assignment_row(rg_scope(), "99999999-9999-9999-9999-999999999999", "u1")])
    assert run.findings == []
    (n,) = run.not_evaluated
    assert n["ruleId"] == RULE and n["scope"] == rg_scope()


def test_root_scope_read_from_the_id_when_the_property_is_missing():
    ra = assignment_row("/", KV_SECRETS_USER, "u1", omit_scope=True)
    (f,) = run_rules(RULES, vaults=[vault_row()], assignments=[ra]).of(RULE)
    assert f["scope"] == "/" and f["evidence"]["scopeLevel"] == "root" and f["evidence"]["vaultsCovered"] == 1
