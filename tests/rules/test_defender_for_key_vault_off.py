"""defender-for-key-vault-off: the subscription's KeyVaults plan is missing or not Standard (CIS 8.1.8.1)."""

from rules import defender_for_key_vault_off
from rules.base import fingerprint
from tests.factories import SUB, SUB2, defender_row, hsm_row, run_rules, vault_id, vault_row

RULES = (defender_for_key_vault_off,)
RULE = "defender-for-key-vault-off"


def test_free_tier_and_missing_plan_fire_per_subscription_with_its_vaults():
    plans = [defender_row(SUB, tier="Free"), defender_row(SUB2, name="VirtualMachines")]
    run = run_rules(RULES, vaults=[vault_row(), vault_row("kv2")], tables={"defender_plans": plans,
                                                                         "managed_hsms": [hsm_row()]})
    found = {f["subscriptionId"]: f for f in run.of(RULE)}
    assert set(found) == {SUB, SUB2}
    f = found[SUB]
    assert f["subject"] == "subscription" and f["vaultId"] is None
    assert f["fingerprint"] == fingerprint(RULE, SUB)
    assert f["evidence"]["pricingTier"] == "Free" and f["evidence"]["vaultsCount"] == 3
    assert {v["resourceType"] for v in f["evidence"]["vaults"]} == {"Microsoft.KeyVault/vaults",
                                                                    "Microsoft.KeyVault/managedHSMs"}
    assert f"--subscription {SUB}" in f["remediation"]
    assert found[SUB2]["evidence"]["pricingTier"] == "missing" and found[SUB2]["evidence"]["vaultsCount"] == 0


def test_standard_passes_case_insensitively():
    plans = [defender_row(SUB, tier="standard"), defender_row(SUB2)]
    run = run_rules(RULES, vaults=[vault_row()], tables={"defender_plans": plans})
    assert run.of(RULE) == []


def test_not_collected_and_unreadable_subscription():
    run = run_rules(RULES, vaults=[vault_row()])
    assert run.of(RULE) == [] and [n["ruleId"] for n in run.not_evaluated] == [RULE]
    gaps = [{"scope": f"/subscriptions/{SUB2}", "table": "defender_plans", "reason": "HTTP 403"}]
    run = run_rules(RULES, vaults=[vault_row()], tables={"defender_plans": [defender_row(SUB, tier="Free")]}, gaps=gaps)
    assert [f["subscriptionId"] for f in run.of(RULE)] == [SUB]
    assert [n["scope"] for n in run.not_evaluated] == [f"/subscriptions/{SUB2}"]
    assert vault_id()  # the vault is in SUB


def test_a_gap_at_a_management_group_or_the_tenant_leaves_its_subscriptions_not_evaluated():
    mg = "/providers/Microsoft.Management/managementGroups/mg-corp"
    run = run_rules(RULES, vaults=[vault_row()], tables={"defender_plans": []},
                    gaps=[{"scope": mg, "table": "defender_plans", "reason": "HTTP 403"}])
    assert run.of(RULE) == [] and sorted(n["scope"] for n in run.not_evaluated) == sorted(
        [f"/subscriptions/{SUB}", f"/subscriptions/{SUB2}"])
    run = run_rules(RULES, vaults=[vault_row()], tables={"defender_plans": []},
                    gaps=[{"scope": "/", "table": "defender_plans", "reason": "time budget exhausted"}])
    assert run.of(RULE) == [] and len(run.not_evaluated) == 2
