"""Big tables made in runs by forked processes (reports/xlsx_runs.py, reports/xlsx_parts.py).

The workbook must be the one a single process writes: every part of the archive byte for byte
(apart from the modification time in docProps/core.xml), every CRC right, the summary tally the
same, and a run whose process fails or would not fit on the first page written by the parent.
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reports.xlsx_parts as parts
from audit_function.engine import findings as store_module
from audit_function.vocabulary import AuditResult
from reports.summary_tables import Tally
from reports.xlsx_report import XlsxWriter
from tests.reports import factory_xlsx as make

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="runs need fork")


@given(st.binary(max_size=300), st.binary(max_size=300), st.integers(0, 2**32 - 1))
@settings(max_examples=300, deadline=None)
def test_crc32_combine_is_the_crc_of_the_concatenation(a, b, seed):
    assert parts.crc32_combine(zlib.crc32(a, seed), zlib.crc32(b), len(b)) == zlib.crc32(a + b, seed)


def test_crc32_combine_of_long_data():
    a, b = os.urandom(1 << 16), os.urandom((1 << 20) + 7)
    assert parts.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)
    assert parts.crc32_combine(zlib.crc32(a), zlib.crc32(b""), 0) == zlib.crc32(a)


@pytest.mark.parametrize("count,processes,expected", [
    (0, 4, [(0, 0)]), (10, 4, [(0, 10)]), (40, 4, [(0, 20), (20, 40)]), (100, 4, [(0, 25), (25, 50), (50, 75), (75, 100)]),
    (99, 2, [(0, 50), (50, 99)]), (100, 1, [(0, 100)]),
])
def test_runs_are_contiguous_and_big_enough(count, processes, expected):
    assert parts.runs(count, processes, min_rows=20) == expected


def _estate(vaults: int = 60, per_vault: int = 7, with_links: bool = True) -> AuditResult:
    """Enough rows for several runs once MIN_RUN_ROWS is small; long wrapped text and empty cells too."""
    vs = [make.vault(f"kv-{i:03d}", sub=i % 3, model="accessPolicy" if i % 2 else "rbac") for i in range(vaults)]
    findings, access, plans = [], [], []
    for i, v in enumerate(vs):
        for k in range(per_vault):
            rule = make.ALL_RULES[(i + k) % len(make.ALL_RULES)]
            f = make.finding(rule, v, i * per_vault + k, principal=f"{k:08d}-0000-0000-0000-00000000000{k % 10}",
                             message=("a long message that wraps " * (k % 5)) or None, owner=f"team-{i % 4}",
                             suppressed=bool(k % 3 == 0), status="new", firstSeen="2026-11-24T10:00:00Z")
            if not with_links or k % 4 == 0:
                f["vaultId"] = None   # a grant finding: no vault link
            findings.append(f)
            access.append(make.access_row(v, f"p-{k}", source="accessPolicy" if k % 2 else "roleAssignment"))
        plans.append({"vaultId": v["id"], "vaultName": v["name"], "readiness": "needs-assignments",
                      "reasons": [f"reason {i}"],
                      "entries": [{"principalId": f"p-{e}", "proposedRoles": ["Key Vault Secrets User"],
                                   "excess": [], "commands": [f"az role assignment create --n {e}"] * (e % 3)}
                                  for e in range(i % 4)]})
    return AuditResult(report=make.report(vs, findings, migration=plans), access=access)


def _entries(data: bytes) -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None   # every entry's CRC-32 checks
    return {info.filename: archive.read(info.filename) for info in archive.infolist()
            if info.filename != "docProps/core.xml"}


def _both(result, monkeypatch, processes: int = 3, **options) -> tuple[dict, dict]:
    monkeypatch.setattr(parts, "MIN_RUN_ROWS", 25)
    alone = _entries(XlsxWriter(workers=1, **options).render(result))
    runs = _entries(XlsxWriter(workers=processes, **options).render(result))
    return alone, runs


def test_a_workbook_made_in_runs_is_the_one_process_workbook(monkeypatch):
    made = []
    start = parts.start

    def counted(make_run, handle):
        made.append(handle)
        return start(make_run, handle)

    monkeypatch.setattr("reports.xlsx_runs.start", counted)
    alone, runs = _both(_estate(), monkeypatch)
    assert len(made) >= 6   # Findings, Vaults, Access and Migration were each cut in runs
    assert alone.keys() == runs.keys()
    assert [name for name in alone if alone[name] != runs[name]] == []


def test_links_stop_by_row_whichever_process_writes_the_row(monkeypatch):
    alone, runs = _both(_estate(), monkeypatch, max_links=30)
    assert alone == runs
    sheet = runs["xl/worksheets/sheet3.xml"].decode()   # Findings (Summary is sheet 1, Fix first 2)
    assert sheet.count("<hyperlink ") <= 30


def test_a_table_longer_than_a_sheet_is_written_by_one_process(monkeypatch):
    alone, runs = _both(_estate(vaults=20), monkeypatch, max_rows=60)
    assert any(name.endswith("sheet9.xml") for name in runs)   # continuation sheets exist
    assert alone == runs


def test_a_failed_run_is_written_by_the_parent(monkeypatch):
    parent = os.getpid()
    from reports import xlsx_rows

    original = xlsx_rows.vault_row

    def failing(vault, *args):
        if os.getpid() != parent and vault["name"] == "kv-050":
            raise RuntimeError("a run process failed")
        return original(vault, *args)

    monkeypatch.setattr("reports.xlsx_report.vault_row", failing)
    result = _estate(vaults=80, per_vault=2)
    alone, runs = _both(result, monkeypatch)
    assert alone == runs


def test_a_run_process_that_cannot_start_is_written_by_the_parent(monkeypatch):
    def no_fork(make_run, handle):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr("reports.xlsx_runs.start", no_fork)
    alone, runs = _both(_estate(vaults=40), monkeypatch)
    assert alone == runs


def test_runs_read_findings_from_spools_on_disk(monkeypatch, tmp_path):
    """The engine's store: several spool files per (severity, rule), read by forked processes at once."""
    monkeypatch.setattr(store_module, "SPOOL_BYTES", 2_000)   # spools move to files early
    result = _estate(vaults=50, per_vault=6)
    listed = result.report["findings"]
    stores = []
    for tag in ("a", "b"):   # two parts, as two worker processes leave them
        folder = tmp_path / tag
        folder.mkdir()
        s = store_module.FindingStore(directory=str(folder), tag=tag)
        half = listed[: len(listed) // 2] if tag == "a" else listed[len(listed) // 2:]
        for f in half:
            s._add(dict(f))
        stores.append(s.export(str(folder), tag))
    store = store_module.FindingStore()
    for exported in stores:
        store.absorb(exported)
    ordered = list(store)
    result.report["findings"] = ordered
    alone, _ = _both(result, monkeypatch, processes=1)
    result.report["findings"] = store
    _, runs = _both(result, monkeypatch)
    assert alone == runs


def test_tally_extend_is_adding_one_by_one():
    findings = [{"severity": s, "ruleId": r, "owner": o, "subscriptionId": sub, "suppressed": n % 2 == 0}
                for n, (s, r, o, sub) in enumerate(
                    [("high", "a", None, "S1"), ("low", "b", "x", None), ("high", "c", "y", "s2"),
                     ("medium", "a", "x", "S1"), ("low", "d", None, "s3"), ("high", "a", "z", "s2")])]
    whole, first, second = Tally(), Tally(), Tally()
    for f in findings:
        whole.add(f)
    for f in findings[:2]:
        first.add(f)
    for f in findings[2:]:
        second.add(f)
    first.extend(second)
    for name in ("severity", "rule", "owner", "subscription"):
        assert getattr(first, name).values == getattr(whole, name).values
        assert list(getattr(first, name).codes) == list(getattr(whole, name).codes)
    assert list(first.suppressed) == list(whole.suppressed)


@pytest.mark.parametrize("processes", [1, 3])
def test_spools_this_process_wrote_and_never_read_are_read_in_full(monkeypatch, processes):
    """A spool past SPOOL_BYTES is a file with the last writes still in Python's buffer: reading it
    at explicit offsets must flush it first, or the table loses its last rows."""
    monkeypatch.setattr(store_module, "SPOOL_BYTES", 3_000)
    monkeypatch.setattr(parts, "MIN_RUN_ROWS", 25)
    result = _estate(vaults=40, per_vault=3)
    findings, ordered, access = store_module.FindingStore(), store_module.FindingStore(), store_module.Spool()
    for f in result.report["findings"]:
        findings._add(dict(f))
        ordered._add(dict(f))
    for row in result.access:
        access.append(row)
    listed = {**result.report, "findings": list(ordered)}   # report order, from a store of its own
    reference = _entries(XlsxWriter(workers=1).render(AuditResult(report=listed, access=list(result.access))))
    spooled = AuditResult(report={**result.report, "findings": findings}, access=access)
    assert _entries(XlsxWriter(workers=processes).render(spooled)) == reference


def test_a_render_that_fails_leaves_no_sheet_half_written(monkeypatch):
    """The error comes out as it is; no sheet's row writer is left to write into torn-down streams
    when the collector finds it (that printed "Exception ignored ..." at exit)."""
    import gc
    import sys

    def broken(vault, *args):
        raise RuntimeError("a row could not be made")

    monkeypatch.setattr("reports.xlsx_report.vault_row", broken)
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with pytest.raises(RuntimeError, match="a row could not be made"):
        XlsxWriter(workers=1).render(_estate(vaults=5, per_vault=2))
    gc.collect()
    assert unraisable == []
