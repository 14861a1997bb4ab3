"""secret-expiry-missing: enabled secrets without attributes.exp (CIS 8.3.3 / 8.3.4)."""

from rules import secret_expiry_missing
from tests.factories import key_row, run_rules, secret_row, vault_id, vault_row

RULES = (secret_expiry_missing,)
RULE = "secret-expiry-missing"


def test_fires_listing_the_secrets_never_their_values():
    objects = [secret_row("db-password"), secret_row("api-key", exp=1900000000), key_row("k")]
    run = run_rules(RULES, vaults=[vault_row(rbac=False)], tables={"vault_objects": objects})
    (f,) = run.of(RULE)
    assert f["vaultId"] == vault_id() and f["evidence"]["cis"] == "8.3.4"
    assert [s["name"] for s in f["evidence"]["secrets"]] == ["db-password"]
    assert "value" not in f["evidence"]["secrets"][0]


def test_disabled_and_expired_secrets_do_not_fire():
    objects = [secret_row("old", enabled=False), secret_row("expired", exp=1600000000)]
    run = run_rules(RULES, vaults=[vault_row()], tables={"vault_objects": objects})
    assert run.of(RULE) == []


def test_not_collected_is_not_evaluated():
    run = run_rules(RULES, vaults=[vault_row()])
    assert run.of(RULE) == [] and [n["ruleId"] for n in run.not_evaluated] == [RULE]


def test_objects_of_a_vault_not_in_the_estate_are_ignored():
    run = run_rules(RULES, vaults=[vault_row()], tables={"vault_objects": [secret_row("s", vault="elsewhere")]})
    assert run.of(RULE) == [] and run.not_evaluated == []
