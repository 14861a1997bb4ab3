"""The migration resume log: JSON Lines, one object per step, shared with the generated script.

``{"vaultId": "<id>", "step": "assign|visible|preflight|flip|verify|rollback",
"result": "ok|failed|drift|skipped", "detail": "…", "at": "<UTC ISO>"}``

Every line is appended, flushed and fsync'ed before the next step starts, so an interrupted run leaves
at most one torn record; :func:`read` sets it aside (the next run ends that line and appends after it). A vault's
state is its last successful ``flip`` / ``verify`` / ``rollback`` line (the script reads it the same way):
``verify`` ok is finished and ``rollback`` ok is rolled back; a re-run skips both (delete a rolled-back
vault's lines to migrate it again).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from audit_function.errors import InputError

STEPS = ("assign", "visible", "preflight", "flip", "verify", "rollback")
RESULTS = ("ok", "failed", "drift", "skipped")
DEFAULT_NAME = "kv-audit-migrate.log"


@dataclass
class LogState:
    records: list[dict] = field(default_factory=list)
    torn: str | None = None      # the (last) record cut by an interrupted run, if any

    def states(self) -> dict[str, tuple[str, str]]:
        """Lower-cased vault id -> (``flipped`` | ``finished`` | ``rolled-back``, its time): the last successful
        flip / verify / rollback line wins, exactly as the generated script reads the same log."""
        out: dict[str, tuple[str, str]] = {}
        for r in self.records:
            step = r.get("step")
            if r.get("result") == "ok" and step in _STATE:
                out[str(r.get("vaultId", "")).lower()] = (_STATE[step], str(r.get("at", "")))
        return out

    def finished(self) -> set[str]:
        """Vaults migrated and verified: a re-run skips them."""
        return {k for k, (state, _at) in self.states().items() if state == "finished"}

    def rolled_back(self) -> set[str]:
        """Vaults rolled back: a re-run skips them too (as the script does) until their lines are deleted."""
        return {k for k, (state, _at) in self.states().items() if state == "rolled-back"}


_STATE = {"flip": "flipped", "verify": "finished", "rollback": "rolled-back"}


def last_assigned(records: list[dict], vault_id: str) -> float | None:
    """Epoch seconds of the vault's last ``assign``/``ok`` line (its newest role assignment), or None.

    ``at`` has whole seconds, truncated: the assignment happened within the second after it."""
    last = None
    for r in records:
        if (r.get("step"), r.get("result")) == ("assign", "ok") and str(r.get("vaultId", "")).lower() == vault_id.lower():
            try:
                last = datetime.strptime(str(r.get("at")), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
            except ValueError:
                continue
    return last


def settle_left(records: list[dict], vault_id: str, settle_s: float, wall: float) -> float:
    """Seconds still to wait before the flip: ``settle_s`` after the vault's last logged ``assign ok``
    (this run's or an interrupted earlier run's), rounded against us for the whole-second ``at``."""
    last = last_assigned(records, vault_id)
    if last is None or settle_s <= 0:
        return 0.0
    return max(0.0, settle_s - max(0.0, wall - (last + 1.0)))


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(vault_id: str, step: str, result: str, detail: str = "", at: str | None = None) -> dict:
    if step not in STEPS or result not in RESULTS:
        raise ValueError(f"bad log record {step}/{result}")
    return {"vaultId": vault_id, "step": step, "result": result, "detail": detail, "at": at or now_iso()}


def read(path: Path) -> LogState:
    """The log's records; a torn record (an unfinished JSON object) is set aside, any other bad line is an
    input error (the file is not a migration log)."""
    state = LogState()
    if not path.exists():
        return state
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError as exc:
        raise InputError(str(path), f"cannot read the migration log: {exc.strerror or exc}") from None
    if lines and lines[-1] == b"":
        lines.pop()
    for number, raw in enumerate(lines, 1):
        try:
            item = json.loads(raw.decode("utf-8"))
            if not isinstance(item, dict) or not isinstance(item.get("vaultId"), str):
                raise ValueError("not a log record")
        except (UnicodeDecodeError, ValueError):
            text = raw.decode("utf-8", "replace")
            # a record cut by an interrupted write: the start of a JSON object that never ended (the next
            # run ends that line before appending, so it may sit before later records)
            if text.lstrip().startswith("{") and not text.rstrip().endswith("}"):
                state.torn = text[:200]
                continue
            raise InputError(str(path), "not a kv-audit migration log record (JSON object with vaultId)",
                             number) from None
        state.records.append(item)
    return state


class ResumeLog:
    """Appends records durably. A torn last line is ended first, so the next record starts a line."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.state = read(self.path)
        self._needs_newline = self.path.exists() and self.path.stat().st_size > 0 and \
            not self.path.read_bytes().endswith(b"\n")

    def append(self, vault_id: str, step: str, result: str, detail: str = "") -> dict:
        item = record(vault_id, step, result, detail)
        line = json.dumps(item, ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            if self._needs_newline:
                handle.write("\n")
                self._needs_newline = False
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self.state.records.append(item)
        return item
