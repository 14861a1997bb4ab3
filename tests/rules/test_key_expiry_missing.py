"""key-expiry-missing: enabled keys without attributes.exp (CIS 8.3.1 / 8.3.2)."""

from rules import key_expiry_missing
from rules.base import fingerprint
from tests.factories import SUB, key_row, run_rules, secret_row, vault_id, vault_row

RULES = (key_expiry_missing,)
RULE = "key-expiry-missing"
PAST = 1600000000     # 2020: expired, but it has an expiry
FUTURE = 1900000000


def test_fires_once_per_vault_listing_the_keys():
    objects = [key_row("k-no-exp"), key_row("k2-no-exp"), key_row("k-exp", exp=FUTURE), secret_row("s-no-exp")]
    run = run_rules(RULES, vaults=[vault_row()], tables={"vault_objects": objects})
    (f,) = run.of(RULE)
    assert f["subject"] == "vault" and f["fingerprint"] == fingerprint(RULE, vault_id())
    assert [k["name"] for k in f["evidence"]["keys"]] == ["k-no-exp", "k2-no-exp"]
    assert f["evidence"]["keysCount"] == 2 and f["evidence"]["cis"] == "8.3.1"
    assert "2 enabled keys" in f["message"]


def test_cis_number_follows_the_permission_model():
    run = run_rules(RULES, vaults=[vault_row(rbac=False)], tables={"vault_objects": [key_row("k")]})
    assert run.of(RULE)[0]["evidence"]["cis"] == "8.3.2"


def test_disabled_keys_and_keys_with_exp_in_the_past_do_not_fire():
    objects = [key_row("off", enabled=False), key_row("expired", exp=PAST), key_row("fine", exp=FUTURE)]
    run = run_rules(RULES, vaults=[vault_row()], tables={"vault_objects": objects})
    assert run.of(RULE) == [] and run.not_evaluated == []


def test_vault_without_objects_passes_when_the_table_was_read():
    run = run_rules(RULES, vaults=[vault_row()], tables={"vault_objects": []})
    assert run.of(RULE) == [] and run.not_evaluated == []


def test_missing_enabled_means_enabled():
    row = key_row("k")
    del row["properties"]["attributes"]["enabled"]
    run = run_rules(RULES, vaults=[vault_row()], tables={"vault_objects": [row]})
    assert len(run.of(RULE)) == 1


def test_table_not_collected_is_not_evaluated_never_passed():
    run = run_rules(RULES, vaults=[vault_row()])
    assert run.of(RULE) == []
    (ne,) = run.not_evaluated
    assert ne["ruleId"] == RULE and "vault_objects" in ne["reason"] and ne["scope"] == "/"
    cov = {c["source"]: c for c in run.report["run"]["coverage"]}
    assert cov["key and secret metadata"]["state"] == "not collected"


def test_a_vault_named_in_a_gap_is_not_evaluated_the_others_are():
    gaps = [{"scope": vault_id("kv2"), "table": "vault_objects", "reason": "HTTP 403 AuthorizationFailed"}]
    run = run_rules(RULES, vaults=[vault_row(), vault_row("kv2")], tables={"vault_objects": [key_row("k")]}, gaps=gaps)
    assert [f["vaultId"] for f in run.of(RULE)] == [vault_id()]
    assert [(n["ruleId"], n["vaultId"]) for n in run.not_evaluated] == [(RULE, vault_id("kv2"))]
    cov = {c["source"]: c for c in run.report["run"]["coverage"]}
    assert cov["key and secret metadata"]["state"] == "partial"


def test_a_row_that_cannot_be_understood_leaves_its_vault_not_evaluated():
    bad = key_row("k")
    bad["properties"]["attributes"]["exp"] = "tomorrow"
    run = run_rules(RULES, vaults=[vault_row()], tables={"vault_objects": [bad, key_row("k2")]})
    assert run.of(RULE) == []
    assert [n["vaultId"] for n in run.not_evaluated] == [vault_id()]
    assert any("attributes.exp" in g["reason"] for g in run.gaps)


def test_evidence_is_capped_with_the_full_count():
    run = run_rules(RULES, vaults=[vault_row()], tables={"vault_objects": [key_row(f"k{i:03}") for i in range(130)]})
    (f,) = run.of(RULE)
    assert len(f["evidence"]["keys"]) == 100 and f["evidence"]["keysCount"] == 130


def test_gaps_above_the_vault_leave_it_not_evaluated():
    for scope in (f"/subscriptions/{SUB}", f"/subscriptions/{SUB}/resourceGroups/rg-app", "/",
                  "/providers/Microsoft.Management/managementGroups/mg-corp"):
        gaps = [{"scope": scope, "table": "vault_objects", "reason": "time budget exhausted"}]
        run = run_rules(RULES, vaults=[vault_row()], tables={"vault_objects": [key_row("k")]}, gaps=gaps)
        assert run.of(RULE) == [] and [n["vaultId"] for n in run.not_evaluated] == [vault_id()], scope
    other = [{"scope": f"/subscriptions/{SUB}/resourceGroups/rg-other", "table": "vault_objects", "reason": "403"}]
    run = run_rules(RULES, vaults=[vault_row()], tables={"vault_objects": [key_row("k")]}, gaps=other)
    assert len(run.of(RULE)) == 1
