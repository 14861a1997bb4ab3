"""Reading the previous report: our line layout is read lean, any other JSON whole."""

import json

import pytest

from audit_function import previous
from audit_function.audit import AuditOptions, run_audit
from audit_function.previous import PreviousReportError, read_previous


@pytest.fixture(scope="module")
def report_bytes():
    return run_audit(AuditOptions(source="demo", formats=("json",), run_id="r")).files["kv-audit-report.json"].read_all()


def test_line_layout_keeps_what_week_over_week_needs(report_bytes):
    full = json.loads(report_bytes)
    lean = read_previous(report_bytes)
    assert lean["run"]["startedAt"] == full["run"]["startedAt"]
    assert [f["fingerprint"] for f in lean["findings"]] == [f["fingerprint"] for f in full["findings"]]
    first_full, first_lean = full["findings"][0], lean["findings"][0]
    assert first_lean["evidence"] == first_full["evidence"] and "remediation" not in first_lean
    assert all(first_lean.get(k) == first_full[k] for k in ("ruleId", "vaultId", "subscriptionId", "firstSeen"))


def test_evidence_is_dropped_past_the_limit(report_bytes, monkeypatch):
    monkeypatch.setattr(previous, "EVIDENCE_LIMIT", 3)
    lean = read_previous(report_bytes)
    assert all("evidence" in f for f in lean["findings"][:3])
    assert not any("evidence" in f for f in lean["findings"][3:])
    assert lean["evidenceOmittedAfter"] == 3


def test_other_layouts_are_parsed_whole(report_bytes):
    pretty = json.dumps(json.loads(report_bytes), indent=2).encode()
    assert read_previous(pretty)["findings"] == json.loads(report_bytes)["findings"]
    with pytest.raises(PreviousReportError):
        read_previous(b"{not json")
    with pytest.raises(PreviousReportError):
        read_previous(b"[1, 2]")
