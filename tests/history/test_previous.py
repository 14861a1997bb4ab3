"""Reading the previous report: fingerprints and firstSeen in one lean pass, details of the gone ones in a second."""

import json

import pytest

from audit_function.history import previous
from audit_function.pipeline.run import AuditOptions, run_audit
from audit_function.history.previous import PreviousIndex, PreviousReportError
from audit_function.history.state import read_previous, read_previous_chunks


@pytest.fixture(scope="module")
def report_bytes():
    return run_audit(AuditOptions(source="demo", formats=("json",), run_id="r")).files["kv-audit-report.json"].read_all()


def test_line_layout_index_matches_the_report(report_bytes):
    doc = json.loads(report_bytes)
    index = read_previous(report_bytes)
    assert index.run == doc["run"] and index.started == doc["run"]["startedAt"]
    assert index.first_seen == {f["fingerprint"]: f["firstSeen"] for f in doc["findings"]}
    assert index.last_seen == {}
    some = {doc["findings"][0]["fingerprint"], doc["findings"][-1]["fingerprint"]}
    details = index.details(some)
    assert set(details) == some
    first = details[doc["findings"][0]["fingerprint"]]
    assert first["evidence"] == doc["findings"][0]["evidence"] and "remediation" not in first


def test_same_index_from_the_parsed_report(report_bytes):
    doc = json.loads(report_bytes)
    lean, parsed = read_previous(report_bytes), PreviousIndex.from_report(doc)
    assert lean.first_seen == parsed.first_seen and lean.started == parsed.started
    fp = doc["findings"][3]["fingerprint"]
    assert lean.details({fp})[fp]["ruleId"] == parsed.details({fp})[fp]["ruleId"]


def test_other_layouts_are_parsed_whole_and_bad_input_is_an_error(report_bytes):
    pretty = json.dumps(json.loads(report_bytes), indent=2).encode()
    assert read_previous(pretty).first_seen == read_previous(report_bytes).first_seen
    for bad in (b"{not json", b"[1, 2]", b'{"a": 1}'):
        with pytest.raises(PreviousReportError):
            read_previous(bad)


def test_chunked_reading_gives_the_same_whatever_the_chunk_size(report_bytes):
    expected = read_previous(report_bytes)
    fps = set(list(expected.first_seen)[:5])
    for size in (1, 7, 4096, 1 << 20):
        index = read_previous_chunks(lambda: (report_bytes[i:i + size] for i in range(0, len(report_bytes), size)))
        assert index.first_seen == expected.first_seen
        assert index.details(fps) == expected.details(fps)


def test_the_findings_are_read_line_by_line_however_far_down(report_bytes, monkeypatch):
    monkeypatch.setattr(previous, "_whole", lambda data: (_ for _ in ()).throw(AssertionError("parsed whole")))
    assert len(read_previous(report_bytes).first_seen) == len(json.loads(report_bytes)["findings"])


def test_unverified_findings_keep_their_own_last_seen(report_bytes):
    doc = json.loads(report_bytes)
    gone = doc["findings"].pop(0)
    doc["unverified"] = [dict(gone, status="unverified", lastSeen="2026-01-05T06:00:00Z", firstSeen="2026-01-01T06:00:00Z")]
    doc["summary"]["findings"] = len(doc["findings"])  # the summary counts the findings list
    text = b"{\n " + b",\n ".join(json.dumps(k).encode() + b": " + (
        b"[\n" + b",\n".join(b"  " + json.dumps(i, separators=(",", ":")).encode() for i in v) + b"\n ]"
        if k in ("findings", "unverified") else json.dumps(v).encode()) for k, v in doc.items()) + b"\n}\n"
    index = read_previous(text)
    assert index.last_seen == {gone["fingerprint"]: "2026-01-05T06:00:00Z"}
    assert index.first_seen[gone["fingerprint"]] == "2026-01-01T06:00:00Z"
