"""Per-vault readiness: losers, gainers, blockers, precedence, and the entries' proposals."""

from audit_function.migration import custom_roles, summarize
from tests.factories import (actions, KV_ADMIN, KV_CRYPTO_OFFICER, KV_READER, KV_SECRETS_OFFICER, KV_SECRETS_USER, OTHER_TENANT,
                             SUB, SUB2, TENANT, assignment_row, mg_scope, policy, principal_row, rg_scope, vault_id,
                             vault_row)
from tests.migration.helpers import ALICE, APP, BOB, CAROL, GROUP, plan_of, plans_of

SECRETS_USER_ID = f"/providers/Microsoft.Authorization/roleDefinitions/{KV_SECRETS_USER}"


def ap_vault(*entries, **kw):
    return vault_row(kw.pop("name", "kv1"), rbac=False, policies=entries, **kw)


def test_ready_when_every_entry_is_covered_and_nobody_gains():
    plan = plan_of(vaults=[ap_vault(policy(ALICE, secrets=["get", "list"]))],
                   assignments=[assignment_row(vault_id(), KV_SECRETS_USER, ALICE)])
    assert plan["readiness"] == "ready"
    (entry,) = plan["entries"]
    assert entry["coveredByExistingRbac"] is True
    assert entry["proposedRoles"] == [] and entry["commands"] == []
    assert "no new assignment needed" in entry["note"]
    assert entry["leastPrivilegeRoles"] == [{"id": SECRETS_USER_ID, "name": "Key Vault Secrets User"}]
    assert plan["losers"] == [] and plan["gainers"] == []
    assert plan["flip"]["allowed"] and plan["flip"]["command"].startswith("az rest --method=patch --url ")
    assert """--body '{"properties":{"enableRbacAuthorization":true}}'""" in plan["flip"]["command"]
    assert """--body '{"properties":{"enableRbacAuthorization":false}}'""" in plan["flip"]["rollback"]
    assert "keyvault update" not in plan["flip"]["command"] + plan["flip"]["rollback"]   # no read-and-PUT


def test_principal_that_loses_access_needs_assignments():
    plan = plan_of(vaults=[ap_vault(policy(ALICE, secrets=["get", "list"]), policy(BOB, keys=["all"]))],
                   principals=[principal_row(ALICE, "servicePrincipal"), principal_row(BOB, "user")])
    assert plan["readiness"] == "needs-assignments"
    assert {l["principalId"] for l in plan["losers"]} == {ALICE, BOB}
    assert all(l["resolvedByPlan"] for l in plan["losers"])
    alice, bob = plan["entries"]
    assert alice["proposedRoles"] == [{"id": SECRETS_USER_ID, "name": "Key Vault Secrets User", "custom": False}]
    (command,) = alice["commands"]
    assert command.startswith(f"az role assignment create --assignee-object-id {ALICE} "
                              "--assignee-principal-type ServicePrincipal")
    assert f"--role {KV_SECRETS_USER} --scope {vault_id()} --subscription {SUB}" in command
    assert [r["name"] for r in bob["proposedRoles"]] == ["Key Vault Crypto Officer"]
    assert "--assignee-principal-type User" in bob["commands"][0]
    assert any("entry 1" in r and "Key Vault Crypto Officer" in r for r in plan["reasons"])


def test_partial_coverage_proposes_only_what_is_missing():
    entry = policy(ALICE, secrets=["get", "list"], certificates=["get", "list"])
    plan = plan_of(vaults=[ap_vault(entry)], assignments=[assignment_row(rg_scope(), KV_SECRETS_USER, ALICE)])
    (e,) = plan["entries"]
    assert e["coveredByExistingRbac"] is False
    assert actions(e["missingInWords"]) == ["Microsoft.KeyVault/vaults/certificates/read"]
    # Certificate User adds only keys/read beyond the entry (it already reads secret values); Reader would add
    # five metadata reads: both immaterial, one role each, the smaller excess wins.
    assert [r["name"] for r in e["proposedRoles"]] == ["Key Vault Certificate User"]
    assert "partly covered" in e["note"]


def test_principal_gaining_through_a_subscription_scope_assignment_needs_review():
    plan = plan_of(vaults=[ap_vault(policy(ALICE, secrets=["get", "list"]))],
                   assignments=[assignment_row(vault_id(), KV_SECRETS_USER, ALICE),
                                assignment_row(f"/subscriptions/{SUB}", KV_SECRETS_OFFICER, CAROL, principal_type="Group")])
    assert plan["readiness"] == "review-latent-grants"
    (gainer,) = plan["gainers"]
    assert gainer["principalId"] == CAROL and gainer["principalType"] == "Group"
    assert "Microsoft.KeyVault/vaults/secrets/setSecret/action" in actions(gainer["widenedInWords"])
    (via,) = gainer["assignments"]
    assert via["scopeLevel"] == "subscription" and via["roleName"] == "Key Vault Secrets Officer"
    assert any(CAROL in r and "subscription scope" in r for r in plan["reasons"])


