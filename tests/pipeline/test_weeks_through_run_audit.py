"""Three consecutive audits of a changing estate through the real pipeline (run_audit).

Snapshots go through the loader, the engine and every rule; the previous report comes from the
local-folder sink the CLI uses; suppressions from a YAML config; the audit's clock decides
expiry; tickets go to a loopback GitHub.

week 1: kv-pay is public (public-network-open, public-with-private-endpoint); kv-web (tag
        env=dev) has no purge protection, suppressed by a tag suppression that expires
        2026-11-12; kv-ops has soft delete off.
week 2: kv-pay is fixed (both resolved); kv-ops loses purge protection (new); a suppression
        for kv-ops' soft delete is added.
week 3: the dev suppression has expired: kv-web's finding is open again (and gets a ticket).
"""

from __future__ import annotations

from datetime import datetime, timezone

from audit_function.pipeline.run import AuditOptions, run_audit
from audit_function.sinks.local import LocalFolderSink
from audit_function.snapshot.load import RawSnapshot
from audit_function.tickets import run_ticket_step
from audit_function.tickets.model import finding_key
from audit_function.tickets.render import MARKER_RE
from tests.factories import private_endpoint, subscription_row, vault_row
from tests.tickets.fake_trackers import FakeGitHub

CONFIG = """\
suppressions:
  - id: dev-purge
    ruleId: purge-protection-disabled
    tag: {env: dev}
    justification: dev vaults are rebuilt nightly
    owner: platform-team
    expires: 2026-11-12
"""
WEEK2_EXTRA = """\
  - id: ops-soft-delete
    ruleId: soft-delete-disabled
    vault: kv-ops
    justification: vault predates soft delete; replacement scheduled
    owner: ops-team
    expires: 2027-01-31
"""


def vault(name, **props):
    tags = {"env": "dev"} if name == "kv-web" else {"env": "prod"}
    return vault_row(name, tags=tags, privateEndpointConnections=[private_endpoint()], **props)


WEEKS = [
    (datetime(2026, 11, 2, 6, tzinfo=timezone.utc), CONFIG, [
        vault("kv-pay", publicNetworkAccess="Enabled", networkAcls={"defaultAction": "Allow"}),
        vault("kv-web", enablePurgeProtection=None),
        vault("kv-ops", enableSoftDelete=False)]),
    (datetime(2026, 11, 9, 6, tzinfo=timezone.utc), CONFIG + WEEK2_EXTRA, [
        vault("kv-pay"),
        vault("kv-web", enablePurgeProtection=None),
        vault("kv-ops", enableSoftDelete=False, enablePurgeProtection=False)]),
    (datetime(2026, 11, 16, 6, tzinfo=timezone.utc), CONFIG + WEEK2_EXTRA, [
        vault("kv-pay"),
        vault("kv-web", enablePurgeProtection=None),
        vault("kv-ops", enableSoftDelete=False, enablePurgeProtection=False)]),
]

EXPECTED = [  # new, persisting, resolved, suppressed, expired suppression ids
    ({"kv-pay/public-network-open", "kv-pay/public-with-private-endpoint", "kv-web/purge-protection-disabled",
      "kv-ops/soft-delete-disabled"}, set(), set(), {"kv-web/purge-protection-disabled"}, []),
    ({"kv-ops/purge-protection-disabled"}, {"kv-web/purge-protection-disabled", "kv-ops/soft-delete-disabled"},
     {"kv-pay/public-network-open", "kv-pay/public-with-private-endpoint"},
     {"kv-web/purge-protection-disabled", "kv-ops/soft-delete-disabled"}, []),
    (set(), {"kv-web/purge-protection-disabled", "kv-ops/soft-delete-disabled", "kv-ops/purge-protection-disabled"},
     set(), {"kv-ops/soft-delete-disabled"}, ["dev-purge"]),
]


def label(f: dict) -> str:
    return f"{f['vaultName']}/{f['ruleId']}"


