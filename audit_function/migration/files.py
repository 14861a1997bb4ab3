"""Writing a plan's files: each one atomically, and stale files of the previous plan removed.

Every file is written to a temporary name in its final folder and fsynced; only when all are
written are they renamed into place, so an interrupted run never leaves a truncated file under
a final name. ``kv-audit-plan.files`` lists what the plan wrote; files listed by the previous
plan that this one no longer produces (e.g. a vault that is now RBAC) are deleted afterwards, so
an old flip can never be deployed by mistake. Nothing outside that list is ever touched.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from audit_function.errors import SinkError

MANIFEST = "kv-audit-plan.files"
_SAFE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")


def _check(name: str) -> None:
    if not _SAFE.match(name) or ".." in name.split("/"):
        raise SinkError(f"refusing to write {name!r}: plan file names are plain relative paths")


def write_plan_files(out_dir: Path, files: dict[str, bytes]) -> list[Path]:
    """Write ``files`` (relative path -> bytes) under ``out_dir``; return the final paths."""
    out_dir = Path(out_dir)
    for name in files:
        _check(name)
    previous = _previous(out_dir)
    listing = "".join(f"{n}\n" for n in sorted(files)).encode()
    everything = {**files, MANIFEST: listing}
    temps: dict[str, Path] = {}
    try:
        for name, data in everything.items():
            target = out_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            temps[name] = Path(tmp)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if name.endswith(".sh"):
                os.chmod(tmp, 0o755)
            else:
                os.chmod(tmp, 0o644)
        _swap_in(out_dir, temps, sorted(everything, key=lambda n: n == MANIFEST))
    except OSError as exc:
        raise SinkError(f"{out_dir}: plan not written, the previous plan is unchanged ({exc})") from exc
    finally:
        for tmp in temps.values():
            try:
                tmp.unlink()
            except OSError:
                pass
    for stale in previous - set(everything):
        try:
            (out_dir / stale).unlink()
        except OSError:
            pass
    return [out_dir / name for name in sorted(files)]


def _swap_in(out_dir: Path, temps: dict[str, Path], order: list[str]) -> None:
    """Rename every temporary file into place, or none: a rename that fails part-way puts back the
    files already replaced (from hard-link backups) and removes the ones that are new, so a failed
    run never leaves a mix of two plans."""
    backups: dict[str, Path | None] = {}
    try:
        for name in order:
            target = out_dir / name
            backup = None
            if target.is_file():
                backup = target.with_name(f".{target.name}.{os.getpid()}.bak")
                os.link(target, backup)
            backups[name] = backup
            os.replace(temps[name], target)
            temps.pop(name)
    except OSError:
        for name, backup in backups.items():
            if name in temps:        # this one was not replaced
                if backup is not None:
                    backup.unlink(missing_ok=True)
                continue
            if backup is not None:
                os.replace(backup, out_dir / name)
            else:
                (out_dir / name).unlink(missing_ok=True)
        raise
    for backup in backups.values():
        if backup is not None:
            backup.unlink(missing_ok=True)


def _previous(out_dir: Path) -> set[str]:
    try:
        lines = (out_dir / MANIFEST).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return set()
    return {line for line in lines if _SAFE.match(line) and ".." not in line.split("/")}
