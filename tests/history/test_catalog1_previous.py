"""A catalog-1 previous report is not compared with a catalog-2 run: nothing is 'resolved' because
findings are keyed by other subjects now, and the report says why week over week starts afresh."""

from __future__ import annotations

from audit_function.pipeline import run as audit


def test_a_catalog_1_previous_report_is_ignored_with_a_reason():
    catalog1 = {"schemaVersion": "1.0", "run": {"id": "old", "startedAt": "2026-11-23T06:00:00Z", "complete": True,
                                                "gaps": [], "notEvaluated": []},
                "findings": [{"fingerprint": "0123456789abcdef0123456789abcdef", "ruleId": "self-grant-path",
                              "severity": "high", "title": "t", "vaultId": "/subscriptions/s/x", "firstSeen":
                              "2026-01-01T00:00:00Z"}]}
    report = audit.run_audit(audit.AuditOptions(source="demo", formats=("json",)), previous=catalog1).result.report
    assert report["resolved"] == [] and report["summary"]["resolved"] == 0
    assert {f["status"] for f in report["findings"]} == {"new"}
    assert report["run"]["weekOverWeek"]["used"] is False
    assert "catalog 1" in report["run"]["weekOverWeek"]["reason"]


def test_a_catalog_2_previous_report_is_compared():
    first = audit.run_audit(audit.AuditOptions(source="demo", formats=("json",))).result.report
    second = audit.run_audit(audit.AuditOptions(source="demo", formats=("json",)), previous=first).result.report
    assert {f["status"] for f in second["findings"]} == {"persisting"}
    assert "weekOverWeek" not in second["run"]


def test_the_schema_version_is_read_from_a_report_in_kv_audits_own_layout():
    from audit_function.history.state import read_previous

    outcome = audit.run_audit(audit.AuditOptions(source="demo", formats=("json",)))
    data = outcome.files["kv-audit-report.json"]
    data = data if isinstance(data, bytes) else b"".join(data)
    assert read_previous(data).schema == "2.0"
    old = data.replace(b'"schemaVersion": "2.0"', b'"schemaVersion": "1.0"', 1)
    assert read_previous(old).schema == "1.0"
