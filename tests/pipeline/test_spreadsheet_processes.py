"""The spreadsheet's big tables use as many processes as the audit may (``AuditOptions.workers``):
the CLI's ``None`` lets them run in forked processes, the Function's default ``1`` keeps them in one."""

from __future__ import annotations

import os

import pytest

import reports.xlsx_parts as parts
from audit_function.pipeline.run import AuditOptions, run_audit

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="runs need fork")


def _forks(monkeypatch, **options) -> int:
    started = []
    real = parts.start

    def counted(make, handle):
        started.append(handle)
        return real(make, handle)

    monkeypatch.setattr(parts, "MIN_RUN_ROWS", 10)   # the demo's tables are small
    monkeypatch.setattr("reports.xlsx_runs.start", counted)
    monkeypatch.setenv("KV_AUDIT_WORKERS", "2")
    outcome = run_audit(AuditOptions(source="demo", formats=("xlsx",), **options))
    assert outcome.files["kv-audit-report.xlsx"][:2] == b"PK"
    return len(started)


def test_the_function_default_writes_the_spreadsheet_in_one_process(monkeypatch):
    assert _forks(monkeypatch) == 0


def test_the_cli_lets_big_tables_run_in_forked_processes(monkeypatch):
    assert _forks(monkeypatch, workers=None) >= 2
