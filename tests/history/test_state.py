"""The state file: written with the reports, read first next run, never half-written, never guessed."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_function.history import state
from audit_function.pipeline.run import AuditOptions, run_audit
from audit_function.cli.main import main
from audit_function.errors import SinkError
from audit_function.history.previous import PreviousReportError
from audit_function.history.state import read_previous
from audit_function.sinks.local import LocalFolderSink
from audit_function.history.state import STATE_FILE, TREND_RUNS, load_previous, trend_entry, trend_with

REPORT = "kv-audit-report.json"
MONDAY = datetime(2026, 11, 2, 6, tzinfo=timezone.utc)


def week(out, n: int, **options):
    options.setdefault("formats", ("json",))
    return run_audit(AuditOptions(source="demo", run_id=f"w{n}", **options), LocalFolderSink(out),
                     clock=lambda: MONDAY + timedelta(days=7 * n))


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    out = tmp_path_factory.mktemp("state") / "reports"
    return out, week(out, 0)


def test_the_state_holds_every_finding_with_the_contract_fields(first):
    out, outcome = first
    doc = json.loads(gzip.decompress((out / STATE_FILE).read_bytes()))
    findings = outcome.result.report["findings"]
    assert doc["header"]["kind"] == "kv-audit-state" and doc["header"]["run"]["id"] == "w0"
    records = {r["fingerprint"]: r for r in doc["findings"]}
    assert len(records) == len(doc["findings"]) == len(findings)
    for finding in findings:
        record = records[finding["fingerprint"]]
        for key in ("firstSeen", "severity", "ruleId", "vaultId", "subject", "title", "suppressed"):
            assert record[key] == finding[key], key
    assert (out / STATE_FILE).stat().st_size * 10 < (out / REPORT).stat().st_size   # small beside the report
    assert doc["header"]["trend"] == outcome.result.report["summary"]["trend"]


def test_parallel_workers_hand_their_records_over(first, tmp_path):
    def records(folder):
        doc = json.loads(gzip.decompress((folder / STATE_FILE).read_bytes()))
        return {r["fingerprint"]: r for r in doc["findings"]}, len(doc["findings"])

    out = tmp_path / "reports"
    report = week(out, 0, workers=2).result.report
    forked, count = records(out)
    assert count == len(report["findings"]) and forked == records(first[0])[0]


def test_the_next_run_reads_the_state_not_the_report(first, tmp_path):
    out = tmp_path / "reports"
    out.mkdir()
    (out / STATE_FILE).write_bytes((first[0] / STATE_FILE).read_bytes())   # no report beside it
    report = week(out, 1).result.report
    assert "weekOverWeek" not in report["run"]
    assert {f["status"] for f in report["findings"]} == {"persisting"}
    assert {f["firstSeen"] for f in report["findings"]} == {"2026-11-02T06:00:00Z"}
    assert [t["runAt"] for t in report["summary"]["trend"]] == ["2026-11-02T06:00:00Z", "2026-11-09T06:00:00Z"]


def test_the_trend_counts_unsuppressed_findings_and_keeps_twelve_runs(first):
    report = first[1].result.report
    (entry,) = report["summary"]["trend"]
    assert entry == {"runAt": report["run"]["startedAt"], **report["summary"]["bySeverityUnsuppressed"],
                     "new": sum(1 for f in report["findings"] if not f["suppressed"]), "resolved": 0}
    runs = []
    for n in range(TREND_RUNS + 3):
        runs = trend_with(runs, trend_entry(f"2026-01-{n + 1:02d}", {"high": n}, n, 0))
    assert len(runs) == TREND_RUNS and runs[0]["runAt"] == "2026-01-04" and runs[-1]["high"] == TREND_RUNS + 2


def test_previous_accepts_a_state_file_and_a_report(first, tmp_path):
    for name in (STATE_FILE, REPORT):
        out = tmp_path / name
        assert main(["audit", "--demo", "--out", str(out), "--format", "json",
                     "--previous", str(first[0] / name)]) == 0
        report = json.loads((out / REPORT).read_text())
        assert {f["status"] for f in report["findings"]} == {"persisting"}, name
        assert len(report["summary"]["trend"]) == 2


def test_an_interrupted_run_leaves_the_previous_state_intact(first, tmp_path, monkeypatch):
    out = tmp_path / "reports"
    out.mkdir()
    for name in (STATE_FILE, REPORT):
        (out / name).write_bytes((first[0] / name).read_bytes())
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = state.state_chunks

    def cut(report, level=1, records=None):   # the state writer dies half-way
        chunks = real(report, level, records)
        yield next(chunks)
        raise KeyboardInterrupt

    monkeypatch.setattr(state, "state_chunks", cut)
    with pytest.raises(KeyboardInterrupt):
        week(out, 1)

    def broken(report, level=1, records=None):
        yield b"\x1f\x8b"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state, "state_chunks", broken)
    with pytest.raises(SinkError, match="No space left"):
        week(out, 1)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before   # no temp file, nothing replaced
    index, note = load_previous(LocalFolderSink(out))
    assert note is None and index.source == "state" and index.run["id"] == "w0"


def test_a_cut_state_falls_back_on_the_report_and_says_so(first, tmp_path, capsys):
    out = tmp_path / "reports"
    out.mkdir()
    data = (first[0] / STATE_FILE).read_bytes()
    (out / STATE_FILE).write_bytes(data[: len(data) // 2])
    (out / REPORT).write_bytes((first[0] / REPORT).read_bytes())
    assert main(["audit", "--demo", "--out", str(out), "--format", "json"]) == 0
    report = json.loads((out / REPORT).read_text())
    note = report["run"]["weekOverWeek"]
    assert note["used"] is True and note["source"] == "report" and "truncated" in note["reason"]
    assert {f["status"] for f in report["findings"]} == {"persisting"}
    assert STATE_FILE in capsys.readouterr().err


def test_a_corrupt_state_without_a_report_is_never_silently_all_new(first, tmp_path, capsys):
    out = tmp_path / "reports"
    out.mkdir()
    (out / STATE_FILE).write_bytes(gzip.compress(b'{"header": {"kind": "something else"},\n'))
    assert main(["audit", "--demo", "--out", str(out), "--format", "json"]) == 0
    report = json.loads((out / REPORT).read_text())
    note = report["run"]["weekOverWeek"]
    assert note["used"] is False and "not a kv-audit state file" in note["reason"] and STATE_FILE in note["reason"]
    assert "week-over-week" in capsys.readouterr().err
    # the run's own state replaced the unreadable one and is read next time
    assert load_previous(LocalFolderSink(out))[0].run["id"] == report["run"]["id"]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_a_state_cut_or_flipped_anywhere_is_refused_or_read_whole(first, data):
    good = (first[0] / STATE_FILE).read_bytes()
    whole = read_previous(good)
    raw = bytearray(good)
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] ^= data.draw(st.integers(1, 255))
    try:
        index = read_previous(bytes(raw))
    except PreviousReportError:
        return
    assert index.first_seen == whole.first_seen   # what is read at all is read whole


def _edited(good: bytes, edit) -> bytes:
    lines = gzip.decompress(good).split(b"\n")
    return gzip.compress(b"\n".join(edit(lines)))


def test_a_state_with_wrongly_typed_fields_is_refused_not_a_crash(first):
    good = (first[0] / STATE_FILE).read_bytes()

    def record_first_seen_a_number(lines):
        at = next(i for i, line in enumerate(lines) if b'"firstSeen":"' in line and b'"fingerprint"' in line)
        lines[at] = lines[at].replace(b'"firstSeen":"', b'"firstSeen":5,"was":"', 1)
        return lines

    def header_count_a_string(lines):
        head = lines[0]
        assert b'"findings":' in head
        lines[0] = head.replace(b'"findings":', b'"findings":"', 1).replace(b',"unverified"', b'","unverified"', 1)
        return lines

    for edit in (record_first_seen_a_number, header_count_a_string):
        with pytest.raises(PreviousReportError):
            read_previous(_edited(good, edit))
