"""LocalFolderSink: all files or none, never a partial file under a final name."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from audit_function.sinks import local as sinks
from audit_function.errors import SinkError
from audit_function.sinks.local import LocalFolderSink

from tests.function.helpers import previous_of, sample_files, sample_report

JSON, XLSX = "kv-audit-report.json", "kv-audit-report.xlsx"


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_publish_writes_every_file_and_nothing_else(tmp_path: Path):
    out = tmp_path / "reports" / "nested"
    report = sample_report()
    files = sample_files(report)

    published = LocalFolderSink(out).publish(files, report)

    assert listing(out) == files
    assert published == [str(out / XLSX), str(out / JSON)]  # JSON last
    previous, doc = previous_of(LocalFolderSink(out)), json.loads(files[JSON])
    assert previous.run == doc["run"] and set(previous.first_seen) == {f["fingerprint"] for f in doc["findings"]}


def test_load_previous_without_a_report(tmp_path: Path):
    assert previous_of(LocalFolderSink(tmp_path)) is None
    (tmp_path / JSON).write_text("[1, 2]")
    with pytest.raises(SinkError, match="not a JSON object"):
        previous_of(LocalFolderSink(tmp_path))


def test_failure_while_writing_keeps_previous_report(tmp_path: Path, monkeypatch):
    sink = LocalFolderSink(tmp_path)
    old = sample_report("run-old")
    sink.publish(sample_files(old), old)
    before = listing(tmp_path)

    real_fsync, calls = os.fsync, []

    def flaky_fsync(fd):
        calls.append(fd)
        if len(calls) == 2:  # the second file's data
            raise OSError(28, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(sinks.os, "fsync", flaky_fsync)
    new = sample_report("run-new")
    with pytest.raises(SinkError, match="No space left on device"):
        sink.publish(sample_files(new), new)

    assert listing(tmp_path) == before  # no temp file left, no final file replaced


def test_failure_between_renames_rolls_back(tmp_path: Path, monkeypatch):
    sink = LocalFolderSink(tmp_path)
    old = sample_report("run-old")
    sink.publish(sample_files(old), old)
    before = listing(tmp_path)

    real_replace, renames = os.replace, []

    def flaky_replace(src, dst):
        if str(src).endswith(".tmp") and ".bak." not in str(src):
            renames.append(dst)
            if len(renames) == 2:  # XLSX already swapped in, the JSON rename fails
                raise OSError(5, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(sinks.os, "replace", flaky_replace)
    new = sample_report("run-new")
    with pytest.raises(SinkError):
        sink.publish(sample_files(new), new)

    assert listing(tmp_path) == before  # XLSX restored from its backup
    assert previous_of(sink).run["id"] == "run-old"


def test_first_publish_failing_leaves_an_empty_folder(tmp_path: Path, monkeypatch):
    real_replace, count = os.replace, []

    def flaky_replace(src, dst):
        count.append(dst)
        if len(count) == 2:
            raise OSError(5, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(sinks.os, "replace", flaky_replace)
    report = sample_report()
    with pytest.raises(SinkError):
        LocalFolderSink(tmp_path).publish(sample_files(report), report)
    assert listing(tmp_path) == {}


@pytest.mark.parametrize("name", ["../escape.json", "sub/dir.json", ".hidden", ""])
def test_file_names_must_be_plain(tmp_path: Path, name: str):
    with pytest.raises(SinkError, match="plain names"):
        LocalFolderSink(tmp_path / "out").publish({name: b"{}"}, sample_report())
    assert not (tmp_path / "out").exists()


def test_nothing_to_publish_is_an_error(tmp_path: Path):
    with pytest.raises(SinkError, match="nothing to publish"):
        LocalFolderSink(tmp_path).publish({}, sample_report())
