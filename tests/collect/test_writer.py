"""write_snapshot: files, gzip, atomic replacement and refusing to clobber other directories."""

from __future__ import annotations

import gzip
import json

import pytest

from audit_function.collect import write_snapshot
from audit_function.errors import CollectionError
from audit_function.snapshot.load import RawSnapshot

MANIFEST = {"format": "kv-audit-snapshot/1", "source": "live", "complete": True, "gaps": [],
            "tables": {"vaults": 2, "role_assignments": 0}}
VAULTS = [{"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1", "name": "kv1",
           "properties": {"accessPolicies": [], "enableRbacAuthorization": None}, "tags": {"owner": "Zoë"}},
          {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv2", "name": "kv2"}]


def raw():
    return RawSnapshot(tables={"vaults": VAULTS, "role_assignments": []}, manifest=dict(MANIFEST))


def read_jsonl(path):
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def leftovers(parent):
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def test_writes_jsonl_tables_and_manifest(tmp_path):
    out = tmp_path / "snap"
    write_snapshot(raw(), out)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "role_assignments.jsonl", "vaults.jsonl"]
    assert read_jsonl(out / "vaults.jsonl") == VAULTS
    assert (out / "role_assignments.jsonl").read_bytes() == b""
    assert json.loads((out / "manifest.json").read_text()) == MANIFEST
    assert "Zoë" in (out / "vaults.jsonl").read_text(encoding="utf-8")  # UTF-8, not \\u escapes
    assert leftovers(tmp_path) == []


def test_gzip_tables(tmp_path):
    out = tmp_path / "snap"
    write_snapshot(raw(), out, gzip=True)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "role_assignments.jsonl.gz", "vaults.jsonl.gz"]
    assert read_jsonl(out / "vaults.jsonl.gz") == VAULTS


def test_the_reader_accepts_what_the_writer_wrote(tmp_path):
    from audit_function.snapshot.load import iter_rows, table_path

    write_snapshot(raw(), tmp_path / "snap", gzip=True)
    assert [row for _, row in iter_rows(table_path(tmp_path / "snap", "vaults"))] == VAULTS


def test_replaces_an_existing_snapshot_whole(tmp_path):
    out = tmp_path / "snap"
    write_snapshot(raw(), out)
    (out / "principals.jsonl").write_text("{}\n")
    write_snapshot(raw(), out, gzip=True)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "role_assignments.jsonl.gz", "vaults.jsonl.gz"]
    assert leftovers(tmp_path) == []


def test_writes_into_an_empty_existing_directory(tmp_path):
    out = tmp_path / "snap"
    out.mkdir()
    write_snapshot(raw(), out)
    assert (out / "manifest.json").is_file()


def test_refuses_a_directory_that_is_not_a_snapshot(tmp_path):
    out = tmp_path / "reports"
    out.mkdir()
    (out / "kv-audit-report.json").write_text("{}")
    with pytest.raises(CollectionError, match="not empty and does not hold a snapshot"):
        write_snapshot(raw(), out)
    assert [p.name for p in out.iterdir()] == ["kv-audit-report.json"]
    assert leftovers(tmp_path) == []


def test_refuses_a_file(tmp_path):
    target = tmp_path / "snap"
    target.write_text("x")
    with pytest.raises(CollectionError, match="not a directory"):
        write_snapshot(raw(), target)


def test_a_failed_write_leaves_no_snapshot_and_no_temp_dir(tmp_path):
    broken = RawSnapshot(tables={"vaults": [{"id": "x", "bad": object()}]}, manifest={})
    with pytest.raises(TypeError):
        write_snapshot(broken, tmp_path / "snap")
    assert not (tmp_path / "snap").exists() and leftovers(tmp_path) == []


def test_a_failed_write_keeps_the_previous_snapshot(tmp_path):
    out = tmp_path / "snap"
    write_snapshot(raw(), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(TypeError):
        write_snapshot(RawSnapshot(tables={"vaults": [{"bad": object()}]}, manifest={}), out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert leftovers(tmp_path) == []


def test_creates_missing_parents(tmp_path):
    out = tmp_path / "a" / "b" / "snap"
    write_snapshot(raw(), out)
    assert read_jsonl(out / "vaults.jsonl") == VAULTS
