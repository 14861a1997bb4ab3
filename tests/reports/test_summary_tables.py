"""The summary tables both writers show (reports/summary_tables.py): counts by severity, rule,
owner and subscription, unsuppressed with suppressed apart, and the trend points."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from reports.summary_tables import (
    NO_OWNER, NO_SUBSCRIPTION, TREND_CAP, Tally, summary_tables, trend_label, trend_points,
)

SEV = ["high", "medium", "low"]


def f(severity="high", rule="r1", owner=None, sub=None, suppressed=False):
    return {"severity": severity, "ruleId": rule, "owner": owner, "subscriptionId": sub, "suppressed": suppressed}


def test_counts_by_every_key_with_suppressed_apart():
    findings = [
        f("high", "public-network-open", "team-a", "SUB-1"),
        f("medium", "public-network-open", "team-a", "sub-1"),   # same subscription, other casing
        f("low", "latent-grant", None, None),                    # tenant-scope grant, no owner
        f("high", "latent-grant", "team-b", "sub-2", suppressed=True),
    ]
    vaults = [{"subscriptionId": "SUB-1", "subscriptionName": "Payments", "owner": "team-a"},
              {"subscriptionId": "sub-3", "subscriptionName": "Quiet", "owner": "team-c"}]
    t = summary_tables(findings, vaults, severities=SEV, rules=["public-network-open", "latent-grant", "never-fired"])
    assert t["severity"].rows == [["high", 1, 1], ["medium", 1, 0], ["low", 1, 0]]
    assert t["rule"].headers == ("Rule", "Findings", "High", "Medium", "Low", "Suppressed")
    assert t["rule"].rows == [["public-network-open", 2, 1, 1, 0, 0], ["latent-grant", 1, 0, 0, 1, 1],
                              ["never-fired", 0, 0, 0, 0, 0]]
    assert t["owner"].rows == [["team-a", 1, 2, 1, 1, 0, 0], [NO_OWNER, 0, 1, 0, 0, 1, 0],
                               ["team-b", 0, 0, 0, 0, 0, 1], ["team-c", 1, 0, 0, 0, 0, 0]]
    assert t["subscription"].rows == [
        ["Payments", "SUB-1", 1, 2, 1, 1, 0, 0], [NO_SUBSCRIPTION, None, 0, 1, 0, 0, 1, 0],
        ["sub-2", "sub-2", 0, 0, 0, 0, 0, 1], ["Quiet", "sub-3", 1, 0, 0, 0, 0, 0]]


def test_owners_and_subscriptions_are_capped_with_a_count_of_the_rest():
    findings = [f(owner=f"team-{n:03d}", sub=f"sub-{n:03d}") for n in range(30) for _ in range(n + 1)]
    t = summary_tables(findings, [], severities=SEV, cap=10)
    assert [r[0] for r in t["owner"].rows] == [f"team-{n:03d}" for n in range(29, 19, -1)]  # most first
    assert t["owner"].more == 20 and t["subscription"].more == 20 and len(t["subscription"].rows) == 10


def test_severities_outside_the_columns_still_count_in_the_totals():
    t = summary_tables([f("critical", owner="x"), f("info", owner="x")], [], severities=["critical", "high"])
    assert t["severity"].rows == [["critical", 1, 0], ["high", 0, 0]]
    assert t["owner"].rows == [["x", 0, 2, 1, 0, 0]]   # total 2: the info finding has no column


def test_without_findings_the_report_totals_stand_in():
    t = summary_tables([], [], severities=SEV, severity_totals={"HIGH": 4, "low": "x"})
    assert t["severity"].rows == [["high", 4, None], ["medium", 0, None], ["low", 0, None]]


finding_strategy = st.fixed_dictionaries({
    "severity": st.sampled_from(["high", "medium", "low", "critical", None]),
    "ruleId": st.sampled_from(["a", "b", "c", None]),
    "owner": st.one_of(st.none(), st.text(max_size=5)),
    "subscriptionId": st.sampled_from([None, "s1", "S1", "s2"]),
    "suppressed": st.booleans(),
})


@settings(max_examples=150, deadline=None)
@given(st.lists(finding_strategy, max_size=40))
def test_tables_agree_with_a_plain_count(findings):
    t = summary_tables(findings, [], severities=SEV, cap=10_000)
    open_ = [x for x in findings if not x["suppressed"]]
    closed = len(findings) - len(open_)
    for key in ("rule", "owner", "subscription"):
        total_col = t[key].headers.index("Findings")
        assert sum(r[total_col] for r in t[key].rows) == len(open_), key
        assert sum(r[-1] for r in t[key].rows) == closed, key
    owners = Counter((x["owner"] or None) for x in open_)
    shown = {(r[0] if r[0] != NO_OWNER else None): r[2] for r in t["owner"].rows}
    assert {k: v for k, v in shown.items() if v} == {(k if k != NO_OWNER else None): v for k, v in owners.items()}
    highs = sum(1 for x in open_ if x["severity"] == "high")
    assert t["severity"].rows[0] == ["high", highs, sum(1 for x in findings if x["suppressed"] and x["severity"] == "high")]


def test_memory_stays_small_for_a_large_finding_stream():
    """100,000 findings stream through: the tally keeps integer codes, not the findings."""
    def stream():
        for n in range(100_000):
            yield {"severity": SEV[n % 3], "ruleId": f"rule-{n % 19}", "owner": f"team-{n % 500}",
                   "subscriptionId": f"sub-{n % 2000}", "suppressed": n % 50 == 0, "message": "x" * 200}

    tally = Tally()
    tracemalloc.start()
    for finding in stream():
        tally.add(finding)
    tables = tally.tables([], severities=SEV)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sum(r[2] + r[-1] for r in tables["owner"].rows) == 100_000
    assert peak < 24 * 2**20, f"{peak / 2**20:.1f} MiB"


def test_pandas_is_imported_only_when_the_tables_are_built():
    code = ("import sys, reports.summary_tables as s; assert 'pandas' not in sys.modules; "
            "s.summary_tables([], [], severities=['high']); assert 'pandas' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_trend_points_are_cleaned_not_trusted():
    summary = {"trend": [
        {"runAt": "2026-11-17T06:00:00Z", "high": 3, "medium": 2, "low": 1, "new": 6, "resolved": 0},
        {"runAt": 7, "high": -1, "medium": "2", "low": True, "new": None},          # bad values: gaps
        "not a point",
        {"runAt": "2026-12-01T06:00:00Z", "high": 2, "medium": 2, "low": 1, "new": 0, "resolved": 1},
    ]}
    points = trend_points(summary)
    assert len(points) == 3
    assert points[1] == {"runAt": None, "high": None, "medium": None, "low": None, "new": None, "resolved": None}
    assert points[2]["resolved"] == 1
    assert trend_label(points[0], 1) == "2026-11-17" and trend_label(points[1], 2) == "run 2"
    for bad in ({}, {"trend": None}, {"trend": {"high": 1}}, None, {"trend": "x"}):
        assert trend_points(bad) == []
    long = {"trend": [{"runAt": f"r{n}", "high": n} for n in range(TREND_CAP + 5)]}
    kept = trend_points(long)
    assert len(kept) == TREND_CAP and kept[-1]["runAt"] == f"r{TREND_CAP + 4}"   # the newest kept
