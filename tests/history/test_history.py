"""Week-over-week status, resolution, and the incomplete-run rule."""

from __future__ import annotations

import copy

from audit_function.history.diff import apply_previous, diff_reports, gap_covers, render_diff_text
from tests.history.factory import SUB_A, SUB_B, finding, report, vault

A = vault("kv-a", SUB_A, "rg-1")
B = vault("kv-b", SUB_B, "rg-2")
A_PUBLIC = finding("public-network-open", A)
A_PURGE = finding("purge-protection-disabled", A)
B_PURGE = finding("purge-protection-disabled", B)
ASSIGNMENT = finding("broad-data-role", None, sub=SUB_B,
                     assignment=f"/subscriptions/{SUB_B}/providers/Microsoft.Authorization/"
                                "roleAssignments/r1")


def week(run_id, started, findings, **kwargs):
    return report(run_id, started, [A, B], copy.deepcopy(findings), **kwargs)


def statuses(doc):
    return {f["fingerprint"]: f["status"] for f in doc["findings"]}


def test_first_run_everything_is_new():
    doc = week("w1", "2025-03-03T06:00:00Z", [A_PUBLIC, A_PURGE])
    apply_previous(doc, None)
    assert set(statuses(doc).values()) == {"new"}
    assert {f["firstSeen"] for f in doc["findings"]} == {"2025-03-03T06:00:00Z"}
    assert doc["resolved"] == [] and doc["unverified"] == []
    assert {k: doc["summary"][k] for k in ("new", "persisting", "resolved", "unverified")} == {
        "new": 2, "persisting": 0, "resolved": 0, "unverified": 0}


def test_persisting_findings_carry_first_seen_and_gone_ones_are_resolved():
    w1 = week("w1", "2025-03-03T06:00:00Z", [A_PUBLIC, A_PURGE])
    apply_previous(w1, None)
    w2 = week("w2", "2025-03-10T06:00:00Z", [A_PURGE, B_PURGE])
    apply_previous(w2, w1)
    assert statuses(w2) == {A_PURGE["fingerprint"]: "persisting", B_PURGE["fingerprint"]: "new"}
    first_seen = {f["fingerprint"]: f["firstSeen"] for f in w2["findings"]}
    assert first_seen == {A_PURGE["fingerprint"]: "2025-03-03T06:00:00Z",
                          B_PURGE["fingerprint"]: "2025-03-10T06:00:00Z"}
    [gone] = w2["resolved"]
    assert gone["fingerprint"] == A_PUBLIC["fingerprint"]
    assert gone["lastSeen"] == "2025-03-03T06:00:00Z"
    assert gone["evidence"] == A_PUBLIC["evidence"]
    assert (gone["ruleId"], gone["vaultId"], gone["principalId"]) == (
        "public-network-open", A["id"], None)

    # A previous report without firstSeen (older tool version): its run start is used.
    legacy = week("w0", "2025-02-24T06:00:00Z", [A_PURGE])
    w3 = week("w3", "2025-03-17T06:00:00Z", [A_PURGE])
    apply_previous(w3, legacy)
    assert w3["findings"][0]["firstSeen"] == "2025-02-24T06:00:00Z"


def test_findings_under_a_gap_scope_are_unverified_not_resolved():
    w1 = week("w1", "2025-03-03T06:00:00Z", [A_PUBLIC, B_PURGE, ASSIGNMENT])
    apply_previous(w1, None)
    gap = {"scope": f"/SUBSCRIPTIONS/{SUB_B.upper()}", "table": "vaults", "reason": "403"}
    w2 = week("w2", "2025-03-10T06:00:00Z", [], gaps=[gap])
    apply_previous(w2, w1)
    assert [r["fingerprint"] for r in w2["resolved"]] == [A_PUBLIC["fingerprint"]]
    unverified = {u["fingerprint"]: u for u in w2["unverified"]}
    assert set(unverified) == {B_PURGE["fingerprint"], ASSIGNMENT["fingerprint"]}
    assert unverified[B_PURGE["fingerprint"]]["status"] == "unverified"
    assert unverified[B_PURGE["fingerprint"]]["lastSeen"] == "2025-03-03T06:00:00Z"
    assert w2["summary"]["unverified"] == 2 and w2["summary"]["resolved"] == 1


def test_unverified_findings_carry_over_until_their_scope_is_read_again():
    w1 = week("w1", "2025-03-03T06:00:00Z", [A_PURGE, B_PURGE])
    apply_previous(w1, None)
    gap = {"scope": f"/subscriptions/{SUB_B}", "table": "vaults", "reason": "throttled"}
    w2 = week("w2", "2025-03-10T06:00:00Z", [A_PURGE], gaps=[gap])
    apply_previous(w2, w1)
    w3 = week("w3", "2025-03-17T06:00:00Z", [A_PURGE], gaps=[gap])
    apply_previous(w3, w2)
    assert [u["lastSeen"] for u in w3["unverified"]] == ["2025-03-03T06:00:00Z"]

    back = week("w4", "2025-03-24T06:00:00Z", [A_PURGE, B_PURGE])
    apply_previous(back, w3)
    assert statuses(back)[B_PURGE["fingerprint"]] == "persisting"
    assert next(f for f in back["findings"] if f["fingerprint"] == B_PURGE["fingerprint"])[
        "firstSeen"] == "2025-03-03T06:00:00Z"

    fixed = week("w4", "2025-03-24T06:00:00Z", [A_PURGE])
    apply_previous(fixed, w3)
    assert [(r["fingerprint"], r["lastSeen"]) for r in fixed["resolved"]] == [
        (B_PURGE["fingerprint"], "2025-03-03T06:00:00Z")]