def test_three_weeks_through_run_audit_and_a_ticket_sink(tmp_path, session, sleeps):
    out = tmp_path / "reports"
    config = tmp_path / "kv-audit.yaml"
    with FakeGitHub() as github:
        settings = {"sink": "github", "closeResolved": True,
                    "github": {"repository": "contoso/security", "apiUrl": github.api_url}}
        for (when, config_text, vaults), expected in zip(WEEKS, EXPECTED):
            config.write_text(config_text, encoding="utf-8")
            snapshot = RawSnapshot(tables={"subscriptions": [subscription_row()], "role_definitions": [],
                                           "vaults": vaults, "role_assignments": []})
            outcome = run_audit(AuditOptions(source="snapshot", snapshot=snapshot, formats=("json",),
                                             config_path=config), LocalFolderSink(out), clock=lambda: when)
            doc = outcome.result.report
            new, persisting, resolved, suppressed, expired = expected
            assert {label(f) for f in doc["findings"] if f["status"] == "new"} == new
            assert {label(f) for f in doc["findings"] if f["status"] == "persisting"} == persisting
            assert {f"{r['vaultName']}/{r['ruleId']}" for r in doc["resolved"]} == resolved
            assert {label(f) for f in doc["findings"] if f["suppressed"]} == suppressed
            assert [e["id"] for e in doc["suppressions"]["expired"]] == expired
            run_ticket_step(doc, settings, env={"GITHUB_TOKEN": github.token}, session=session, sleep=sleeps)
            open_tickets = sorted(MARKER_RE.search(i["body"]).group(1) for i in github.open_issues())
            assert open_tickets == sorted(finding_key(f["fingerprint"]) for f in doc["findings"] if not f["suppressed"])
        first_seen = {label(f): f["firstSeen"] for f in doc["findings"]}
        assert first_seen["kv-web/purge-protection-disabled"] == "2026-11-02T06:00:00Z"
        assert first_seen["kv-ops/purge-protection-disabled"] == "2026-11-09T06:00:00Z"


def test_a_subscription_this_run_did_not_audit_leaves_its_findings_unverified(tmp_path):
    """Last week A and B were audited; this week only A is (a narrower scope, or Reader lost on B
    without an error): B's findings are unverified, not resolved, and keep their firstSeen."""
    from tests.factories import SUB2

    out = tmp_path / "reports"
    weeks = [
        ([subscription_row(), subscription_row(SUB2)],
         [vault("kv-a", enableSoftDelete=False, enablePurgeProtection=False),
          vault_row("kv-b", sub=SUB2, enableSoftDelete=False)]),
        ([subscription_row()], [vault("kv-a", enableSoftDelete=False)]),
    ]
    docs = []
    for n, (subscriptions, vaults) in enumerate(weeks):
        snapshot = RawSnapshot(tables={"subscriptions": subscriptions, "role_definitions": [],
                                       "vaults": vaults, "role_assignments": []})
        when = datetime(2026, 11, 2 + 7 * n, 6, tzinfo=timezone.utc)
        docs.append(run_audit(AuditOptions(source="snapshot", snapshot=snapshot, formats=("json",)),
                              LocalFolderSink(out), clock=lambda when=when: when).result.report)
    resolved = {f"{r['vaultName']}/{r['ruleId']}" for r in docs[1]["resolved"]}
    unverified = {f"{r['vaultName']}/{r['ruleId']}": r for r in docs[1]["unverified"]}
    assert resolved == {"kv-a/purge-protection-disabled"}          # fixed in the audited subscription
    assert "kv-b/soft-delete-disabled" in unverified and not any(r.startswith("kv-b/") for r in resolved)
    kept = unverified["kv-b/soft-delete-disabled"]
    assert kept["unverifiedBecause"] == "its subscription was not audited by this run"
    assert kept["firstSeen"].startswith("2026-11-02")
