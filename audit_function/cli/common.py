"""What several commands share: the usage error, the output-folder check, the formats list."""

from __future__ import annotations

from pathlib import Path

from audit_function.errors import KvAuditError


class UsageError(KvAuditError):
    """A command line that cannot work (exit 2), found before any work is done."""


def usage(message: str) -> UsageError:
    return UsageError(message)


def out_folder(path: Path) -> None:
    """``--out`` must be a folder (or not exist yet): checked before any work is done."""
    if path.exists() and not path.is_dir():
        raise usage(f"--out {path}: is not a folder")


def formats(text: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in text.split(",") if part.strip())