def test_gap_coverage_is_conservative():
    cases = [
        ({"scope": "/", "table": "vaults"}, A_PUBLIC, True),
        ({"scope": "", "table": "vaults"}, A_PUBLIC, True),
        ({"scope": "/providers/Microsoft.Management/managementGroups/mg", "table": "vaults"},
         A_PUBLIC, True),
        ({"scope": f"/subscriptions/{SUB_B}", "table": "role_definitions"}, A_PUBLIC, True),
        ({"scope": f"/subscriptions/{SUB_B}", "table": "vaults"}, A_PUBLIC, False),
        ({"scope": f"/subscriptions/{SUB_A}/resourceGroups/rg-1", "table": "vaults"}, A_PUBLIC, True),
        ({"scope": f"/subscriptions/{SUB_A}/resourceGroups/rg-10", "table": "vaults"},
         A_PUBLIC, False),
        ({"scope": A["id"].upper() + "/", "table": "vaults"}, A_PUBLIC, True),
        ({"scope": f"/subscriptions/{SUB_B}", "table": "role_assignments"}, ASSIGNMENT, True),
        # one subscription's eligibilities/deny assignments unread: only that subscription is unverified
        ({"scope": f"/subscriptions/{SUB_B}", "table": "deny_assignments"}, A_PUBLIC, False),
        ({"scope": f"/subscriptions/{SUB_A}", "table": "role_eligibilities"}, A_PUBLIC, True),
        ({"scope": "/providers/Microsoft.Management/managementGroups/mg", "table": "deny_assignments"},
         A_PUBLIC, True),
    ]
    for gap, item, expected in cases:
        assert gap_covers(gap, item) is expected, gap


def test_not_evaluated_rule_on_a_vault_is_unverified_too():
    w1 = week("w1", "2025-03-03T06:00:00Z", [A_PUBLIC, A_PURGE])
    apply_previous(w1, None)
    w2 = week("w2", "2025-03-10T06:00:00Z", [], not_evaluated=[
        {"ruleId": "public-network-open", "vaultId": A["id"].upper(), "reason": "bad row"}])
    apply_previous(w2, w1)
    assert [u["fingerprint"] for u in w2["unverified"]] == [A_PUBLIC["fingerprint"]]
    assert [r["fingerprint"] for r in w2["resolved"]] == [A_PURGE["fingerprint"]]


def test_diff_reports_compares_without_changing_either_report():
    old = week("w1", "2025-03-03T06:00:00Z", [A_PUBLIC, A_PURGE, B_PURGE])
    old["findings"][1]["suppressed"] = True
    old["findings"][1]["suppression"] = {"id": "s1", "expires": "2025-03-05"}
    raised = dict(copy.deepcopy(B_PURGE), severity="high")
    new = week("w2", "2025-03-10T06:00:00Z", [A_PURGE, raised, ASSIGNMENT],
               gaps=[{"scope": f"/subscriptions/{SUB_A}", "table": "vaults", "reason": "timeout"}])
    before_old, before_new = copy.deepcopy(old), copy.deepcopy(new)
    diff = diff_reports(old, new)
    assert (old, new) == (before_old, before_new)
    assert [f["fingerprint"] for f in diff["new"]] == [ASSIGNMENT["fingerprint"]]
    assert {f["fingerprint"] for f in diff["persisting"]} == {A_PURGE["fingerprint"],
                                                              B_PURGE["fingerprint"]}
    assert diff["resolved"] == []
    assert [f["fingerprint"] for f in diff["unverified"]] == [A_PUBLIC["fingerprint"]]
    assert [(f["fingerprint"], f["previousSeverity"], f["severity"])
            for f in diff["severityChanged"]] == [(B_PURGE["fingerprint"], "medium", "high")]
    assert [f["fingerprint"] for f in diff["noLongerSuppressed"]] == [A_PURGE["fingerprint"]]
    assert diff["summary"] == {"new": 1, "persisting": 2, "resolved": 0, "unverified": 1,
                               "severityChanged": 1, "nowSuppressed": 0, "noLongerSuppressed": 1}
    assert diff["to"] == {"runId": "w2", "startedAt": "2025-03-10T06:00:00Z", "complete": False,
                          "gaps": 1}


def test_text_rendering_lists_sections_and_neutralizes_control_characters():
    hostile = vault("kv-\x1b[31mred", SUB_A, "rg-1")
    bidi = vault("kv-\u202eevil", SUB_A, "rg-2")
    old = week("w1", "2025-03-03T06:00:00Z", [A_PUBLIC, finding("soft-delete-disabled", hostile),
                                               finding("soft-delete-disabled", bidi)])
    new = week("w2", "2025-03-10T06:00:00Z", [A_PURGE],
               gaps=[{"scope": f"/subscriptions/{SUB_B}", "table": "vaults", "reason": "403"}])
    text = render_diff_text(diff_reports(old, new))
    assert "new 1, persisting 0, resolved 3, unverified 0" in text
    assert "the newer run is incomplete (1 gap(s))" in text
    assert "\nNew (1)\n" in text and "\nResolved (3)\n" in text
    assert "\u202e" not in text and "kv-\\u202eevil" in text        # a bidi override too
    assert "\x1b" not in text and "kv-\\x1b[31mred" in text   # shown escaped (the terminal rule)
