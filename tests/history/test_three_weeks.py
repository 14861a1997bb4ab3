"""Three consecutive audits of a changing estate, end to end through config, suppressions,
history and a ticket sink:

week 1: findings F1..F4; F3 is suppressed (dev tag, expires 2025-03-14).
week 2: F1 is fixed; F5 is new and suppressed from the start; F6 is new.
week 3: the dev suppression has expired, so F3 is open again; a suppression added this week
        accepts F6, whose ticket gets a comment and is closed as accepted.

After every week the tracker holds exactly one open ticket per open, unsuppressed finding.
"""

from __future__ import annotations

import copy
from datetime import date

import pytest

from audit_function.pipeline.config import load_config
from audit_function.history.diff import apply_previous
from audit_function.history.suppressions import apply_suppressions
from audit_function.tickets import run_ticket_step
from audit_function.tickets.model import finding_key
from audit_function.tickets.render import MARKER_RE
from tests.history.factory import KNOWN_RULES, SUB_A, SUB_B, finding, report, vault
from tests.tickets.fake_trackers import FakeAzureDevOps, FakeGitHub

PAY = vault("kv-pay", SUB_A, "rg-pay", {"env": "prod"})
WEB = vault("kv-web", SUB_A, "rg-web", {"env": "dev"})
OPS = vault("kv-ops", SUB_B, "rg-ops", {"env": "prod"})
F1 = finding("public-network-open", PAY)
F2 = finding("purge-protection-disabled", PAY)
F3 = finding("soft-delete-disabled", WEB)
F4 = finding("firewall-allows-any", OPS, evidence={"ipRule": "0.0.0.0/0"})
F5 = finding("no-private-endpoint", OPS)
F6 = finding("public-network-open", WEB)
NAMES = {F1["fingerprint"]: "F1", F2["fingerprint"]: "F2", F3["fingerprint"]: "F3",
         F4["fingerprint"]: "F4", F5["fingerprint"]: "F5", F6["fingerprint"]: "F6"}

SUPPRESSIONS = """\
suppressions:
  - id: dev-soft-delete
    ruleId: soft-delete-disabled
    tag: {env: dev}
    justification: dev vaults are rebuilt from templates every night
    owner: platform-team
    expires: 2025-03-14
  - id: ops-private-endpoint
    ruleId: no-private-endpoint
    vault: kv-ops
    justification: private endpoint rollout scheduled for Q2
    owner: ops-team
    expires: 2025-06-30
  - id: legacy
    ruleId: '*'
    vault: kv-legacy-*
    justification: being decommissioned
    owner: legacy-team
    expires: 2025-12-31
"""
WEEK3_EXTRA = """\
  - id: web-front-door
    ruleId: public-network-open
    vault: kv-web
    justification: only reachable through Front Door with WAF
    owner: web-team
    expires: 2025-04-30
"""
WEEKS = [
    ("w1", "2025-03-03T06:00:00Z", date(2025, 3, 3), [F1, F2, F3, F4], SUPPRESSIONS),
    ("w2", "2025-03-10T06:00:00Z", date(2025, 3, 10), [F2, F3, F4, F5, F6], SUPPRESSIONS),
    ("w3", "2025-03-17T06:00:00Z", date(2025, 3, 17), [F2, F3, F4, F5, F6],
     SUPPRESSIONS + WEEK3_EXTRA),
]


def names(findings, **where) -> set[str]:
    return {NAMES[f["fingerprint"]] for f in findings
            if all(f.get(k) == v for k, v in where.items())}


def audit_weeks(tmp_path):
    """Yield each week's report after suppressions and history, like run_audit will."""
    previous = None
    for run_id, started, as_of, findings, config_text in WEEKS:
        path = tmp_path / f"{run_id}.yaml"
        path.write_text(config_text, encoding="utf-8")
        config = load_config(path, KNOWN_RULES)
        doc = report(run_id, started, [PAY, WEB, OPS], copy.deepcopy(findings))
        apply_suppressions(doc, config.suppressions, as_of)
        apply_previous(doc, previous)
        yield doc
        previous = doc


