"""Manifest and previous-report validation: what disagrees or is unreadable becomes a named gap, a
clear message or exit 2, never a silent loss or a report that says it is complete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit_function.cli.main import main
from audit_function.errors import InputError
from audit_function.snapshot.load import RawSnapshot, load_estate
from tests.snapshot.test_snapshot import basic_tables, write_snapshot
from tests.factories import vault_row
from tests.cli.test_cli import validate

MANIFEST = {"format": "kv-audit-snapshot/1", "complete": True, "gaps": []}


def nineteen_vaults():
    return basic_tables(vaults=[vault_row(f"kv{n:02d}") for n in range(19)])


def test_a_cut_table_is_a_gap_naming_it_and_both_counts(tmp_path, capsys):
    tables = nineteen_vaults()
    manifest = {**MANIFEST, "tables": {t: len(rows) for t, rows in tables.items()}}
    tables["vaults"] = tables["vaults"][:10]
    snap = write_snapshot(tmp_path / "snap", tables, manifest=manifest)
    assert main(["audit", "--snapshot", str(snap), "--out", str(tmp_path / "out"), "--format", "json"]) == 3
    report = json.loads((tmp_path / "out" / "kv-audit-report.json").read_text())
    assert report["run"]["complete"] is False
    (gap,) = [g for g in report["run"]["gaps"] if g.get("table") == "vaults"]
    assert "19" in gap["reason"] and "10" in gap["reason"]
    assert "INCOMPLETE" in capsys.readouterr().err


def test_matching_counts_give_no_gap(tmp_path):
    tables = nineteen_vaults()
    manifest = {**MANIFEST, "tables": {t: len(rows) for t, rows in tables.items()}}
    estate = load_estate(write_snapshot(tmp_path / "snap", tables, manifest=manifest))
    assert estate.gaps == []


@pytest.mark.parametrize("gaps", ["oops", {"scope": "/"}, 7])
def test_incomplete_manifest_with_gaps_not_a_list_is_incomplete(tmp_path, gaps):
    snap = write_snapshot(tmp_path / "snap", basic_tables(), manifest={**MANIFEST, "complete": False, "gaps": gaps})
    estate = load_estate(snap)
    assert estate.gaps and "'gaps' is not a list" in estate.gaps[0].reason


def test_gap_entries_that_are_not_objects_are_gaps(tmp_path):
    snap = write_snapshot(tmp_path / "snap", basic_tables(), manifest={**MANIFEST, "complete": False, "gaps": ["x"]})
    (gap,) = load_estate(snap).gaps
    assert "gap 1 is not an object" in gap.reason


@pytest.mark.parametrize("manifest", [[1, 2], "text", 3, None])
def test_a_manifest_that_is_not_an_object_is_a_clear_error(tmp_path, manifest):
    snap = write_snapshot(tmp_path / "snap", basic_tables())
    (snap / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="manifest must be a JSON object"):
        load_estate(snap)
    with pytest.raises(InputError, match="manifest must be an object"):
        load_estate(RawSnapshot(tables=basic_tables(), manifest=[1]))


def test_bad_row_counts_and_complete_values_are_gaps(tmp_path):
    manifest = {**MANIFEST, "complete": "yes", "tables": {"vaults": "many", "subscriptions": 1}}
    gaps = load_estate(write_snapshot(tmp_path / "snap", basic_tables(), manifest=manifest)).gaps
    reasons = " | ".join(g.reason for g in gaps)
    assert "'complete' is not true or false" in reasons and "row count of table 'vaults'" in reasons


# --- previous report ---------------------------------------------------------------------------

@pytest.fixture
def reports(tmp_path):
    out = tmp_path / "out"
    assert main(["audit", "--demo", "--out", str(out), "--format", "json"]) == 0
    return out


def rerun(out: Path, capsys) -> tuple[int, dict, str]:
    capsys.readouterr()
    code = main(["audit", "--demo", "--out", str(out), "--format", "json"])
    return code, json.loads((out / "kv-audit-report.json").read_text()), capsys.readouterr().err


def test_a_truncated_previous_report_is_not_used_and_the_run_says_so(reports, capsys):
    (reports / "kv-audit-state.json.gz").unlink()   # a folder from before the state file: its report is read
    path = reports / "kv-audit-report.json"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    code, report, err = rerun(reports, capsys)
    assert code == 0
    validate(report)
    assert report["run"]["weekOverWeek"]["used"] is False and "truncated" in report["run"]["weekOverWeek"]["reason"]
    assert all(f["status"] == "new" for f in report["findings"]) and report["resolved"] == []
    assert "kv-audit-report.json" in err and "week-over-week" in err


def test_a_report_with_lines_removed_is_not_used(reports, capsys):
    (reports / "kv-audit-state.json.gz").unlink()   # a folder from before the state file: its report is read
    path = reports / "kv-audit-report.json"
    lines = path.read_bytes().splitlines(keepends=True)
    first_finding = next(n for n, line in enumerate(lines) if line.startswith(b'  {"fingerprint"'))
    del lines[first_finding: first_finding + 3]
    path.write_bytes(b"".join(lines))
    code, report, err = rerun(reports, capsys)
    assert "summary counts" in report["run"]["weekOverWeek"]["reason"]


def test_a_previous_report_of_another_estate_is_not_used(reports, capsys):
    (reports / "kv-audit-state.json.gz").unlink()   # a folder from before the state file: its report is read
    path = reports / "kv-audit-report.json"
    text = path.read_text()
    demo_subs = {v["subscriptionId"] for v in json.loads(text)["vaults"]}
    for n, sub in enumerate(sorted(demo_subs)):
        text = text.replace(sub, f"99999999-0000-4000-8000-{n:012d}")
    path.write_text(text)
    code, report, err = rerun(reports, capsys)
    assert "another estate" in report["run"]["weekOverWeek"]["reason"]
    assert report["resolved"] == [] and report["summary"]["resolved"] == 0
    assert "another estate" in err


def test_a_good_previous_report_is_used(reports, capsys):
    code, report, err = rerun(reports, capsys)
    assert "weekOverWeek" not in report["run"] and all(f["status"] == "persisting" for f in report["findings"])


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"findings": [1], "run": {}}',
                                  b'{"findings": "x"}', b"[" * 100_000 + b"]" * 100_000,
                                  b'{"findings": [], "run": 5}', b"\xff\xfe"])
@pytest.mark.parametrize("command", ["diff", "tickets"])
def test_diff_and_tickets_on_a_corrupt_report_exit_2_naming_the_file(tmp_path, reports, capsys, body, command):
    bad = tmp_path / "bad.json"
    bad.write_bytes(body)
    good = str(reports / "kv-audit-report.json")
    argv = ["diff", str(bad), good] if command == "diff" else ["tickets", "--report", str(bad), "--sink", "jsonl"]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "Traceback" not in err


def test_a_previous_report_replaced_between_the_two_passes_is_read_as_it_was(reports):
    from audit_function.sinks.local import LocalFolderSink

    path = reports / "kv-audit-report.json"
    original = json.loads(path.read_text())
    from tests.function.helpers import previous_of

    index = previous_of(LocalFolderSink(reports))
    replacement = reports / "other.json"
    replacement.write_text('{"replaced": true}\n')
    replacement.replace(path)  # what a concurrent run's publish does
    wanted = {f["fingerprint"] for f in original["findings"]}
    details = index.details(wanted)
    assert set(details) == wanted and all(d.get("ruleId") for d in details.values())
