"""audit-logging-missing: no diagnostic setting sends AuditEvent to a destination (CIS 6.1.1.4), vaults and HSMs."""

import pytest

from rules import audit_logging_missing
from tests.factories import diagnostic_row, hsm_id, hsm_row, run_rules, vault_id, vault_row

RULES = (audit_logging_missing,)
RULE = "audit-logging-missing"


@pytest.mark.parametrize("logs", [(("AuditEvent", None, True),), ((None, "audit", True),), ((None, "allLogs", True),),
                                  ((None, "AllLogs", True), ("AuditEvent", None, False))])
def test_audit_event_by_category_or_group_passes(logs):
    run = run_rules(RULES, vaults=[vault_row()], tables={"diagnostic_settings": [diagnostic_row(vault_id(), logs=logs)]})
    assert run.of(RULE) == []


@pytest.mark.parametrize("dest", ["storageAccountId", "eventHubAuthorizationRuleId", "marketplacePartnerId"])
def test_any_destination_counts(dest):
    row = diagnostic_row(vault_id(), workspace=None, **{dest: "/subscriptions/x/resourceGroups/y/providers/z/w/v"})
    run = run_rules(RULES, vaults=[vault_row()], tables={"diagnostic_settings": [row]})
    assert run.of(RULE) == []


def test_no_setting_fires():
    run = run_rules(RULES, vaults=[vault_row()], tables={"diagnostic_settings": []})
    (f,) = run.of(RULE)
    assert "no diagnostic setting" in f["message"] and f["evidence"]["diagnosticSettingsCount"] == 0


def test_a_setting_without_destination_fires():
    row = diagnostic_row(vault_id(), name="nowhere", workspace=None)
    run = run_rules(RULES, vaults=[vault_row()], tables={"diagnostic_settings": [row]})
    (f,) = run.of(RULE)
    assert "nowhere: no destination" in f["message"]


def test_disabled_or_other_categories_fire():
    rows = [diagnostic_row(vault_id(), name="off", logs=(("AuditEvent", None, False),)),
            diagnostic_row(vault_id(), name="policy", logs=(("AzurePolicyEvaluationDetails", None, True),))]
    run = run_rules(RULES, vaults=[vault_row()], tables={"diagnostic_settings": rows})
    (f,) = run.of(RULE)
    assert f["evidence"]["diagnosticSettingsCount"] == 2


def test_managed_hsms_are_judged_too():
    rows = [diagnostic_row(vault_id())]
    run = run_rules(RULES, vaults=[vault_row()], tables={"managed_hsms": [hsm_row()], "diagnostic_settings": rows})
    (f,) = run.of(RULE)
    assert f["vaultId"] == hsm_id() and f["message"].startswith("Managed HSM hsm1")
    assert f["evidence"]["resourceType"] == "Microsoft.KeyVault/managedHSMs"


def test_not_collected_and_gap():
    run = run_rules(RULES, vaults=[vault_row()])
    assert [n["ruleId"] for n in run.not_evaluated] == [RULE] and run.of(RULE) == []
    gaps = [{"scope": vault_id(), "table": "diagnostic_settings", "reason": "HTTP 500 still failing after 5 retries"}]
    run = run_rules(RULES, vaults=[vault_row(), vault_row("kv2")], tables={"diagnostic_settings": []}, gaps=gaps)
    assert [f["vaultId"] for f in run.of(RULE)] == [vault_id("kv2")]
    assert [n["vaultId"] for n in run.not_evaluated] == [vault_id()]
