"""GitHub Issues sink against a loopback GitHub API."""

from __future__ import annotations

import copy

import pytest

from audit_function.errors import ConfigError
from audit_function.tickets import TicketAuthError, TicketSinkError, run_ticket_step
from audit_function.tickets.render import MARKER_RE
from tests.history.factory import SUB_A, SUB_B, finding, report, vault
from tests.tickets.fake_trackers import FakeGitHub

A = vault("kv-a", SUB_A)
B = vault("kv-b", SUB_B)
F1 = finding("public-network-open", A)
F2 = finding("purge-protection-disabled", A)
F3 = finding("no-private-endpoint", B)


def doc(findings, run_id="w1", started="2025-03-03T06:00:00Z", **kwargs):
    return report(run_id, started, [A, B], copy.deepcopy(findings), **kwargs)


def step(server, session, sleeps, report_doc, clock=lambda: 1_700_000_000.0, **settings):
    settings = {"sink": "github", "github": {"repository": "contoso/security",
                                             "apiUrl": server.api_url}, **settings}
    return run_ticket_step(report_doc, settings, env={"GITHUB_TOKEN": server.token},
                           session=session, sleep=sleeps, clock=clock)


def keys_of_open(server) -> list[str]:
    return sorted(MARKER_RE.search(i["body"]).group(1) for i in server.open_issues())


def test_three_runs_create_once_then_update_only_what_changed(github, session, sleeps):
    github.add_pull_request("unrelated PR", ["kv-audit"])
    first = step(github, session, sleeps, doc([F1, F2, F3]))
    assert first.counts == {"create": 3}
    assert len(github.open_issues()) == 3
    created = github.requests[-1]
    assert created["headers"]["accept"] == "application/vnd.github+json"
    assert created["headers"]["x-github-api-version"] == "2022-11-28"
    issue = github.issues[2]
    assert [label["name"] for label in issue["labels"]] == ["kv-audit", "severity:high"]
    assert issue["title"] == "kv-audit: Public network open (kv-a)"

    writes_before = len(github.writes())
    second = step(github, session, sleeps, doc([F1, F2, F3], "w2", "2025-03-10T06:00:00Z"))
    assert second.counts == {"unchanged": 3}
    assert len(github.writes()) == writes_before

    changed = dict(copy.deepcopy(F2), evidence={"purgeProtection": None, "checked": 2})
    third = step(github, session, sleeps, doc([F1, changed, F3], "w3", "2025-03-17T06:00:00Z"))
    assert third.counts == {"unchanged": 2, "update": 1}
    assert len(github.issues) == 4          # 3 issues + the pull request: nothing duplicated
    assert '"checked": 2' in github.issues[3]["body"]
    assert sleeps == []


def test_resolved_findings_get_a_comment_and_are_closed(github, session, sleeps):
    step(github, session, sleeps, doc([F1, F2]))
    fixed = doc([F2], "w2", "2025-03-10T06:00:00Z")
    fixed["resolved"] = [dict(F1, lastSeen="2025-03-03T06:00:00Z")]
    summary = step(github, session, sleeps, fixed, closeResolved=True)
    assert summary.counts == {"close": 1, "unchanged": 1}
    closed = github.issues[1]
    assert (closed["state"], closed["state_reason"]) == ("closed", "completed")
    assert "kv-audit:resolved" in [label["name"] for label in closed["labels"]]
    assert "no longer found in run w2" in github.comments[1][0]
    assert "Last seen 2025-03-03T06:00:00Z" in github.comments[1][0]
    again = step(github, session, sleeps, fixed, closeResolved=True)
    assert again.counts == {"unchanged": 1}


def test_without_close_resolved_a_resolved_ticket_gets_one_comment_and_stays_open(
        github, session, sleeps):
    step(github, session, sleeps, doc([F1, F2]))
    for run in ("w2", "w3"):
        summary = step(github, session, sleeps, doc([F2], run, "2025-03-10T06:00:00Z"))
    assert summary.counts == {"leave": 1, "unchanged": 1}
    assert github.issues[1]["state"] == "open"
    assert len(github.comments[1]) == 1


