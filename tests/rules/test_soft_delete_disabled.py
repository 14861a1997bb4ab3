"""soft-delete-disabled: passing, failing and edge rows."""

import pytest

from rules import soft_delete_disabled
from tests.factories import run_rules, vault_id, vault_row

RULES = (soft_delete_disabled,)


def test_fires_when_false():
    run = run_rules(RULES, vaults=[vault_row(enableSoftDelete=False, enablePurgeProtection=None)])
    (f,) = run.of("soft-delete-disabled")
    assert f["severity"] == "medium" and f["vaultId"] == vault_id()
    assert f["evidence"] == {"enableSoftDelete": False, "enablePurgeProtection": "missing"}
    assert f"--ids {vault_id()}" in f["remediation"] and "enableSoftDelete=true" in f["remediation"]


def test_does_not_fire_when_true():
    assert run_rules(RULES, vaults=[vault_row(enableSoftDelete=True)]).findings == []


@pytest.mark.parametrize("kwargs", [{"omit": ("enableSoftDelete",)}, {"enableSoftDelete": None}], ids=["missing", "null"])
def test_missing_or_null_fires(kwargs):
    (f,) = run_rules(RULES, vaults=[vault_row(**kwargs)]).of("soft-delete-disabled")
    assert f["evidence"]["enableSoftDelete"] == "missing"
    assert "predates soft delete" in f["message"]


def test_property_name_casing_is_tolerated():
    row = vault_row(omit=("enableSoftDelete",))
    row["properties"]["EnableSoftDelete"] = True
    assert run_rules(RULES, vaults=[row]).findings == []


@pytest.mark.parametrize("value", ["true", 1, "yes"])
def test_non_boolean_value_makes_the_row_a_gap(value):
    run = run_rules(RULES, vaults=[vault_row(enableSoftDelete=value)])
    assert run.findings == []
    (gap,) = run.gaps
    assert gap["scope"] == vault_id() and gap["table"] == "vaults"
    assert "properties.enableSoftDelete must be true, false or null" in gap["reason"]
    assert run.report["run"]["complete"] is False


def test_fires_on_both_models():
    rows = [vault_row("kv1", enableSoftDelete=False), vault_row("kv2", rbac=False, enableSoftDelete=False)]
    assert len(run_rules(RULES, vaults=rows).of("soft-delete-disabled")) == 2
