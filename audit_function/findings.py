"""Where findings go while the audit runs: spooled, in report order, counted on the way in.

A large estate yields millions of findings (one per vault and principal that can grant itself
access, for example). Held as dicts they would need gigabytes; here each finding is encoded once
(orjson) into a per-(severity, rule) spool that stays in memory while small and moves to a
temporary file when large. The engine adds findings vault by vault in vault order, so every
spool is already in report order (severity, rule, vault, subject) and reading the spools one
after the other gives the sorted report without a global sort.

Decorators (suppressions, week-over-week status) run on each finding as it is added, so what is
stored is final. Reports small enough to hold (``materialize_limit``) become a plain list.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable, Iterator

import orjson

from rules.base import SEVERITIES

SPOOL_BYTES = 16 << 20
_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def sort_key(f: dict) -> tuple:
    """Report order: severity, rule, vault, then assignment and subject within the vault."""
    return (_RANK.get(f["severity"], 9), f["ruleId"], (f["vaultId"] or "").lower(),
            (f["assignmentId"] or "").lower(), f["subject"])


def _within_vault(f: dict) -> tuple:
    return ((f["assignmentId"] or "").lower(), f["subject"])


class FindingStore:
    """Findings in report order; iterate for dicts, :meth:`lines` for the encoded JSON."""

    def __init__(self, decorators: tuple[Callable[[dict], None], ...] = ()) -> None:
        self.decorators = decorators
        self._spools: dict[tuple[int, str], tempfile.SpooledTemporaryFile] = {}
        self._count = 0
        self.by_severity: Counter = Counter()
        self.by_rule: Counter = Counter()
        self.by_subscription: Counter = Counter()
        self.per_vault: dict[str, Counter] = {}

    def __len__(self) -> int:
        return self._count

    def add_vault(self, findings: list[dict]) -> None:
        """All findings of one vault-level rule for one vault (any order)."""
        findings.sort(key=_within_vault)
        for f in findings:
            self._add(f)

    def add_sorted(self, findings: list[dict]) -> None:
        """Findings of an estate-level rule (any order; sorted here)."""
        findings.sort(key=sort_key)
        for f in findings:
            self._add(f)

    def _add(self, f: dict) -> None:
        for decorate in self.decorators:
            decorate(f)
        key = (_RANK.get(f["severity"], 9), f["ruleId"])
        spool = self._spools.get(key)
        if spool is None:
            spool = self._spools[key] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, prefix="kv-audit-findings-")
        spool.write(orjson.dumps(f))
        spool.write(b"\n")
        self._count += 1
        severity = f["severity"]
        self.by_severity[severity] += 1
        self.by_rule[f["ruleId"]] += 1
        self.by_subscription[f["subscriptionId"] or "(none)"] += 1
        if f["vaultId"]:
            counter = self.per_vault.get(f["vaultId"].lower())
            if counter is None:
                counter = self.per_vault[f["vaultId"].lower()] = Counter()
            counter[severity] += 1

    def lines(self) -> Iterator[bytes]:
        """Each finding as one encoded JSON object (no newline), in report order."""
        for key in sorted(self._spools):
            spool = self._spools[key]
            spool.seek(0)
            for line in spool:
                yield line.rstrip(b"\n")
            spool.seek(0, 2)

    def __iter__(self) -> Iterator[dict]:
        loads = orjson.loads
        for line in self.lines():
            yield loads(line)

    def __bool__(self) -> bool:
        return self._count > 0

    def close(self) -> None:
        for spool in self._spools.values():
            spool.close()
        self._spools.clear()


class Spool:
    """Report elements (e.g. migration plans) encoded as they are made, read back in order."""

    def __init__(self) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, prefix="kv-audit-spool-")
        self._count = 0

    def append(self, item: dict) -> None:
        self._file.write(orjson.dumps(item))
        self._file.write(b"\n")
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def lines(self) -> Iterator[bytes]:
        self._file.seek(0)
        for line in self._file:
            yield line.rstrip(b"\n")
        self._file.seek(0, 2)

    def __iter__(self) -> Iterator[dict]:
        loads = orjson.loads
        for line in self.lines():
            yield loads(line)
