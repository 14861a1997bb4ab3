"""The collector against Resource Graph answers shaped like real ones: causes in error.details[].message,
CouldNotDecodeSkipToken, quota headers on every answer, header names in any case."""

from __future__ import annotations

import json

import pytest
from azure.core.exceptions import HttpResponseError

from audit_function.collect.arg import classify
from audit_function.collect.collector import MAX_TRANSIENT
from audit_function.collect.pacing import Pacer, retry_after
from audit_function.errors import CollectionError
from tests.collect.conftest import expected_rows, ids
from tests.fakes.clock import VirtualClock
from tests.fakes.estate import synthetic_estate

#: the body of a real 400 from Resource Graph (boilerplate in message, the causes in details)
REAL_400 = {"error": {
    "code": "BadRequest",
    "message": "Please provide below info when asking for support: timestamp = 2024-05-02T10:11:12.1234567Z, "
               "correlationId = 3b5c0a2e-0f4e-4c9a-9c1e-2d2b7f0f2a11.",
    "details": [{"code": "InvalidQuery", "message": "Query is invalid. Please refer to the documentation for the "
                 "Azure Resource Graph service and fix the error prior to retrying."},
                {"code": "ParserFailure", "message": "ParserFailure: Line 1 Position 12: syntax error near 'whre'"}]}}


@pytest.fixture(scope="module")
def estate():
    return synthetic_estate(subscriptions=5, vaults=260, assignments=2600, seed=13)


class _Response:
    def __init__(self, status, body, headers):
        self.status_code, self._body, self.headers, self.reason = status, body, headers, "Bad Request"

    def text(self, encoding=None):
        return json.dumps(self._body)


def _error(status, body, headers=None):
    exc = HttpResponseError(response=_Response(status, body, headers or {}))
    exc.status_code = status
    return exc


def test_error_text_carries_the_detail_codes_and_messages():
    err = classify(_error(400, REAL_400))
    text = str(err)
    assert err.kind == "fatal" and err.code == "BadRequest"
    assert "InvalidQuery: Query is invalid. Please refer to the documentation" in text
    assert "ParserFailure: ParserFailure: Line 1 Position 12: syntax error near 'whre'" in text
    assert text.index("InvalidQuery") < text.index("Please provide below info")  # cause first
    assert "correlationId = 3b5c0a2e" in text  # the support boilerplate is kept, after the cause


def test_both_skip_token_codes_are_recognised_and_headers_are_case_insensitive():
    for code in ("CouldNotDecodeSkipToken", "InvalidSkipToken"):
        body = {"error": {"code": "BadRequest", "message": "Please provide below info ...",
                          "details": [{"code": code, "message": "The skip token could not be decoded."}]}}
        err = classify(_error(400, body, {"X-MS-USER-QUOTA-REMAINING": "7"}))
        assert err.kind == "bad_skip_token" and err.code == code
        assert "could not be decoded" in str(err)
        assert err.headers.get("x-ms-user-quota-remaining") == "7"


def test_pacer_reads_headers_in_any_case():
    clock = VirtualClock()
    p = Pacer(sleep=clock.sleep, clock=clock.now, budget_s=None)
    p.observe({"X-Ms-User-Quota-Remaining": "0", "X-MS-USER-QUOTA-RESETS-AFTER": "00:00:04"})
    p.before_request()
    assert clock.sleeps == [4.0]
    p.throttled({"retry-after": "3"}, 1)
    p.throttled({"X-MS-USER-QUOTA-RESETS-AFTER": "00:00:02"}, 1)
    assert clock.sleeps[1:] == [3.0, 2.0]
    assert retry_after({"RETRY-AFTER-MS": "1500"}) == 1.5


def test_fake_sends_quota_headers_on_every_answer(serve):
    from audit_function.collect import queries

    fake = serve(synthetic_estate(subscriptions=2, vaults=5, assignments=20, seed=1))
    answers = [fake.handle_query({"query": queries.query("vaults")}, "2024-04-01"),
               fake.handle_query({"query": "resources | where type =~ 'x/y'"}, "2024-04-01"),
               fake.handle_query({"query": queries.query("vaults"), "options": {"$skipToken": "bm9wZQ=="}},
                                 "2024-04-01")]
    assert [a[0] for a in answers] == [200, 400, 400]
    for _, headers, _ in answers:
        assert int(headers["x-ms-user-quota-remaining"]) > 0 and headers["x-ms-user-quota-resets-after"]
    assert answers[2][2]["error"]["details"][0]["code"] == "CouldNotDecodeSkipToken"
    assert answers[1][2]["error"]["message"].startswith("Please provide below info when asking for support")


def test_invalid_query_error_names_the_cause(serve, collect, estate, monkeypatch):
    from audit_function.collect import queries

    monkeypatch.setattr(queries, "query", lambda table: "resources | where type =~ 'microsoft.unknown/things'")
    with pytest.raises(CollectionError) as caught:
        collect(serve(estate))
    assert "InvalidQuery: Query is invalid" in str(caught.value)
    assert "ParserFailure" in str(caught.value)


def test_gap_reason_carries_the_detail_message(serve, collect, estate):
    # requests 1-3: subscriptions, management groups, role definitions; then vaults keep failing
    fake = serve(estate, script={n: "500" for n in range(4, 4 + MAX_TRANSIENT + 1)})
    snap = collect(fake)
    reason = snap.manifest["gaps"][0]["reason"]
    assert "still failing" in reason and "InternalServerError: Encountered an internal server error." in reason


@pytest.mark.parametrize("code", ["CouldNotDecodeSkipToken", "InvalidSkipToken"])
def test_rejected_skip_token_restarts_the_query_once(serve, collect, estate, code):
    clean = collect(serve(estate, page_size=100))
    fake = serve(estate, page_size=100, bad_skip_tokens={"vaults": 1}, skip_token_code=code)
    snap = collect(fake)
    assert snap.manifest["complete"] is True and snap.manifest["gaps"] == []
    assert snap.tables == clean.tables
    vault_log = [e for e in fake.log if e["table"] == "vaults"]
    assert [e["status"] for e in vault_log] == [200, 400, 200, 200, 200]  # 3 pages, one restart
    assert "$skipToken" not in vault_log[2]["options"]  # restarted from its start


def test_skip_token_rejected_again_is_a_gap_for_that_table_only(serve, collect, estate):
    fake = serve(estate, page_size=100, bad_skip_tokens={"vaults": 2})
    snap = collect(fake)
    assert snap.manifest["complete"] is False
    assert [(g["scope"], g["table"]) for g in snap.manifest["gaps"]] == [("/", "vaults")]
    reason = snap.manifest["gaps"][0]["reason"]
    assert "$skipToken" in reason and "CouldNotDecodeSkipToken" in reason and "could not be decoded" in reason
    expected = expected_rows(estate)
    assert ids(snap.tables["role_assignments"]) == ids(expected["role_assignments"])  # collection went on
    assert ids(snap.tables["resource_groups"]) == ids(expected["resource_groups"])
    assert len(snap.tables["vaults"]) == 100  # the first page, read twice, kept once
