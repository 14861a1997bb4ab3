"""Managed HSM pools in the estate: network and recovery rules judge them; access-model rules never run on them."""

import rules
from rules import no_private_endpoint, public_network_open, purge_protection_disabled, soft_delete_disabled
from tests.factories import hsm_id, hsm_row, run_rules, vault_row


def test_network_and_recovery_rules_judge_hsms_like_vaults():
    hsm = hsm_row(publicNetworkAccess="Enabled", networkAcls={"defaultAction": "Allow"}, enablePurgeProtection=False,
                  enableSoftDelete=False)
    run = run_rules((public_network_open, no_private_endpoint, soft_delete_disabled, purge_protection_disabled),
                    vaults=[vault_row()], tables={"managed_hsms": [hsm]})
    on_hsm = sorted(f["ruleId"] for f in run.findings if f["vaultId"] == hsm_id())
    assert on_hsm == ["no-private-endpoint", "public-network-open", "purge-protection-disabled", "soft-delete-disabled"]
    assert all(f["message"].startswith("Managed HSM hsm1") for f in run.findings if f["vaultId"] == hsm_id())


def test_permission_model_rules_never_run_on_hsms_and_the_inventory_lists_them():
    run = run_rules(rules.ALL_RULES, vaults=[vault_row()], tables={"managed_hsms": [hsm_row()]})
    on_hsm = {f["ruleId"] for f in run.findings if f["vaultId"] == hsm_id()}
    assert on_hsm <= {"public-network-open", "firewall-allows-any", "no-private-endpoint", "soft-delete-disabled",
                      "purge-protection-disabled", "audit-logging-missing"}
    inventory = {v["id"]: v for v in run.report["vaults"]}
    assert inventory[hsm_id()]["resourceType"] == "Microsoft.KeyVault/managedHSMs"
    assert inventory[hsm_id()]["permissionModel"] == "managedHsmLocalRbac"
    assert {v["resourceType"] for v in inventory.values()} == {"Microsoft.KeyVault/vaults",
                                                              "Microsoft.KeyVault/managedHSMs"}
    assert run.report["migration"] == [] or all(p.get("vaultId") != hsm_id() for p in run.report["migration"])
    cov = {c["source"]: c for c in run.report["run"]["coverage"]}
    assert cov["Managed HSM pools"]["state"] == "collected"
    assert cov["Managed HSM data plane (local RBAC)"]["state"] == "not collected"


def test_without_the_table_hsms_are_not_in_the_inventory_and_coverage_says_so():
    run = run_rules((public_network_open,), vaults=[vault_row()])
    cov = {c["source"]: c for c in run.report["run"]["coverage"]}
    assert cov["Managed HSM pools"]["state"] == "not collected"


def test_hsm_remediation_uses_the_hsm_commands():
    from rules import firewall_allows_any

    hsm = hsm_row(publicNetworkAccess="Enabled", networkAcls={"defaultAction": "Allow"}, enablePurgeProtection=False)
    broad = hsm_row("hsm2", publicNetworkAccess="Enabled",
                    networkAcls={"defaultAction": "Deny", "ipRules": [{"value": "0.0.0.0/0"}]})
    run = run_rules((public_network_open, no_private_endpoint, purge_protection_disabled, firewall_allows_any),
                    vaults=[vault_row(publicNetworkAccess="Enabled", networkAcls={"defaultAction": "Allow"})],
                    tables={"managed_hsms": [hsm, broad]})
    on_hsm = {f["ruleId"]: f["remediation"] for f in run.findings if f["vaultId"] == hsm_id()}
    assert "Update-AzKeyVaultManagedHsm -Name hsm1 -ResourceGroupName rg-hsm -PublicNetworkAccess Disabled" in \
        on_hsm["public-network-open"]
    assert "--group-id managedhsm" in on_hsm["no-private-endpoint"]
    assert "-EnablePurgeProtection" in on_hsm["purge-protection-disabled"]
    (fw,) = [f for f in run.findings if f["ruleId"] == "firewall-allows-any"]
    assert fw["vaultName"] == "hsm2" and f"--ids {hsm_id('hsm2')}" in fw["remediation"]
    on_vault = [f for f in run.findings if f["ruleId"] == "public-network-open" and f["vaultName"] == "kv1"]
    assert "az keyvault update --name kv1" in on_vault[0]["remediation"]


def test_hsms_evaluate_the_same_in_forked_workers():
    from audit_function.access.engine import AccessIndex
    from audit_function.engine.evaluate import evaluate
    from audit_function.snapshot.load import RawSnapshot, load_estate
    from rules.base import RuleContext
    from tests.factories import AS_OF, SUB2, diagnostic_row, key_row, subscription_row

    tables = {"subscriptions": [subscription_row(), subscription_row(SUB2)], "role_definitions": [],
              "vaults": [vault_row(f"kv{i}", publicNetworkAccess="Enabled") for i in range(40)], "role_assignments": [],
              "managed_hsms": [hsm_row(f"h{i}", publicNetworkAccess="Enabled") for i in range(5)],
              "diagnostic_settings": [diagnostic_row(hsm_id("h1"))], "vault_objects": [key_row("k", vault="kv3")],
              "defender_plans": []}
    estate = load_estate(RawSnapshot(tables=tables))
    ctx = RuleContext(as_of=AS_OF)
    one = evaluate(estate, rules.ALL_RULES, ctx, index=AccessIndex(estate), workers=1)
    two = evaluate(estate, rules.ALL_RULES, ctx, index=AccessIndex(estate), workers=2)
    assert sorted(f["fingerprint"] for f in one.findings) == sorted(f["fingerprint"] for f in two.findings)
    on_hsms = {f["vaultName"] for f in one.findings if f["ruleId"] == "audit-logging-missing"} & {
        f"h{i}" for i in range(5)}
    assert on_hsms == {"h0", "h2", "h3", "h4"}
