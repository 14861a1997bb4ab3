"""Writing a snapshot directory atomically: everything goes to a temporary directory next to the
target, which is renamed into place only when complete."""

from __future__ import annotations

import gzip as gz
import json
import os
import shutil
import tempfile
from pathlib import Path

from audit_function.errors import CollectionError
from audit_function.snapshot.load import RawSnapshot


def _is_snapshot_dir(path: Path) -> bool:
    return (path / "manifest.json").is_file() or any(path.glob("*.jsonl")) or any(path.glob("*.jsonl.gz"))


def _write_table(path: Path, rows: list, compress: bool) -> None:
    raw = open(path, "wb")
    try:
        handle = gz.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) if compress else raw
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
            handle.write(b"\n")
        if compress:
            handle.close()
        raw.flush()
        os.fsync(raw.fileno())
    finally:
        raw.close()


def write_snapshot(raw: RawSnapshot, out_dir: Path, *, gzip: bool = False) -> None:
    """Write ``<table>.jsonl`` (or ``.jsonl.gz``) per table plus ``manifest.json`` into ``out_dir``.

    An existing ``out_dir`` is replaced only if it is empty or holds a snapshot; anything else is
    refused with CollectionError. No half-written snapshot ever appears under ``out_dir``.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        if not out_dir.is_dir():
            raise CollectionError(f"{out_dir}: exists and is not a directory; choose another --out")
        if any(out_dir.iterdir()) and not _is_snapshot_dir(out_dir):
            raise CollectionError(f"{out_dir}: directory is not empty and does not hold a snapshot "
                                  "(no manifest.json or *.jsonl); refusing to overwrite it")
    parent = out_dir.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=parent))
    try:
        suffix = ".jsonl.gz" if gzip else ".jsonl"
        for table, rows in raw.tables.items():
            _write_table(tmp / f"{table}{suffix}", rows, gzip)
        manifest = dict(raw.manifest or {})
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                           encoding="utf-8")
        os.chmod(tmp, 0o755)
        if not out_dir.exists():
            os.rename(tmp, out_dir)
            return
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=parent))
        os.rename(out_dir, old / "snapshot")
        try:
            os.rename(tmp, out_dir)
        except BaseException:
            os.rename(old / "snapshot", out_dir)  # put the previous snapshot back
            raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