def test_incomplete_run_leaves_tickets_of_unread_scopes_open(github, session, sleeps):
    step(github, session, sleeps, doc([F1, F3]))
    gap = {"scope": f"/subscriptions/{SUB_B}", "table": "vaults", "reason": "403"}
    partial = doc([], "w2", "2025-03-10T06:00:00Z", gaps=[gap])
    partial["resolved"] = [dict(F1, lastSeen="2025-03-03T06:00:00Z")]
    partial["unverified"] = [dict(F3, status="unverified")]
    summary = step(github, session, sleeps, partial, closeResolved=True)
    assert summary.counts == {"close": 1, "leave": 1}
    assert keys_of_open(github) == [F3["fingerprint"]]
    assert any("incomplete" in note for note in summary.notes)


def test_suppressed_finding_closes_its_ticket_and_expiry_reopens_it(github, session, sleeps):
    step(github, session, sleeps, doc([F1]))
    accepted = doc([F1], "w2")
    accepted["findings"][0].update(suppressed=True, suppression={
        "id": "web-front-door", "owner": "web-team", "expires": "2025-03-14",
        "justification": "behind Front Door"})
    summary = step(github, session, sleeps, accepted)
    assert summary.counts == {"comment-suppressed": 1}
    issue = github.issues[1]
    assert (issue["state"], issue["state_reason"]) == ("closed", "not_planned")
    assert "web-front-door" in github.comments[1][0] and "behind Front Door" in github.comments[1][0]
    assert step(github, session, sleeps, accepted).counts == {}

    expired = doc([F1], "w3")
    summary = step(github, session, sleeps, expired)
    assert summary.counts == {"reopen": 1}
    assert (issue["state"], issue["state_reason"]) == ("open", "reopened")
    assert "no longer suppressed" in github.comments[1][-1]
    assert "kv-audit:suppressed" not in [label["name"] for label in issue["labels"]]
    assert len(github.issues) == 1


def test_pagination_finds_tickets_beyond_the_first_page(github, session, sleeps):
    for n in range(130):   # labelled by hand, no kv-audit marker: never touched
        github.issues[github._number()] = {"number": n + 1, "title": "manual", "body": "notes",
                                           "state": "open", "labels": [{"name": "kv-audit"}]}
    step(github, session, sleeps, doc([F1]))
    summary = step(github, session, sleeps, doc([F1], "w2"))
    assert summary.counts == {"unchanged": 1}
    pages = [r["query"].get("page", ["1"])[0] for r in github.requests
             if r["method"] == "GET"]
    assert pages[-2:] == ["1", "2"]


def test_rate_limits_wait_as_told_and_then_succeed(github, session, sleeps):
    github.fail_next(429, headers={"Retry-After": "7"}, body={"message": "slow down"}, times=2)
    github.fail_next(403, headers={"Retry-After": "3"},
                     body={"message": "You have exceeded a secondary rate limit."}, method="POST")
    github.fail_next(403, headers={"x-ratelimit-remaining": "0",
                                   "x-ratelimit-reset": str(1_700_000_030)},
                     body={"message": "API rate limit exceeded"}, method="POST")
    summary = step(github, session, sleeps, doc([F1, F2]))
    assert summary.counts == {"create": 2}
    assert sleeps == [7.0, 7.0, 3.0, 31.0]
    assert summary.waited == 48.0
    assert len(github.open_issues()) == 2


def test_retries_are_bounded(github, session, sleeps):
    github.fail_next(429, headers={"Retry-After": "1"}, times=10)
    with pytest.raises(TicketSinkError, match=r"github: GET .* still failing after 5 retries"):
        step(github, session, sleeps, doc([F1]))
    assert len(sleeps) == 5
    github.faults.clear()
    github.fail_next(429, headers={"Retry-After": "3600"})
    with pytest.raises(TicketSinkError, match=r"next wait would be 3600s"):
        step(github, session, sleeps, doc([F1]))


