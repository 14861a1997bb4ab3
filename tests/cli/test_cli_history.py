"""``kv-audit diff`` and ``kv-audit tickets`` through argparse, as cli.py will wire them."""

from __future__ import annotations

import argparse
import copy
import csv
import io
import json

import pytest

from audit_function.cli.history import register
from tests.history.factory import SUB_A, SUB_B, finding, report, vault

A = vault("kv-a", SUB_A)
B = vault("kv-b", SUB_B)
F1 = finding("public-network-open", A)
F2 = finding("no-private-endpoint", B)


def run(*argv) -> int:
    parser = argparse.ArgumentParser(prog="kv-audit")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.handler(args)


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


def write(tmp_path, name, doc):
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


def reports(tmp_path):
    old = report("w1", "2025-03-03T06:00:00Z", [A, B], copy.deepcopy([F1, F2]))
    new = report("w2", "2025-03-10T06:00:00Z", [A, B], copy.deepcopy([F2]),
                 gaps=[{"scope": f"/subscriptions/{SUB_B}", "table": "vaults", "reason": "x"}])
    return write(tmp_path, "old.json", old), write(tmp_path, "new.json", new)


def test_diff_text_and_json(tmp_path, capsys):
    old, new = reports(tmp_path)
    assert run("diff", old, new) == 0
    text = capsys.readouterr().out
    assert "new 0, persisting 1, resolved 1, unverified 0" in text
    assert "Resolved (1)" in text and "kv-a" in text
    assert run("diff", old, new, "--format", "json") == 0
    diff = json.loads(capsys.readouterr().out)
    assert [r["fingerprint"] for r in diff["resolved"]] == [F1["fingerprint"]]
    assert diff["to"]["complete"] is False


def test_diff_input_errors_exit_2_saying_what_and_where(tmp_path, capsys):
    old, _ = reports(tmp_path)
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "findings": [\n    oops\n  ]\n}\n')
    assert run("diff", old, str(broken)) == 2
    assert f"{broken}:3: not valid JSON" in capsys.readouterr().err
    assert run("diff", old, str(tmp_path / "missing.json")) == 2
    assert "missing.json: cannot read the report" in capsys.readouterr().err
    not_report = write(tmp_path, "list.json", [1, 2])
    assert run("diff", not_report, old) == 2
    assert "list.json: not a kv-audit JSON report" in capsys.readouterr().err


def test_tickets_csv_to_stdout_and_to_a_file(tmp_path, capsys):
    _, new = reports(tmp_path)
    assert run("tickets", "--report", new, "--sink", "csv") == 0
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert [r["fingerprint"] for r in rows] == [F2["fingerprint"]]
    assert "export 1" in captured.err
    out = tmp_path / "t.csv"
    assert run("tickets", "--report", new, "--sink", "csv", "--out", str(out)) == 0
    assert out.read_text().startswith("summary,description,priority")


def test_tickets_github_with_config_file_dry_run_and_auth_error(tmp_path, capsys, github,
                                                                monkeypatch):
    _, new = reports(tmp_path)
    config = tmp_path / "kv.yaml"
    config.write_text(f"tickets:\n  sink: github\n  github:\n    repository: contoso/security\n"
                      f"    apiUrl: {github.api_url}\n")
    monkeypatch.setenv("GITHUB_TOKEN", github.token)
    assert run("tickets", "--report", new, "--config", str(config), "--dry-run") == 0
    assert "would create" in capsys.readouterr().out and github.issues == {}

    record = tmp_path / "actions.json"
    assert run("tickets", "--report", new, "--config", str(config), "--out", str(record)) == 0
    assert len(github.open_issues()) == 1
    assert json.loads(record.read_text())["counts"] == {"create": 1}

    monkeypatch.setenv("GITHUB_TOKEN", "revoked")
    assert run("tickets", "--report", new, "--config", str(config)) == 2
    err = capsys.readouterr().err
    assert "github: authentication failed (HTTP 401)" in err and "GITHUB_TOKEN" in err


def test_tickets_usage_errors_exit_2(tmp_path, capsys, monkeypatch):
    _, new = reports(tmp_path)
    assert run("tickets", "--report", new) == 2
    assert "choose a sink with --sink" in capsys.readouterr().err
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    assert run("tickets", "--report", new, "--sink", "github", "--repo", "o/r") == 2
    assert "set GITHUB_TOKEN" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("tickets:\n  sink: github\n  colseResolved: true\n")
    assert run("tickets", "--report", new, "--config", str(bad)) == 2
    assert f"{bad}:3: tickets: unknown key 'colseResolved'" in capsys.readouterr().err
