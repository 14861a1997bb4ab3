"""key-rotation-missing: enabled keys whose rotation policy has no Rotate lifetime action (CIS 8.3.9)."""

from rules import key_rotation_missing
from tests.factories import key_row, run_rules, vault_row

RULES = (key_rotation_missing,)
RULE = "key-rotation-missing"


def test_no_policy_and_notify_only_policy_fire():
    objects = [key_row("no-policy"), key_row("notify-only", actions=["Notify"]), key_row("rotates", actions=["Rotate"])]
    run = run_rules(RULES, vaults=[vault_row()], tables={"vault_objects": objects})
    (f,) = run.of(RULE)
    keys = {k["name"]: k for k in f["evidence"]["keys"]}
    assert set(keys) == {"no-policy", "notify-only"}
    assert keys["no-policy"]["rotationPolicyActions"] is None
    assert keys["notify-only"]["rotationPolicyActions"] == ["Notify"]
    assert f["evidence"]["withoutPolicy"] == 1 and f["severity"] == "low"


def test_rotate_is_case_insensitive_and_disabled_keys_are_skipped():
    objects = [key_row("a", actions=["rotate"]), key_row("b", actions=["Notify", "ROTATE"]),
               key_row("off", enabled=False)]
    run = run_rules(RULES, vaults=[vault_row()], tables={"vault_objects": objects})
    assert run.of(RULE) == []


def test_empty_lifetime_actions_fire():
    run = run_rules(RULES, vaults=[vault_row()], tables={"vault_objects": [key_row("k", actions=[])]})
    assert len(run.of(RULE)) == 1


def test_not_collected_is_not_evaluated():
    run = run_rules(RULES, vaults=[vault_row()])
    assert [n["ruleId"] for n in run.not_evaluated] == [RULE]
