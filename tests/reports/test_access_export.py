"""The access export (format ``access``): the Access sheet's rows as gzip-compressed JSON lines."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone

import orjson

from audit_function.pipeline.run import AuditOptions, run_audit
from audit_function.sinks.local import LocalFolderSink
from reports import writer_for
from reports.access_export import FILENAME, gzip_lines

WHEN = datetime(2026, 11, 23, 6, tzinfo=timezone.utc)


def _audit(formats, workers=1, sink=None):
    return run_audit(AuditOptions(source="demo", formats=formats, workers=workers, run_id="r"),
                     sink, clock=lambda: WHEN)


def _rows(data: bytes) -> list[dict]:
    return [orjson.loads(line) for line in gzip.decompress(data).splitlines()]


def test_access_format_writes_the_access_sheet_rows():
    outcome = _audit(("json", "access"))
    rows = _rows(outcome.files[FILENAME].read_all())
    assert rows == list(outcome.result.access) and len(rows) > 20
    # one row per vault x principal x source; both models, every source kind the demo has
    assert {r["source"] for r in rows} >= {"accessPolicy", "roleAssignment", "eligibleAssignment"}
    assert {r["permissionModel"] for r in rows} == {"rbac", "accessPolicy"}
    keys = [(r["vaultId"], r["principalId"], r["source"], r["assignmentId"]) for r in rows]
    vault_ids = {v["id"] for v in outcome.result.report["vaults"]}
    assert {r["vaultId"] for r in rows} <= vault_ids
    assert all(r["dataActions"] for r in rows if r["source"] != "accessPolicy")
    assert len(keys) == len(rows)


def test_same_rows_as_the_spreadsheet_and_with_workers():
    with_xlsx = list(_audit(("json", "xlsx")).result.access)
    exported = _rows(_audit(("access",), workers=2).files[FILENAME].read_all())
    assert exported == with_xlsx


def test_deterministic_bytes_and_render_equals_stream():
    first, second = _audit(("access",)), _audit(("access",))
    data = first.files[FILENAME].read_all()
    assert data == second.files[FILENAME].read_all()
    assert writer_for("access").render(first.result) == data
    assert data[:2] == b"\x1f\x8b"


def test_large_input_streams_in_chunks():
    rows = [{"vaultId": f"/v/{n}", "principalId": "p" * 40, "n": n} for n in range(30_000)]
    chunks = list(gzip_lines(rows))
    assert len(chunks) > 1
    assert [orjson.loads(line) for line in gzip.decompress(b"".join(chunks)).splitlines()] == rows
    assert gzip.decompress(b"".join(gzip_lines([]))) == b""


def test_published_atomically_with_the_report(tmp_path):
    out = tmp_path / "out"
    outcome = _audit(("json", "access"), sink=LocalFolderSink(out))
    assert sorted(p.name for p in out.iterdir()) == sorted([FILENAME, "kv-audit-report.json", "kv-audit-state.json.gz"])
    assert _rows((out / FILENAME).read_bytes()) == list(outcome.result.access)
