"""The kv-audit command line: exit codes, files written, messages (contract: docs/contracts/cli.md)."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from audit_function.cli.main import main
from rules import RULE_IDS
from tests.snapshot.test_snapshot import basic_tables, write_snapshot
from tests.factories import vault_row

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "reports" / "schema" / "report.schema.json").read_text())


def validate(report: dict) -> None:
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(report)


def test_demo_writes_both_reports_valid_against_the_schema(tmp_path, capsys):
    assert main(["audit", "--demo", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "kv-audit-report.json").read_text())
    validate(report)
    assert (tmp_path / "kv-audit-report.xlsx").stat().st_size > 0
    assert set(report["summary"]["byRule"]) == set(RULE_IDS)
    assert report["run"]["complete"] is True and report["run"]["source"] == "demo"
    out = capsys.readouterr().out
    assert "kv-audit:" in out and "kv-audit-report.json" in out


def test_fail_on_exits_1_when_a_finding_is_at_or_above(tmp_path):
    assert main(["audit", "--demo", "--out", str(tmp_path), "--format", "json", "--fail-on", "low"]) == 1


def test_malformed_snapshot_exits_2_naming_file_and_line(tmp_path, capsys):
    snap = write_snapshot(tmp_path / "snap", basic_tables(vaults=[vault_row(), "not json"]))
    out = tmp_path / "out"
    assert main(["audit", "--snapshot", str(snap), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "vaults.jsonl:2" in err and "not valid JSON" in err
    assert not out.exists() or not any(out.iterdir())


def test_skipped_rows_exit_3_with_gaps_listed(tmp_path, capsys):
    bad = vault_row("kv-bad")
    bad["properties"]["enableRbacAuthorization"] = "sometimes"   # the permission model itself: the row is skipped
    snap = write_snapshot(tmp_path / "snap", basic_tables(vaults=[vault_row(), bad]))
    assert main(["audit", "--snapshot", str(snap), "--out", str(tmp_path / "out"), "--format", "json"]) == 3
    report = json.loads((tmp_path / "out" / "kv-audit-report.json").read_text())
    validate(report)
    assert report["run"]["complete"] is False
    (gap,) = report["run"]["gaps"]
    assert gap["line"] == 2 and gap["file"].endswith("vaults.jsonl") and "enableRbacAuthorization" in gap["reason"]
    assert "INCOMPLETE" in capsys.readouterr().err


def test_failed_run_keeps_the_previous_report(tmp_path):
    out = tmp_path / "out"
    assert main(["audit", "--demo", "--out", str(out), "--format", "json"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    snap = write_snapshot(tmp_path / "snap", basic_tables(vaults=["{broken"]))
    assert main(["audit", "--snapshot", str(snap), "--out", str(out), "--format", "json"]) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(before) == ["kv-audit-report.json", "kv-audit-state.json.gz"]


def test_unknown_format_is_a_usage_error(tmp_path, capsys):
    assert main(["audit", "--demo", "--out", str(tmp_path), "--format", "json,pdf"]) == 2
    assert "pdf" in capsys.readouterr().err


def test_rules_lists_the_catalog(capsys):
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    for rule_id in RULE_IDS:
        assert rule_id in out
    assert main(["rules", "--format", "json"]) == 0
    assert {r["id"] for r in json.loads(capsys.readouterr().out)} == set(RULE_IDS)


def test_usage_errors_exit_2():
    with pytest.raises(SystemExit) as err:
        main(["audit"])
    assert err.value.code == 2


def test_console_script_is_installed_and_quiet_when_not_a_terminal(tmp_path):
    exe = Path(sys.executable).with_name("kv-audit")
    done = subprocess.run([str(exe), "audit", "--demo", "--out", str(tmp_path), "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "[" not in done.stderr


def test_plan_diff_and_tickets_commands_are_wired(tmp_path, capsys):
    plans = tmp_path / "plans"
    assert main(["plan", "--demo", "--format", "cli,bicep", "--out", str(plans)]) == 0
    scripts = list(plans.glob("*.sh"))
    assert scripts and list(plans.glob("bicep/*.bicep"))
    assert subprocess.run(["bash", "-n", str(scripts[0])]).returncode == 0
    out = tmp_path / "out"
    assert main(["audit", "--demo", "--out", str(out), "--format", "json"]) == 0
    report = out / "kv-audit-report.json"
    capsys.readouterr()
    assert main(["diff", str(report), str(report)]) == 0
    assert "resolved" in capsys.readouterr().out.lower()
    export = tmp_path / "tickets.jsonl"
    assert main(["tickets", "--report", str(report), "--sink", "jsonl", "--out", str(export)]) == 0
    rows = [json.loads(line) for line in export.read_text().splitlines()]
    assert rows and all(r["fingerprint"] for r in rows)


def test_an_unreadable_property_keeps_the_vault_and_its_other_findings(tmp_path):
    bad = vault_row("kv-bad", publicNetworkAccess="Enabled", networkAcls=None, enablePurgeProtection=None)
    bad["properties"]["enableSoftDelete"] = "sometimes"
    snap = write_snapshot(tmp_path / "snap", basic_tables(vaults=[bad]))
    assert main(["audit", "--snapshot", str(snap), "--out", str(tmp_path / "out"), "--format", "json"]) == 3
    report = json.loads((tmp_path / "out" / "kv-audit-report.json").read_text())
    validate(report)
    (gap,) = report["run"]["gaps"]
    assert gap["scope"].endswith("/kv-bad") and "enableSoftDelete" in gap["reason"]
    assert {f["ruleId"] for f in report["findings"]} >= {"public-network-open", "purge-protection-disabled"}
    assert "soft-delete-disabled" not in {f["ruleId"] for f in report["findings"]}
    assert [n["ruleId"] for n in report["run"]["notEvaluated"] if n["vaultId"]] == ["soft-delete-disabled"]
