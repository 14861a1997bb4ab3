"""wildcard-custom-role: custom roles whose '*' patterns reach Key Vault data or vaults/write."""

from rules import wildcard_custom_role
from tests.factories import (KV_ADMIN, OWNER, SUB, assignment_row, mg_scope, rg_scope, role_definition_row, run_rules,
                             vault_id, vault_row)

RULES = (wildcard_custom_role,)
STAR_SECRETS = role_definition_row("cccccccc-0000-0000-0000-000000000001", "Secrets star",
                                   data_actions=["Microsoft.KeyVault/vaults/secrets/*"])


def test_fires_for_a_data_wildcard_at_a_resource_group():
    ra = assignment_row(rg_scope(), STAR_SECRETS["name"], "u1", name="ra1")
    run = run_rules(RULES, vaults=[vault_row()], assignments=[ra], definitions=[STAR_SECRETS])
    (f,) = run.of("wildcard-custom-role")
    assert f["severity"] == "medium" and f["assignmentId"] == ra["id"] and f["principalId"] == "u1"
    assert f["roleName"] == "Secrets star" and f["scope"] == rg_scope() and f["vaultId"] is None
    assert f["subject"] == "role:cccccccc-0000-0000-0000-000000000001"
    ev = f["evidence"]
    assert ev["dataActionWildcards"] == ["Microsoft.KeyVault/vaults/secrets/*"] and ev["actionWildcards"] == []
    assert ev["scopeLevel"] == "resourceGroup"
    assert "Microsoft.KeyVault/vaults/secrets/getSecret/action" in ev["matchedDataActions"]
    assert "Secrets star" in f["message"] and rg_scope() in f["message"]
    assert "Secrets star" in f["remediation"]


def test_fires_even_when_not_data_actions_carve_everything_out():
    carved = role_definition_row("cccccccc-0000-0000-0000-000000000002", "Carved", key_case="pascal",
                                 data_actions=["Microsoft.KeyVault/*"], not_data_actions=["Microsoft.KeyVault/vaults/*"])
    run = run_rules(RULES, assignments=[assignment_row(f"/subscriptions/{SUB}", carved["name"], "u1")],
                    definitions=[carved])
    (f,) = run.of("wildcard-custom-role")
    assert f["evidence"]["effectiveDataActions"] == [] and f["evidence"]["matchedDataActions"]
    assert f["evidence"]["notDataActions"] == ["Microsoft.KeyVault/vaults/*"]


def test_fires_for_a_control_wildcard_matching_vault_write():
    role = role_definition_row("cccccccc-0000-0000-0000-000000000003", "KV operator", actions=["Microsoft.KeyVault/*"],
                               not_actions=["Microsoft.KeyVault/vaults/write"])
    run = run_rules(RULES, assignments=[assignment_row(mg_scope("mg-corp"), role["name"], "u1")], definitions=[role])
    (f,) = run.of("wildcard-custom-role")
    assert f["evidence"]["actionWildcards"] == ["Microsoft.KeyVault/*"] and f["evidence"]["dataActionWildcards"] == []
    assert f["evidence"]["scopeLevel"] == "managementGroup"


def test_does_not_fire_for_builtin_roles_explicit_actions_or_other_providers():
    explicit = role_definition_row("cccccccc-0000-0000-0000-000000000004", "Explicit",
                                   data_actions=["Microsoft.KeyVault/vaults/secrets/getSecret/action"],
                                   actions=["Microsoft.KeyVault/vaults/write"])
    other = role_definition_row("cccccccc-0000-0000-0000-000000000005", "Storage star",
                                data_actions=["Microsoft.Storage/*", "Microsoft.KeyVault/managedHsm/*"],
                                actions=["Microsoft.Storage/*", "*/read"])
    rows = [assignment_row(rg_scope(), KV_ADMIN, "builtin"), assignment_row(rg_scope(), OWNER, "owner"),
            assignment_row(rg_scope(), explicit["name"], "explicit"), assignment_row(rg_scope(), other["name"], "other")]
    run = run_rules(RULES, assignments=rows, definitions=[explicit, other])
    assert run.findings == []


def test_role_type_compares_case_insensitively():
    row = role_definition_row("cccccccc-0000-0000-0000-000000000006", "Lower", data_actions=["*"])
    row["properties"]["type"] = "customrole"
    run = run_rules(RULES, assignments=[assignment_row("/", row["name"].upper(), "u1")], definitions=[row])
    (f,) = run.of("wildcard-custom-role")
    assert f["evidence"]["scopeLevel"] == "root" and f["evidence"]["dataActionWildcards"] == ["*"]


def test_vault_and_object_scopes_name_the_vault():
    rows = [assignment_row(vault_id(), STAR_SECRETS["name"], "u1", name="v"),
            assignment_row(vault_id() + "/secrets/s1", STAR_SECRETS["name"], "u1", name="o")]
    run = run_rules(RULES, vaults=[vault_row(rbac=False)], assignments=rows, definitions=[STAR_SECRETS])
    levels = {f["assignmentId"].rsplit("/", 1)[-1]: f for f in run.of("wildcard-custom-role")}
    assert levels["v"]["evidence"]["scopeLevel"] == "vault" and levels["o"]["evidence"]["scopeLevel"] == "object"
    assert levels["v"]["vaultId"] == levels["o"]["vaultId"] == vault_id()


def test_one_finding_per_assignment_of_the_same_role_with_distinct_fingerprints():
    rows = [assignment_row(rg_scope(), STAR_SECRETS["name"], "u1", name="a"),
            assignment_row(rg_scope(), STAR_SECRETS["name"], "u2", name="b", condition="@Resource[x] StringEquals 'y'")]
    run = run_rules(RULES, assignments=rows, definitions=[STAR_SECRETS])
    found = run.of("wildcard-custom-role")
    assert len({f["fingerprint"] for f in found}) == 2
    assert {f["principalId"]: f["evidence"]["conditional"] for f in found} == {"u1": False, "u2": True}


def test_unknown_role_is_not_evaluated():
    run = run_rules(RULES, assignments=[assignment_row(rg_scope(), "99999999-9999-9999-9999-999999999999", "u1")])
    assert run.findings == []
    (n,) = run.not_evaluated
    assert n["ruleId"] == "wildcard-custom-role" and n["scope"] == rg_scope()


def test_vault_outside_the_snapshot_is_still_a_vault_scope():
    ra = assignment_row(vault_id("not-collected"), STAR_SECRETS["name"], "u1")
    run = run_rules(RULES, vaults=[vault_row()], assignments=[ra], definitions=[STAR_SECRETS])
    (f,) = run.of("wildcard-custom-role")
    assert f["evidence"]["scopeLevel"] == "vault" and f["vaultId"] is None