def test_gainer_with_a_policy_gains_only_the_difference():
    # Alice's policy gives secrets get; an inherited Secrets User also gives readMetadata (list).
    plan = plan_of(vaults=[ap_vault(policy(ALICE, secrets=["get"]))],
                   assignments=[assignment_row(mg_scope("mg-corp"), KV_SECRETS_USER, ALICE)])
    assert plan["readiness"] == "review-latent-grants"
    (gainer,) = plan["gainers"]
    assert actions(gainer["widenedInWords"]) == ["Microsoft.KeyVault/vaults/secrets/readMetadata/action"]
    assert gainer["assignments"][0]["scopeLevel"] == "managementGroup"


def test_object_scoped_assignment_counts_as_a_gain_but_not_as_coverage():
    plan = plan_of(vaults=[ap_vault(policy(ALICE, secrets=["get"]))],
                   assignments=[assignment_row(vault_id() + "/secrets/db", KV_SECRETS_OFFICER, ALICE)])
    assert plan["readiness"] == "review-latent-grants"
    assert plan["entries"][0]["coveredByExistingRbac"] is False
    assert plan["gainers"][0]["assignments"][0]["scopeLevel"] == "object"
    assert any("not covered" in r for r in plan["reasons"])  # every reason is listed


def test_compound_identity_blocks_and_gets_no_commands():
    plan = plan_of(vaults=[ap_vault(policy(ALICE, application_id=APP, secrets=["get"]), policy(BOB, secrets=["get"]))])
    assert plan["readiness"] == "blocked"
    compound, plain = plan["entries"]
    assert compound["applicationId"] == APP and "compound identity" in compound["blockedBy"][0]
    assert compound["commands"] == [] and compound["proposedRoles"] == []
    assert compound["leastPrivilegeRoles"][0]["name"] == "Key Vault Secrets User"  # mapping shown anyway
    assert plain["commands"]  # other entries are still planned
    assert not plan["flip"]["allowed"]
    assert [l["resolvedByPlan"] for l in plan["losers"]] == [False, True]


def test_cross_tenant_entry_blocks():
    plan = plan_of(vaults=[ap_vault(policy(ALICE, tenant=OTHER_TENANT, keys=["get"]))])
    assert plan["readiness"] == "blocked"
    (entry,) = plan["entries"]
    assert "cross-tenant" in entry["blockedBy"][0] and OTHER_TENANT in entry["blockedBy"][0]
    assert entry["commands"] == []


def test_unknown_permission_blocks_but_known_part_is_planned():
    plan = plan_of(vaults=[ap_vault(policy(ALICE, secrets=["get", "list", "peek"]))])
    assert plan["readiness"] == "blocked"
    (entry,) = plan["entries"]
    assert "secrets: peek" in entry["blockedBy"][0]
    assert [r["name"] for r in entry["proposedRoles"]] == ["Key Vault Secrets User"]


def test_non_guid_object_id_gets_no_command():
    plan = plan_of(vaults=[ap_vault(policy("x; rm -rf /", secrets=["get"]))])
    assert plan["readiness"] == "blocked"
    assert plan["entries"][0]["commands"] == []


def test_vault_tenant_differing_from_subscription_tenant_blocks():
    plan = plan_of(vaults=[ap_vault(policy(ALICE, tenant=OTHER_TENANT, secrets=["get"]), tenant=OTHER_TENANT)])
    assert plan["readiness"] == "blocked"
    assert any("subscription belongs to tenant" in r for r in plan["reasons"])


def test_precedence_blocked_over_review_over_assignments_with_all_reasons_listed():
    plan = plan_of(vaults=[ap_vault(policy(ALICE, application_id=APP, secrets=["get"]), policy(BOB, keys=["get"]))],
                   assignments=[assignment_row(rg_scope(), KV_ADMIN, CAROL)])
    assert plan["readiness"] == "blocked"
    text = " | ".join(plan["reasons"])
    assert "compound identity" in text and CAROL in text and "entry 1" in text
    assert text.index("compound identity") < text.index(CAROL) < text.index("entry 1")