def test_bad_token_stops_at_once_naming_the_sink_and_the_variable(github, session, sleeps):
    with pytest.raises(TicketAuthError) as caught:
        run_ticket_step(doc([F1]), {"sink": "github", "github": {
            "repository": "contoso/security", "apiUrl": github.api_url}},
            env={"GITHUB_TOKEN": "wrong"}, session=session, sleep=sleeps)
    message = str(caught.value)
    assert message.startswith("github: authentication failed (HTTP 401)")
    assert "set GITHUB_TOKEN" in message and "wrong" not in message
    assert len(github.requests) == 1 and sleeps == []

    github.fail_next(403, body={"message": "Resource not accessible by personal access token"})
    with pytest.raises(TicketAuthError, match=r"github: access denied \(HTTP 403\).*GITHUB_TOKEN"):
        step(github, session, sleeps, doc([F1]))


def test_missing_token_or_repository_is_a_configuration_error(github, session):
    with pytest.raises(ConfigError, match="set GITHUB_TOKEN"):
        run_ticket_step(doc([F1]), {"sink": "github", "github": {"repository": "o/r"}}, env={})
    with pytest.raises(ConfigError, match="owner/name"):
        run_ticket_step(doc([F1]), {"sink": "github", "github": {"repository": "o"}},
                        env={"GITHUB_TOKEN": "t"})


def test_dry_run_reads_but_never_writes(github, session, sleeps):
    step(github, session, sleeps, doc([F1]))
    summary = step(github, session, sleeps, doc([F2, F3], "w2"), dryRun=True, closeResolved=True)
    assert summary.counts == {"create": 2, "close": 1}
    assert len(github.writes()) == 1
    text = summary.render_text()
    assert "dry run" in text and "would create" in text and "would close" in text


def test_group_by_vault_and_enterprise_server_base_url(session, sleeps):
    assignment = finding("broad-data-role", None, sub=SUB_B,
                         assignment=f"/subscriptions/{SUB_B}/providers/Microsoft.Authorization/"
                                    "roleAssignments/r1")
    with FakeGitHub(prefix="/api/v3") as ghes:
        summary = step(ghes, session, sleeps, doc([F1, F2, F3, assignment]), groupBy="vault")
        assert summary.counts == {"create": 3}
        titles = sorted(i["title"] for i in ghes.open_issues())
        assert titles == ["kv-audit: Broad data role (/subscriptions/" + SUB_B +
                          "/providers/Microsoft.Authorization/roleAssignments/r1)",
                          "kv-audit: Key Vault kv-a has open findings",
                          "kv-audit: Key Vault kv-b has open findings"]
        vault_a = next(i for i in ghes.open_issues() if "Key Vault kv-a " in i["title"])
        assert "Public network open" in vault_a["body"] and "Purge protection" in vault_a["body"]
        assert all(r["path"].startswith("/api/v3/repos/") for r in ghes.requests)
        fixed = doc([F2, F3, assignment], "w2")
        assert step(ghes, session, sleeps, fixed, groupBy="vault").counts == {
            "update": 1, "unchanged": 2}


def test_estate_text_cannot_break_out_of_the_markdown(github, session, sleeps):
    hostile = vault("kv-x", SUB_A)
    bad = finding("public-network-open", hostile,
                  evidence={"tag": "```\n@octocat [click](https://evil.example)"})
    bad["message"] = "ping @octocat ``` <script>"
    step(github, session, sleeps, doc([bad]))
    body = github.issues[1]["body"]
    assert "````text\nping @octocat ``` <script>\n````" in body
    outside = body.replace("````text\nping @octocat ``` <script>\n````", "")
    assert "@octocat [click]" not in outside.split("````json")[0]


def test_a_token_that_cannot_set_labels_stops_instead_of_duplicating(github, session, sleeps):
    github.drop_labels = True
    with pytest.raises(TicketSinkError, match=r"created without the label 'kv-audit'"):
        step(github, session, sleeps, doc([F1, F2]))
    assert len(github.issues) == 1
