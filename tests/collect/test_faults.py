"""Throttling, retries, oversized pages, partial answers and the time budget."""

from __future__ import annotations

import math

import pytest

from audit_function.collect import LiveScope
from audit_function.collect.collector import MAX_TRANSIENT
from audit_function.collect.pacing import BACKOFF_CAP_S
from audit_function.errors import CollectionError
from tests.collect.conftest import expected_rows, ids, minimum_requests
from tests.fakes.estate import synthetic_estate

TABLES = ("subscriptions", "management_groups", "role_definitions", "vaults", "role_assignments",
          "lighthouse_delegations", "resource_groups", "managed_hsms")


@pytest.fixture(scope="module")
def estate():
    return synthetic_estate(subscriptions=9, vaults=1500, assignments=12000, seed=21)


def snapshot_ids(snap):
    return {t: ids(snap.tables[t]) for t in TABLES}


def test_quota_pacing_avoids_429s(serve, collect, clock, estate):
    fake = serve(estate, quota=(15, 5.0), page_size=100)
    snap = collect(fake)
    assert fake.statuses[429] == 0, "waiting on x-ms-user-quota-remaining=0 must prevent throttling"
    assert fake.requests == sum(max(1, math.ceil(len(r) / 100)) for r in expected_rows(estate).values())
    windows = -(-fake.requests // 15)
    assert snap.manifest["throttleWaits"] == windows - 1
    assert 5.0 * (windows - 1) - 1 <= clock.now() <= 5.0 * windows + 1  # ~ one window per 15 requests
    assert snap.manifest["complete"] is True


def test_429_with_and_without_retry_after(serve, collect, clock, estate):
    fake = serve(estate, script={2: "429-retry-after", 4: "429", 5: "429"})
    snap = collect(fake)
    assert fake.statuses[429] == 3
    assert snap.manifest["throttleWaits"] == 3
    assert 1.0 in clock.sleeps  # Retry-After: 1 honoured exactly
    backoffs = [s for s in clock.sleeps if s != 1.0]
    assert len(backoffs) == 2 and all(0.5 <= s <= 2.0 for s in backoffs)  # jittered exponential back-off
    assert snapshot_ids(snap) == snapshot_ids(collect(serve(estate)))


def test_lower_case_retry_after_is_honoured(serve, collect, clock, estate):
    fake = serve(estate, script={2: "429-lower"})
    snap = collect(fake)
    assert fake.statuses[429] == 1 and snap.manifest["complete"] is True
    assert clock.sleeps[0] == 1.0  # 'retry-after: 1', not a jittered back-off


def test_429_without_retry_after_waits_for_the_quota_reset(serve, collect, clock, estate):
    fake = serve(estate, quota=(15, 5.0), script={3: "429"})
    snap = collect(fake)
    assert fake.statuses[429] == 1 and snap.manifest["complete"] is True
    assert clock.sleeps[0] == 5.0  # x-ms-user-quota-resets-after: 00:00:05 on the 429


def test_same_rows_under_throttling_and_injected_faults(serve, collect, estate):
    clean = collect(serve(estate))
    fake = serve(estate, quota=(15, 5.0), random_rate=0.35, seed=4, page_size=250)
    noisy = collect(fake)
    kinds = {e["fault"] for e in fake.log if e["fault"]}
    assert kinds >= {"429", "429-retry-after", "500", "503", "reset", "too_large"}, kinds
    assert snapshot_ids(noisy) == snapshot_ids(clean)
    assert noisy.tables == clean.tables
    assert noisy.manifest["complete"] is True and noisy.manifest["retries"] > 0
    assert noisy.manifest["requests"] == fake.requests


def test_connection_resets_are_retried(serve, collect, estate):
    fake = serve(estate, script={1: "reset", 2: "reset", 7: "reset"})
    snap = collect(fake)
    assert fake.statuses["reset"] == 3
    assert snap.manifest["retries"] == 3 and snap.manifest["complete"] is True
    assert snap.manifest["requests"] == minimum_requests(expected_rows(estate)) + 3


def test_persistent_server_errors_are_bounded_and_fatal_when_nothing_is_read(serve, collect, clock, estate):
    fake = serve(estate, script={n: "503" for n in range(1, 500)})
    with pytest.raises(CollectionError, match="nothing could be read"):
        collect(fake)
    assert fake.requests == len(TABLES) * (MAX_TRANSIENT + 1)
    assert all(0 < s <= BACKOFF_CAP_S for s in clock.sleeps)


def test_one_table_failing_is_a_gap_not_a_crash(serve, collect, estate):
    # requests 1-3 read subscriptions, management groups, role definitions; then vaults fail 6 times
    fake = serve(estate, script={n: "500" for n in range(4, 4 + MAX_TRANSIENT + 1)})
    snap = collect(fake)
    assert snap.manifest["complete"] is False
    assert [(g["scope"], g["table"]) for g in snap.manifest["gaps"]] == [("/", "vaults")]
    assert "still failing" in snap.manifest["gaps"][0]["reason"]
    assert ids(snap.tables["role_assignments"]) == ids(expected_rows(estate)["role_assignments"])


def test_oversized_pages_are_retried_with_a_smaller_top(serve, collect, estate):
    clean = collect(serve(estate))
    vault_page = sum(len(str(v)) for v in estate["vaults"][:1000])
    fake = serve(estate, payload_limit=vault_page // 3)
    snap = collect(fake)
    assert snap.tables == clean.tables
    tops = [e["options"]["$top"] for e in fake.log if e["table"] == "vaults"]
    assert tops[0] == 1000 and min(tops) < 1000 and fake.statuses[400] >= 1
    ok_tops = [e["options"]["$top"] for e in fake.log if e["table"] == "vaults" and e["status"] == 200]
    assert len(set(ok_tops)) == 1  # once a size works it is kept for the table


def test_a_single_row_too_large_for_any_page_is_a_gap(serve, collect, estate):
    import json

    estate = synthetic_estate(subscriptions=3, vaults=20, assignments=2000, seed=2)
    for vault in estate["vaults"][::2]:
        vault["tags"]["notes"] = "x" * 3000
    limit = 3000  # a page holds any vault but every other one, and every other row
    projected = [{k: r[k] for k in ("id", "name", "type", "properties")} for r in estate["role_assignments"]]
    assert max(len(json.dumps(r)) for r in projected) + 500 < limit
    fake = serve(estate, payload_limit=limit)
    snap = collect(fake)
    assert [(g["scope"], g["table"]) for g in snap.manifest["gaps"]] == [("/", "vaults")]
    assert "16 MB" in snap.manifest["gaps"][0]["reason"]
    assert [e["options"]["$top"] for e in fake.log if e["table"] == "vaults"][-1] == 1
    in_order = sorted(estate["vaults"], key=lambda v: v["id"])
    first_big = next(i for i, v in enumerate(in_order) if "notes" in v["tags"])
    assert ids(snap.tables["vaults"]) == ids(in_order[:first_big])  # read up to the row no page can hold
    assert ids(snap.tables["role_assignments"]) == ids(expected_rows(estate)["role_assignments"])


def test_subscription_limit_header_is_a_gap(serve, collect, estate):
    fake = serve(estate, subscription_limit=5)
    snap = collect(fake)
    gaps = {(g["scope"], g["table"]) for g in snap.manifest["gaps"]}
    assert {("/", "subscriptions"), ("/", "vaults"), ("/", "role_assignments")} <= gaps
    assert snap.manifest["complete"] is False
    assert len(snap.tables["subscriptions"]) == 5


def test_truncated_answer_without_skip_token_is_a_gap(serve, collect, estate):
    fake = serve(estate, truncate={"vaults"})
    snap = collect(fake)
    assert [(g["scope"], g["table"]) for g in snap.manifest["gaps"]] == [("/", "vaults")]
    assert "truncated" in snap.manifest["gaps"][0]["reason"]
    assert len(snap.tables["vaults"]) == 1000


def test_time_budget_turns_the_rest_into_gaps(serve, collect, estate):
    fake = serve(estate, latency_s=2.0)
    subs = tuple(r["subscriptionId"] for r in estate["subscriptions"])
    snap = collect(fake, LiveScope(subscriptions=subs), time_budget_s=7.0)
    m = snap.manifest
    assert m["complete"] is False and fake.requests <= 4
    assert m["tables"]["subscriptions"] == len(subs)
    budget_gaps = {(g["scope"], g["table"]) for g in m["gaps"] if "time budget" in g["reason"]}
    assert {(f"/subscriptions/{s}", "vaults") for s in subs} <= budget_gaps
    assert {(f"/subscriptions/{s}", "role_assignments") for s in subs} <= budget_gaps


def test_no_time_at_all_is_an_error(serve, collect, estate):
    fake = serve(estate)
    with pytest.raises(CollectionError, match="nothing could be read"):
        collect(fake, time_budget_s=0)
    assert fake.requests == 0


def test_invalid_query_answer_stops_collection(serve, collect, estate, monkeypatch):
    from audit_function.collect import queries

    monkeypatch.setattr(queries, "query", lambda table: "resources | where type =~ 'microsoft.unknown/things'")
    fake = serve(estate)
    with pytest.raises(CollectionError, match="InvalidQuery|Query is invalid"):
        collect(fake)
    assert fake.requests == 1
