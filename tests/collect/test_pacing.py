"""Pacer arithmetic: header parsing, back-off bounds, quota waits and the time budget."""

from __future__ import annotations

import email.utils
import random
import time

import pytest

from audit_function.collect.pacing import (BACKOFF_CAP_S, BudgetExhausted, Pacer, parse_hms, retry_after)
from tests.fakes.clock import VirtualClock


def pacer(clock, budget=None, seed=3):
    return Pacer(sleep=clock.sleep, clock=clock.now, budget_s=budget, rng=random.Random(seed))


@pytest.mark.parametrize("text, seconds", [("00:00:03", 3), ("00:01:00", 60), ("01:00:00.5", 3600.5),
                                           ("0:0:0", 0), ("", None), (None, None), ("3", None), ("a:b:c", None)])
def test_parse_hms(text, seconds):
    assert parse_hms(text) == seconds


def test_retry_after_forms():
    assert retry_after({"Retry-After": "7"}) == 7
    assert retry_after({"retry-after-ms": "1500"}) == 1.5
    assert retry_after({"x-ms-retry-after-ms": "250", "Retry-After": "9"}) == 0.25
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= retry_after({"Retry-After": future}) <= 31
    assert retry_after({}) is None and retry_after({"Retry-After": "soon"}) is None


def test_backoff_is_jittered_exponential_and_capped():
    p = pacer(VirtualClock())
    for attempt in range(1, 12):
        ceiling = min(BACKOFF_CAP_S, 2 ** (attempt - 1))
        waits = [p.backoff(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(set(waits)) > 1  # jitter


def test_spent_quota_delays_the_next_request_until_reset():
    clock = VirtualClock()
    p = pacer(clock)
    p.observe({"x-ms-user-quota-remaining": "3", "x-ms-user-quota-resets-after": "00:00:04"})
    p.before_request()
    assert clock.sleeps == []
    p.observe({"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": "00:00:04"})
    clock.sleep(1.0)  # time spent elsewhere counts against the wait
    p.before_request()
    assert clock.sleeps == [1.0, 3.0] and p.throttle_waits == 1 and p.throttle_wait_s == 3.0
    p.before_request()
    assert len(clock.sleeps) == 2  # waited once only


def test_throttled_prefers_retry_after_then_reset_then_backoff():
    clock = VirtualClock()
    p = pacer(clock)
    p.throttled({"Retry-After": "6", "x-ms-user-quota-resets-after": "00:00:02"}, 1)
    p.throttled({"x-ms-user-quota-resets-after": "00:00:02"}, 1)
    p.throttled({}, 3)
    assert clock.sleeps[:2] == [6.0, 2.0] and 2.0 <= clock.sleeps[2] <= 4.0
    assert p.throttle_waits == 3


def test_budget_refuses_waits_and_requests_that_do_not_fit():
    clock = VirtualClock()
    p = pacer(clock, budget=10)
    p.before_request()
    with pytest.raises(BudgetExhausted):
        p.throttled({"Retry-After": "30"}, 1)
    assert clock.sleeps == []  # never slept past the budget
    clock.sleep(10)
    with pytest.raises(BudgetExhausted):
        p.before_request()