def test_material_excess_proposes_a_custom_role_with_exact_actions():
    backup = policy(ALICE, keys=["get", "list", "backup"], secrets=["get", "list", "backup"])
    plan = plan_of(vaults=[ap_vault(backup)])
    (entry,) = plan["entries"]
    role = entry["customRole"]
    assert role is not None and entry["proposedRoles"] == [{"id": role["id"], "name": role["name"], "custom": True}]
    assert role["dataActions"] == actions(entry["dataActionsInWords"])
    assert role["assignableScopes"] == [f"/subscriptions/{SUB}"]
    assert entry["commands"][0].startswith("az role definition create --role-definition '{")
    assert f"--role '{role['name']}'" in entry["commands"][1]
    assert entry["materialExcess"] and entry["materialReasons"]


def test_custom_roles_are_deduplicated_across_vaults_and_subscriptions():
    byok = dict(keys=["get", "decrypt", "sign"])
    plans = plans_of(vaults=[ap_vault(policy(ALICE, **byok)), ap_vault(policy(BOB, **byok), name="kv2", sub=SUB2),
                             ap_vault(policy(CAROL, keys=["Sign", "Get", "Decrypt"]), name="kv3")])
    roles = custom_roles(list(plans.values()))
    (role,) = roles
    assert role["assignableScopes"] == [f"/subscriptions/{SUB}", f"/subscriptions/{SUB2}"]
    assert role["definition"]["AssignableScopes"] == role["assignableScopes"]
    assert {u["principalId"] for u in role["usedBy"]} == {ALICE, BOB, CAROL}


def test_group_coverage_needs_directory_data():
    vault = ap_vault(policy(ALICE, secrets=["get"]))
    assignment = assignment_row(vault_id(), KV_SECRETS_USER, GROUP, principal_type="Group")
    without = plan_of(vaults=[vault], assignments=[assignment])
    assert without["entries"][0]["coveredByExistingRbac"] is False
    assert "not expanded" in without["notes"][0]
    with_dir = plan_of(vaults=[vault], assignments=[assignment],
                       principals=[principal_row(ALICE, member_of=[GROUP]), principal_row(GROUP, "group")])
    assert with_dir["entries"][0]["coveredByExistingRbac"] is True


def test_unknown_role_definition_needs_review():
    plan = plan_of(vaults=[ap_vault(policy(ALICE, secrets=["get"]))],
                   assignments=[assignment_row(vault_id(), KV_SECRETS_USER, ALICE),
                                assignment_row(vault_id(), "99999999-9999-9999-9999-999999999999", BOB)])
    assert plan["readiness"] == "review-latent-grants"
    assert any("unknown" in r for r in plan["reasons"])


def test_empty_entry_and_empty_vault():
    plan = plan_of(vaults=[ap_vault(policy(ALICE, secrets=[]))])
    assert plan["readiness"] == "ready"
    assert plan["entries"][0]["note"].startswith("the entry grants no data action")
    empty = plan_of(vaults=[ap_vault()], assignments=[assignment_row(rg_scope(), KV_READER, BOB)])
    assert empty["readiness"] == "review-latent-grants"  # Bob would gain metadata reads


def test_report_shape_and_summary_line():
    # keys "all" excludes purge, which Crypto Officer grants: Alice's entry needs purge too to be "ready"
    plan = plan_of(vaults=[ap_vault(policy(ALICE, keys=["all", "purge"]), policy(BOB, keys=["get"]))],
                   assignments=[assignment_row(vault_id(), KV_CRYPTO_OFFICER, ALICE)])
    for key in ("vaultId", "vaultName", "subscriptionId", "resourceGroup", "readiness", "reasons", "entries",
                "gainers", "losers"):
        assert key in plan
    for entry in plan["entries"]:
        for key in ("principalId", "tenantId", "applicationId", "dataActionsInWords", "coveredByExistingRbac",
                    "proposedRoles", "excess", "customRole", "commands"):
            assert key in entry
        assert entry["tenantId"] == TENANT
    (line,) = summarize([plan])
    assert line == (f"kv1 ({SUB}/rg-app): needs-assignments - 2 entries, 1 to assign (0 custom roles), 0 blocked, "
                    "1 would lose access, 0 would gain access")


def test_plans_validate_against_the_report_schema():
    import json
    from pathlib import Path

    import jsonschema

    schema = json.loads((Path(__file__).resolve().parents[2] / "reports" / "schema" / "report.schema.json").read_text())
    plan_schema = {**schema["$defs"]["migrationPlan"], "$defs": schema["$defs"]}
    plans = plans_of(vaults=[ap_vault(policy(ALICE, keys=["get", "decrypt", "sign"]),
                                      policy(BOB, application_id=APP, secrets=["get"]))],
                     assignments=[assignment_row(rg_scope(), KV_ADMIN, CAROL)])
    for plan in plans.values():
        jsonschema.validate(json.loads(json.dumps(plan)), plan_schema)
