"""Log Analytics rows: one shape per table, schema 2.0 fields when present, null when absent."""

from __future__ import annotations

import json

from reports.sentinel_rows import TABLES, data_rows, run_rows
from tests.reports.factory_xlsx import finding, vault


def columns(key: str) -> list[str]:
    return [name for name, _ in TABLES[key][2]]


def report() -> dict:
    v = vault("kv1")
    return {
        "tool": {"version": "1.2"},
        "run": {"id": "r1", "startedAt": "2026-11-23T06:00:00Z", "finishedAt": "2026-11-23T06:05:00Z", "source": "live",
                "complete": False, "gaps": [{"scope": "/subscriptions/x", "table": "vaults", "reason": "403"}] * 150,
                "notEvaluated": [], "coverage": [{"source": "directory", "state": "not collected", "note": "n"}]},
        "summary": {"vaults": 1, "findings": 2, "bySeverity": {"high": 1, "medium": 0, "low": 1}, "new": 1,
                    "persisting": 1, "resolved": 1, "unverified": 0, "suppressed": 0},
        "vaults": [dict(v, networkExposure="public")],
        "findings": [finding("public-network-open", v, 1, status="new", firstSeen="2026-11-23T06:00:00Z",
                             subject="vault", owner="team@x", principalName=None),
                     finding("no-private-endpoint", v, 2, status="persisting", firstSeen="2026-11-09T06:00:00Z")],
        "resolved": [{"fingerprint": "old", "ruleId": "public-network-open", "severity": "high", "vaultId": v["id"],
                      "firstSeen": "2026-11-02T06:00:00Z", "lastSeen": "2026-11-16T06:00:00Z"}],
        "unverified": [],
    }


def test_rows_have_exactly_the_declared_columns_and_serialize():
    doc = report()
    rows = {key: list(it) for key, it in data_rows(doc).items()}
    rows["runs"] = run_rows(doc)
    for key, table_rows in rows.items():
        assert table_rows and all(list(row) == columns(key) for row in table_rows), key
        json.dumps(table_rows)          # what the ingestion client sends
    findings = rows["findings"]
    assert [f["Status"] for f in findings] == ["new", "persisting", "resolved"]
    assert findings[0]["Owner"] == "team@x" and findings[0]["Subject"] == "vault" and findings[1]["Owner"] is None
    assert findings[0]["LastSeen"] == "2026-11-23T06:00:00Z" and findings[2]["LastSeen"] == "2026-11-16T06:00:00Z"
    assert all(f["TimeGenerated"] == "2026-11-23T06:00:00Z" and f["RunId"] == "r1" for f in findings)
    assert rows["vaults"][0]["NetworkExposure"] == "public"
    (run,) = rows["runs"]
    assert run["Complete"] is False and run["GapCount"] == 150 and len(run["Gaps"]) == 100
    assert run["Coverage"][0]["state"] == "not collected" and run["High"] == 1 and run["ToolVersion"] == "1.2"