EXPECTED = [
    # new, persisting, resolved, suppressed, expired suppressions, unused suppressions
    ({"F1", "F2", "F3", "F4"}, set(), set(), {"F3"}, [], ["ops-private-endpoint", "legacy"]),
    ({"F5", "F6"}, {"F2", "F3", "F4"}, {"F1"}, {"F3", "F5"}, [], ["legacy"]),
    (set(), {"F2", "F3", "F4", "F5", "F6"}, set(), {"F5", "F6"}, ["dev-soft-delete"], ["legacy"]),
]


def test_three_weeks_give_the_right_sets(tmp_path):
    for doc, expected in zip(audit_weeks(tmp_path), EXPECTED):
        new, persisting, resolved, suppressed, expired, unused = expected
        assert names(doc["findings"], status="new") == new
        assert names(doc["findings"], status="persisting") == persisting
        assert {NAMES[r["fingerprint"]] for r in doc["resolved"]} == resolved
        assert names(doc["findings"], suppressed=True) == suppressed
        assert [e["id"] for e in doc["suppressions"]["expired"]] == expired
        assert [u["id"] for u in doc["suppressions"]["unused"]] == unused
        assert doc["summary"]["suppressed"] == len(suppressed)
        assert doc["unverified"] == []
    # F3 has been open since week 1 even though it was suppressed for two weeks.
    f3 = next(f for f in doc["findings"] if NAMES[f["fingerprint"]] == "F3")
    assert f3["firstSeen"] == "2025-03-03T06:00:00Z"


def open_keys(server) -> list[str]:
    if isinstance(server, FakeGitHub):
        return sorted(MARKER_RE.search(i["body"]).group(1) for i in server.open_issues())
    return sorted(t.strip()[len("kv-audit-fp-"):] for i in server.open_items()
                  for t in i["fields"]["System.Tags"].split(";")
                  if t.strip().startswith("kv-audit-fp-"))


def settings_for(server) -> tuple[dict, dict]:
    if isinstance(server, FakeGitHub):
        return ({"sink": "github", "closeResolved": True,
                 "github": {"repository": "contoso/security", "apiUrl": server.api_url}},
                {"GITHUB_TOKEN": server.token})
    return ({"sink": "azure-devops", "closeResolved": True,
             "azureDevOps": {"organizationUrl": server.org_url, "project": "Sec Ops"}},
            {"AZURE_DEVOPS_EXT_PAT": server.token})


TICKET_ACTIONS = [
    {"create": 3},                                       # F1, F2, F4 (F3 suppressed)
    {"close": 1, "create": 1, "unchanged": 2},           # F1 closed, F6 created
    {"comment-suppressed": 1, "create": 1, "unchanged": 2},  # F6 accepted, F3 created
]


@pytest.mark.parametrize("tracker", [FakeGitHub, FakeAzureDevOps])
def test_tracker_ends_each_week_with_one_open_ticket_per_open_finding(tmp_path, tracker,
                                                                      session, sleeps):
    with tracker() as server:
        settings, env = settings_for(server)
        for doc, actions in zip(audit_weeks(tmp_path), TICKET_ACTIONS):
            summary = run_ticket_step(doc, settings, env=env, session=session, sleep=sleeps)
            assert summary.counts == actions, doc["run"]["id"]
            wanted = sorted(finding_key(f["fingerprint"]) for f in doc["findings"]
                            if not f["suppressed"])
            assert open_keys(server) == wanted
            # Running the step again on the same report changes nothing.
            writes = len(server.writes())
            again = run_ticket_step(doc, settings, env=env, session=session, sleep=sleeps)
            assert set(again.counts) <= {"unchanged", "leave"}
            assert len(server.writes()) == writes
        assert open_keys(server) == sorted(finding_key(f["fingerprint"]) for f in (F2, F3, F4))
        assert sleeps == []
