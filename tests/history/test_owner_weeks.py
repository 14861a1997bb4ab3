"""Owners week over week through the real pipeline: the previous report is read back from the
local-folder sink (the lean reader), resolved findings keep their owner and principal name, and an
owner's ticket closes when the last of its findings is fixed."""

from __future__ import annotations

from datetime import datetime, timezone

from audit_function.pipeline.run import AuditOptions, run_audit
from audit_function.sinks.local import LocalFolderSink
from audit_function.snapshot.load import RawSnapshot
from audit_function.tickets import run_ticket_step
from audit_function.tickets.model import owner_key
from tests.factories import SUB, resource_group_row, subscription_row, vault_row
from tests.tickets.fake_trackers import FakeGitHub

OPEN = {"publicNetworkAccess": "Enabled", "networkAcls": {"defaultAction": "Allow"}}


def week(when, sink, vaults):
    tables = {"subscriptions": [subscription_row(SUB, tags={"owner": "sub-team"})], "role_definitions": [],
              "vaults": vaults, "role_assignments": [],
              "resource_groups": [resource_group_row("rg-pay", SUB, {"owner": "pay-team@contoso.com"})]}
    return run_audit(AuditOptions(source="snapshot", snapshot=RawSnapshot(tables=tables), formats=("json",)),
                     sink, clock=lambda: when).result.report


def test_an_owner_ticket_closes_when_its_last_finding_is_fixed(tmp_path, session, sleeps):
    sink = LocalFolderSink(tmp_path / "reports")
    first = week(datetime(2026, 11, 2, 6, tzinfo=timezone.utc), sink,
                 [vault_row("kv-pay", rg="rg-pay", **OPEN), vault_row("kv-ops", **OPEN)])
    assert {f["vaultName"]: f["owner"] for f in first["findings"] if f["ruleId"] == "public-network-open"} == {
        "kv-pay": "pay-team@contoso.com", "kv-ops": "sub-team"}
    # kv-pay is decommissioned: every finding of the pay team is resolved
    second = week(datetime(2026, 11, 9, 6, tzinfo=timezone.utc), sink, [vault_row("kv-ops", **OPEN)])
    assert second["resolved"] and {(r["vaultName"], r["owner"]) for r in second["resolved"]} == {
        ("kv-pay", "pay-team@contoso.com")}

    with FakeGitHub() as github:
        settings = {"sink": "github", "groupBy": "owner", "closeResolved": True,
                    "github": {"repository": "contoso/security", "apiUrl": github.api_url}}
        env = {"GITHUB_TOKEN": github.token}
        created = run_ticket_step(first, settings, env=env, session=session, sleep=sleeps)
        assert created.counts == {"create": 2}
        done = run_ticket_step(second, settings, env=env, session=session, sleep=sleeps)
        closed = [a for a in done.actions if a.kind == "close"]
        assert [a.key for a in closed] == [owner_key("pay-team@contoso.com")]
        assert {a.key: a.kind for a in done.actions}[owner_key("sub-team")] == "unchanged"
        pay = next(i for i in github.issues.values() if "pay-team" in i["title"])
        assert pay["state"] == "closed" and "owner:pay-team@contoso.com" in [x["name"] for x in pay["labels"]]
