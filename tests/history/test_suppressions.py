"""Suppression matching, expiry and unused suppressions."""

from __future__ import annotations

from datetime import date

from audit_function.history.suppressions import Suppression, apply_suppressions
from tests.history.factory import SUB_A, SUB_B, finding, report, vault

PAY = vault("kv-pay-prod", SUB_A, "rg-pay", {"env": "prod", "Owner": "payments"})
DEV = vault("kv-web-dev", SUB_B, "rg-web", {"Env": "Dev"})
PRINCIPAL = "0a0a0a0a-0000-0000-0000-00000000000a"


def s(rule="*", index=0, expires=date(2025, 3, 31), **criteria) -> Suppression:
    return Suppression(rule_id=rule, justification="accepted risk", owner="team-a",
                       expires=expires, index=index, **criteria)


def estate():
    return report("r1", "2025-03-10T06:00:00Z", [PAY, DEV], [
        finding("public-network-open", PAY),
        finding("no-private-endpoint", PAY),
        finding("soft-delete-disabled", DEV),
        finding("stranded-access-policy", DEV, principal=PRINCIPAL),
        finding("broad-data-role", None, sub=SUB_B,
                assignment=f"/subscriptions/{SUB_B}/providers/Microsoft.Authorization/"
                           "roleAssignments/abc"),
    ])


def suppressed_rules(doc) -> set[tuple[str, str | None]]:
    return {(f["ruleId"], f["vaultName"]) for f in doc["findings"] if f["suppressed"]}


def test_criteria_match_case_insensitively_and_all_must_hold():
    cases = [
        (s("no-private-endpoint", vault="KV-PAY-*"), {("no-private-endpoint", "kv-pay-prod")}),
        (s(vault="*/rg-pay/providers/*"), {("public-network-open", "kv-pay-prod"),
                                           ("no-private-endpoint", "kv-pay-prod")}),
        (s(subscription=SUB_B.upper()), {("soft-delete-disabled", "kv-web-dev"),
                                         ("stranded-access-policy", "kv-web-dev"),
                                         ("broad-data-role", None)}),
        (s(resource_group="rg-w?b"), {("soft-delete-disabled", "kv-web-dev"),
                                      ("stranded-access-policy", "kv-web-dev")}),
        (s(tag=(("env", "dev"),)), {("soft-delete-disabled", "kv-web-dev"),
                                    ("stranded-access-policy", "kv-web-dev")}),
        (s(tag=(("env", "prod"), ("owner", "pay*"))), {("public-network-open", "kv-pay-prod"),
                                                        ("no-private-endpoint", "kv-pay-prod")}),
        (s(tag=(("env", "prod"), ("owner", "web"))), set()),
        (s(principal_id=PRINCIPAL.upper()), {("stranded-access-policy", "kv-web-dev")}),
        (s("public-network-open", vault="kv-web-dev"), set()),
    ]
    for suppression, expected in cases:
        doc = estate()
        apply_suppressions(doc, [suppression], date(2025, 3, 10))
        assert suppressed_rules(doc) == expected, suppression


def test_suppressed_findings_stay_in_the_report_with_the_reason():
    doc = estate()
    apply_suppressions(doc, [s("public-network-open", vault="kv-pay-prod", id="pay-public")],
                       date(2025, 3, 10))
    assert len(doc["findings"]) == 5
    hit = next(f for f in doc["findings"] if f["ruleId"] == "public-network-open")
    assert hit["suppressed"] is True
    assert hit["suppression"] == {"id": "pay-public", "index": 0, "ruleId": "public-network-open",
                                  "justification": "accepted risk", "owner": "team-a",
                                  "expires": "2025-03-31"}
    others = [f for f in doc["findings"] if f is not hit]
    assert all(f["suppressed"] is False and f["suppression"] is None for f in others)
    assert doc["summary"]["suppressed"] == 1
    assert doc["summary"]["bySeverityUnsuppressed"] == {"high": 2, "medium": 1, "low": 1}


def test_expiry_is_inclusive_of_the_expiry_date_and_expired_ones_are_listed():
    suppression = s("soft-delete-disabled", vault="kv-web-dev", expires=date(2025, 3, 14))
    on_the_day = estate()
    apply_suppressions(on_the_day, [suppression], date(2025, 3, 14))
    assert suppressed_rules(on_the_day) == {("soft-delete-disabled", "kv-web-dev")}
    assert on_the_day["suppressions"]["expired"] == []

    day_after = estate()
    apply_suppressions(day_after, [suppression], date(2025, 3, 15))
    assert suppressed_rules(day_after) == set()
    assert [e["id"] for e in day_after["suppressions"]["expired"]] == ["suppressions[0]"]
    assert day_after["suppressions"]["expired"][0]["wouldMatch"] == 1
    assert day_after["suppressions"]["unused"] == []
    assert day_after["summary"]["bySeverityUnsuppressed"]["medium"] == 1


def test_unused_suppressions_are_listed_and_first_match_wins():
    first = s("public-network-open", index=0, vault="kv-pay-*")
    second = s("public-network-open", index=1, subscription=SUB_A)
    stale = s(index=2, vault="kv-gone-*", id="legacy")
    doc = estate()
    apply_suppressions(doc, [first, second, stale], date(2025, 3, 10))
    hit = next(f for f in doc["findings"] if f["ruleId"] == "public-network-open")
    assert hit["suppression"]["index"] == 0
    assert [u["id"] for u in doc["suppressions"]["unused"]] == ["suppressions[1]", "legacy"]
    assert [(a["id"], a["matched"]) for a in doc["suppressions"]["active"]] == [
        ("suppressions[0]", 1), ("suppressions[1]", 0), ("legacy", 0)]


def test_no_suppressions_marks_everything_open():
    doc = estate()
    apply_suppressions(doc, (), date(2025, 3, 10))
    assert not any(f["suppressed"] for f in doc["findings"])
    assert doc["suppressions"] == {"asOf": "2025-03-10", "active": [], "expired": [], "unused": []}
    assert doc["summary"]["suppressed"] == 0
