"""purge-protection-disabled: passing, failing and edge rows."""

import pytest

from rules import purge_protection_disabled
from tests.factories import run_rules, vault_id, vault_row

RULES = (purge_protection_disabled,)


def test_fires_when_false():
    run = run_rules(RULES, vaults=[vault_row(enablePurgeProtection=False)])
    (f,) = run.of("purge-protection-disabled")
    assert f["severity"] == "medium" and f["vaultId"] == vault_id()
    assert f["evidence"] == {"enablePurgeProtection": False, "enableSoftDelete": True}
    assert "az keyvault update --name kv1 --resource-group rg-app --enable-purge-protection true" in f["remediation"]


def test_does_not_fire_when_true():
    assert run_rules(RULES, vaults=[vault_row(enablePurgeProtection=True)]).findings == []


@pytest.mark.parametrize("kwargs", [{"omit": ("enablePurgeProtection",)}, {"enablePurgeProtection": None}],
                         ids=["missing", "null"])
def test_missing_or_null_fires(kwargs):
    (f,) = run_rules(RULES, vaults=[vault_row(**kwargs)]).of("purge-protection-disabled")
    assert f["evidence"]["enablePurgeProtection"] == "missing"


def test_message_says_soft_delete_is_needed_first():
    row = vault_row(omit=("enableSoftDelete", "enablePurgeProtection"))
    (f,) = run_rules(RULES, vaults=[row]).of("purge-protection-disabled")
    assert f["evidence"]["enableSoftDelete"] == "missing"
    assert "enable it first" in f["message"]


def test_non_boolean_value_makes_the_row_a_gap():
    run = run_rules(RULES, vaults=[vault_row(enablePurgeProtection="false")])
    assert run.findings == []
    (gap,) = run.gaps
    assert gap["scope"] == vault_id() and "properties.enablePurgeProtection" in gap["reason"]


def test_fires_on_both_models():
    rows = [vault_row("kv1", enablePurgeProtection=False), vault_row("kv2", rbac=None, enablePurgeProtection=False)]
    assert len(run_rules(RULES, vaults=rows).of("purge-protection-disabled")) == 2
