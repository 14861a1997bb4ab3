"""`audit --live` end to end: the live pipeline gives exactly the findings of a snapshot audit.

The demo estate is served by the local HTTPS Resource Graph endpoint; the same rows audited from
a snapshot are the reference. Collection runs on the endpoint's virtual clock, so throttling
waits cost no real time.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import orjson
import pytest

from audit_function.pipeline.run import AuditOptions, demo_snapshot, run_audit
from audit_function.cli.main import main
from audit_function.collect import LiveScope
from audit_function.snapshot.load import RawSnapshot, iter_rows
from tests.collect.conftest import StaticCredential
from tests.fakes.identity_server import live_azure

WHEN = datetime(2026, 11, 23, 6, tzinfo=timezone.utc)
TABLES = ("subscriptions", "management_groups", "role_definitions", "vaults", "role_assignments", "resource_groups")


@pytest.fixture(scope="module")
def demo_tables():
    """The demo estate as ARG rows (directory data left out: live collection has none)."""
    return {t: [row for _, row in iter_rows(demo_snapshot() / f"{t}.jsonl")] for t in TABLES}


def findings_of(report: dict) -> list[dict]:
    return [{k: v for k, v in f.items() if k not in ("firstSeen", "status")} for f in report["findings"]]


def audit(source: str, **kw):
    return run_audit(AuditOptions(source=source, formats=("json",), **kw), clock=lambda: WHEN).result.report


def test_live_audit_equals_snapshot_audit_under_throttling_and_faults(serve, clock, demo_tables):
    reference = audit("snapshot", snapshot=RawSnapshot(tables={t: list(r) for t, r in demo_tables.items()}))
    fake = serve(demo_tables, page_size=7, quota=(15, 5.0), random_rate=0.3, seed=3)
    live = audit("live", scope=LiveScope(), live={
        "credential": StaticCredential(), "endpoint": fake.url, "connection_verify": str(fake.ca_path),
        "sleep": clock.sleep, "clock": clock.now})
    assert fake.statuses.get(200) and sum(n for code, n in fake.statuses.items() if code != 200) > 0
    assert fake.authz.requests > 0  # eligibilities and deny assignments were listed through ARM
    assert live["run"]["complete"] is True and live["run"]["source"] == "live"
    assert len(reference["findings"]) > 50
    assert findings_of(live) == findings_of(reference)
    # owners from the collected resource-group and subscription tags, as from the snapshot
    owners = {f["vaultName"]: f["owner"] for f in live["findings"] if f["subject"] == "vault"}
    assert owners["kv-web-certs"] == "web-platform@contoso.com" and owners["kv-automation"] == "platform-ops@contoso.com"
    assert orjson.dumps(live["migration"]) == orjson.dumps(reference["migration"])


def test_forbidden_subscription_exits_3_names_it_and_audits_the_rest(serve, clock, demo_tables, tmp_path, monkeypatch,
                                                                     capsys):
    forbidden = demo_tables["vaults"][0]["subscriptionId"]
    subscriptions = sorted({r["subscriptionId"] for r in demo_tables["subscriptions"]})
    fake = serve(demo_tables, token="mi-token", forbidden_subscriptions={forbidden})
    with live_azure(monkeypatch, fake, token="mi-token"):   # the Function's managed identity, on loopback
        args = ["audit", "--live", "--out", str(tmp_path), "--format", "json"]
        for sub in subscriptions:
            args += ["--subscription", sub]
        code = main(args)
    assert code == 3
    report = json.loads((tmp_path / "kv-audit-report.json").read_text())
    assert report["run"]["complete"] is False
    assert any(forbidden.lower() in g["scope"].lower() for g in report["run"]["gaps"])
    audited = {v["subscriptionId"].lower() for v in report["vaults"]}
    expected = {r["subscriptionId"].lower() for r in demo_tables["vaults"]} - {forbidden.lower()}
    assert audited == expected
    assert "INCOMPLETE" in capsys.readouterr().err


def test_collect_command_writes_a_snapshot_the_audit_reads(serve, demo_tables, tmp_path, monkeypatch, capsys):
    fake = serve(demo_tables, token="mi-token")
    with live_azure(monkeypatch, fake, token="mi-token"):
        assert main(["collect", "--live", "--out", str(tmp_path / "snap"), "--gzip"]) == 0
    assert "snapshot written" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "snap" / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["tables"]["vaults"] == len(demo_tables["vaults"])
    assert (tmp_path / "snap" / "vaults.jsonl.gz").exists()
    from_disk = audit("snapshot", snapshot=tmp_path / "snap")
    reference = audit("snapshot", snapshot=RawSnapshot(tables={t: list(r) for t, r in demo_tables.items()}))
    assert findings_of(from_disk) == findings_of(reference)
