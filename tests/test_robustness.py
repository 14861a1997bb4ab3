"""Exit statuses and bounded input: a bug is exit 4 (never a traceback exiting 1), interruptions and
broken pipes are quiet, bad input is exit 2 or a named gap, and nesting never crashes a writer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from audit_function.cli import rules as rules_command
from audit_function.cli.main import main
from audit_function.depth import DEEP_MARKER, MAX_DEPTH
from audit_function.snapshot.load import RawSnapshot, load_estate
from tests.snapshot.test_snapshot import basic_tables, write_snapshot
from tests.factories import vault_row

ROOT = Path(__file__).resolve().parents[1]


def kv_audit(*args, env=None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "audit_function.cli.main", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, timeout=120, **kw)


def deep(levels: int, leaf="x"):
    value = leaf
    for _ in range(levels):
        value = {"k": value}
    return value


def test_an_unexpected_exception_is_exit_4_with_a_paragraph_not_a_traceback(monkeypatch, capsys):
    def boom(args):
        raise AttributeError("'NoneType' object has no attribute 'name'")

    monkeypatch.setattr(rules_command, "cmd_rules", boom)
    assert main(["rules"]) == 4
    err = capsys.readouterr().err
    assert "internal error" in err and "report it" in err and "Traceback" not in err
    assert "previous report is untouched" in err and len(err.strip().splitlines()) == 1


def test_keyboard_interrupt_is_130_and_quiet(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(rules_command, "cmd_rules", interrupted)
    assert main(["rules"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_broken_pipe_on_stdout_exits_quietly():
    done = subprocess.run(f"{sys.executable} -m audit_function.cli.main rules --format json | head -c 10",
                          shell=True, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout == "[\n  {\n    \"i"[:10]
    assert done.stderr == ""


def test_workers_that_are_not_a_number_are_exit_2(tmp_path):
    done = kv_audit("audit", "--demo", "--out", str(tmp_path / "out"), env={"KV_AUDIT_WORKERS": "abc"})
    assert done.returncode == 2 and "KV_AUDIT_WORKERS='abc'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "kv-audit-report.json").exists()


def test_out_naming_a_file_is_exit_2_is_not_a_folder(tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("mine")
    assert main(["audit", "--demo", "--out", str(target)]) == 2
    assert "is not a folder" in capsys.readouterr().err and target.read_text() == "mine"


def test_tickets_out_unwritable_is_exit_2(tmp_path, capsys):
    assert main(["audit", "--demo", "--out", str(tmp_path / "r"), "--format", "json"]) == 0
    target = tmp_path / "missing-folder" / "tickets.jsonl"  # cannot be created: its folder does not exist
    code = main(["tickets", "--report", str(tmp_path / "r" / "kv-audit-report.json"), "--sink", "jsonl",
                 "--out", str(target)])
    assert code == 2 and "cannot write the ticket export" in capsys.readouterr().err


def test_tickets_out_in_a_read_only_folder_is_exit_2(tmp_path, capsys, monkeypatch):
    assert main(["audit", "--demo", "--out", str(tmp_path / "r"), "--format", "json"]) == 0
    real_unlink = Path.unlink

    def refuse_write(self, *a, **k):
        raise PermissionError(13, "Permission denied")

    def refuse_unlink(self, *a, **k):  # a read-only folder refuses the clean-up too
        if self.name.endswith(".tmp"):
            raise PermissionError(13, "Permission denied")
        return real_unlink(self, *a, **k)

    monkeypatch.setattr(Path, "write_bytes", refuse_write)
    monkeypatch.setattr(Path, "unlink", refuse_unlink)
    code = main(["tickets", "--report", str(tmp_path / "r" / "kv-audit-report.json"), "--sink", "csv",
                 "--out", str(tmp_path / "ro.csv")])
    assert code == 2 and "Permission denied" in capsys.readouterr().err


def test_a_manifest_that_is_a_directory_is_exit_2(tmp_path, capsys):
    snap = write_snapshot(tmp_path / "snap", basic_tables())
    (snap / "manifest.json").mkdir()
    assert main(["audit", "--snapshot", str(snap), "--out", str(tmp_path / "out")]) == 2
    assert "manifest.json is not a file" in capsys.readouterr().err


@pytest.mark.parametrize("levels", [300, 1_000, 10_000])
def test_deeply_nested_tags_do_not_crash_the_writers(tmp_path, levels, capsys):
    row = json.dumps(vault_row(tags={"deep": "DEEP"})).replace('"DEEP"', '{"k":' * levels + '"x"' + "}" * levels)
    snap = write_snapshot(tmp_path / "snap", basic_tables(vaults=[row, vault_row("kv2", rbac=False)]))
    code = main(["audit", "--snapshot", str(snap), "--out", str(tmp_path / "out")])
    report = json.loads((tmp_path / "out" / "kv-audit-report.json").read_text())
    assert (tmp_path / "out" / "kv-audit-report.xlsx").stat().st_size > 0
    if levels <= 1_024:  # parsed (orjson reads 1,024 levels), then cut at MAX_DEPTH
        assert code in (0, 1)
        vault = next(v for v in report["vaults"] if v["name"] == "kv1")
        value, depth = vault["tags"]["deep"], 1
        while isinstance(value, dict):
            value, depth = value["k"], depth + 1
        assert value == DEEP_MARKER and depth <= MAX_DEPTH
    else:  # too deep for the parser: that row is a gap naming file and line, the others are audited
        assert code == 3
        (gap,) = report["run"]["gaps"]
        assert gap["file"].endswith("vaults.jsonl") and gap["line"] == 1 and "nested too deeply" in gap["reason"]
        assert [v["name"] for v in report["vaults"]] == ["kv2"]


def test_deep_values_in_memory_are_cut_too():
    estate = load_estate(RawSnapshot(tables=basic_tables(vaults=[vault_row(tags={"t": deep(5_000)})])))
    (vault,) = estate.vaults
    assert json.dumps(vault.tags)  # no RecursionError


def test_yaml_aliases_are_refused_fast(tmp_path, capsys):
    laughs = tmp_path / "kv-audit.yaml"
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    laughs.write_text("\n".join(lines) + "\n")
    assert main(["audit", "--demo", "--config", str(laughs), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{laughs}:2" in err and "aliases" in err


def test_config_file_size_is_limited(tmp_path, capsys):
    big = tmp_path / "kv-audit.yaml"
    big.write_text("# " + "x" * (1 << 20) + "\n")
    assert main(["audit", "--demo", "--config", str(big), "--out", str(tmp_path / "out")]) == 2
    assert "at most" in capsys.readouterr().err


def test_deeply_nested_config_is_exit_2(tmp_path, capsys):
    nested = tmp_path / "kv-audit.json"
    nested.write_text('{"thresholds": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert main(["audit", "--demo", "--config", str(nested), "--out", str(tmp_path / "out")]) == 2
    assert "nested too deeply" in capsys.readouterr().err


def test_docs_contract_has_exit_4():
    ours = (ROOT / "docs" / "contracts" / "cli.md").read_text()
    assert (ROOT / "docs" / "contracts" / "README.md").read_text().startswith("# Product contracts")  # source noted
    assert "`4` internal error" in ours and "A traceback never" in ours
