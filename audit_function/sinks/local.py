"""The local-folder sink (the CLI's): every file of a run written into one folder atomically, as a set."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Mapping

from audit_function.errors import SinkError
from audit_function.sinks.files import PinnedFile, checked as _checked, file_chunks  # noqa: F401 - file_chunks re-exported
from audit_function.sinks.publish import Reopen, check_names
from audit_function.vocabulary import StreamedFile, as_chunks


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class LocalFolderSink:
    """Writes every file of a run into ``out_dir`` atomically, as a set.

    Each file is written to a temporary name in the same folder and fsynced; only when all are
    written are they renamed over the final names (the JSON last). If a rename fails part-way,
    the files already replaced are rolled back from hard-link backups, so the folder holds
    either the previous report set or the new one.
    """

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.out_dir = Path(out_dir)

    def open_previous(self, name: str) -> Reopen | None:
        path = self.out_dir / name
        try:
            return PinnedFile(path) if hasattr(os, "pread") else _checked(path)
        except FileNotFoundError:
            return None  # first run
        except OSError as err:
            raise SinkError(f"{path}: cannot read the previous run's file: {err}") from err

    def where(self, name: str) -> str:
        return str(self.out_dir / name)

    def publish(self, files: Mapping[str, bytes], report: dict) -> list[str]:
        order = check_names(files)
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise SinkError(f"{self.out_dir}: cannot create the output folder: {err}") from err
        temps: dict[str, Path] = {}
        try:
            for name in order:
                temps[name] = self._write_temp(name, files[name])
            self._swap_in(order, temps)
        except OSError as err:
            raise SinkError(f"{self.out_dir}: report not written ({err}); previous report left as it was") from err
        finally:
            for tmp in temps.values():
                _remove_quietly(tmp)
        _fsync_dir(self.out_dir)
        return [str(self.out_dir / name) for name in order]

    def _write_temp(self, name: str, data: bytes | StreamedFile) -> Path:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.out_dir)
        try:
            os.fchmod(fd, 0o666 & ~_umask())   # a report is an ordinary file, not a 0600 temp file
            with os.fdopen(fd, "wb") as fh:
                for chunk in as_chunks(data):
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            _remove_quietly(Path(tmp))
            raise
        return Path(tmp)

    def _swap_in(self, order: list[str], temps: dict[str, Path]) -> None:
        backups: dict[str, Path | None] = {}
        try:
            for name in order:
                final = self.out_dir / name
                backups[name] = self._backup(final)
                os.replace(temps[name], final)
        except OSError:
            self._roll_back(backups)
            raise
        finally:
            for backup in backups.values():
                if backup is not None:
                    _remove_quietly(backup)

    def _backup(self, final: Path) -> Path | None:
        if not final.exists():
            return None
        backup = final.with_name(f".{final.name}.{os.getpid()}.bak.tmp")
        _remove_quietly(backup)
        try:
            os.link(final, backup)
        except OSError:  # a file system without hard links: fall back to a copy
            shutil.copy2(final, backup)
        return backup

    def _roll_back(self, backups: dict[str, Path | None]) -> None:
        """Undo the renames done so far (best effort; the original error is what gets raised)."""
        for name, backup in backups.items():
            final = self.out_dir / name
            try:
                if backup is None:
                    _remove_quietly(final)
                else:
                    os.replace(backup, final)
            except OSError:
                pass


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError:
        pass


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
