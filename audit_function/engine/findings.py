"""Where findings go while the audit runs: spooled, in report order, counted on the way in.

A large estate yields millions of findings (one per vault and principal that can grant itself
access, for example). Held as dicts they would need gigabytes; here each finding is encoded once
(orjson) into a per-(severity, rule) spool that stays in memory while small and moves to a
temporary file when large. The engine adds findings vault by vault in vault order, so every
spool is already in report order (severity, rule, vault, subject) and reading the spools one
after the other gives the sorted report without a global sort.

Markers (suppressions, week-over-week status) are asked about each finding as it is added and
return the fields it gains (``suppressed``, ``status``, ``firstSeen``…); the store adds them, so
what is stored is final. Reports small enough to hold (``materialize_limit``) become a plain list.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Iterator

import orjson

from audit_function import depth
from audit_function.vocabulary import SEVERITY_RANK as _RANK

SPOOL_BYTES = 16 << 20
#: summary.fixFirst: at most this many fingerprints (report 2)
FIX_FIRST = 25


def fix_first_key(f: dict) -> tuple:
    """Where a reviewer starts: severity, then vaults affected (most first), then fingerprint."""
    affected = f.get("affected")
    vaults = affected["vaults"] if affected else (1 if f.get("vaultId") else 0)
    return (_RANK.get(f["severity"], 9), -vaults, f["fingerprint"])


def _top(candidates: list) -> list:
    return sorted(candidates)[:FIX_FIRST]


def fix_first_findings(report: dict, limit: int = FIX_FIRST) -> list[dict]:
    """The findings ``summary.fixFirst`` names, in its order (one pass, stopping when all are found)."""
    wanted = list((report.get("summary") or {}).get("fixFirst") or [])[:limit]
    found: dict[str, dict] = {}
    if wanted:
        for finding in report.get("findings") or ():
            if finding.get("fingerprint") in wanted:
                found[finding["fingerprint"]] = finding
                if len(found) == len(wanted):
                    break
    return [found[fp] for fp in wanted if fp in found]


def _entry(item: dict) -> bytes:
    """One element as it stands in the JSON report's one-per-line lists (see reports/json_report.py)."""
    return b"  " + depth.dumps(item) + b",\n"


def json_list_body(segments_chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Stored elements as a JSON list body: the last element's trailing comma dropped."""
    held = b""
    for chunk in segments_chunks:
        held += chunk
        if len(held) > 2:      # keep the last two bytes back: they may be the final separator
            yield held[:-2]
            held = held[-2:]
    if held:
        assert held == b",\n", "spooled element without its separator"
        yield b"\n"


def sort_key(f: dict) -> tuple:
    """Report order: severity, rule, vault, then assignment and subject within the vault."""
    return (_RANK.get(f["severity"], 9), f["ruleId"], (f["vaultId"] or "").lower(),
            (f["assignmentId"] or "").lower(), f["subject"])


def _within_vault(f: dict) -> tuple:
    return ((f["assignmentId"] or "").lower(), f["subject"])


class _Segments:
    """An ordered list of byte spools read back as one; only the last one is written to.

    With ``path`` (worker processes), the spool is that named file from the start, so handing it
    to the parent costs a flush, not a copy.
    """

    def __init__(self, path: str | None = None) -> None:
        self.parts: list = []
        self._own = None
        self.path = path

    def write(self, data: bytes) -> None:
        if self._own is None:
            if self.path:
                self._own = open(self.path, "w+b")  # noqa: SIM115 - closed by close()
            else:
                self._own = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, prefix="kv-audit-spool-")
            self.parts.append(self._own)
        self._own.write(data)

    def attach(self, path: str) -> None:
        """Append the content of a finished file (e.g. written by a worker process)."""
        self._own = None
        self.parts.append(open(path, "rb"))  # noqa: SIM115 - closed by close()

    def lines(self) -> Iterator[bytes]:
        for part in self.parts:
            part.seek(0)
            for line in part:
                yield line[2:-2]   # stored as b"  " + JSON + b",\n" (see _entry)
            part.seek(0, 2)

    def share(self) -> None:
        """Make every part a flushed file, so that forked processes can read it with ``items``."""
        for part in self.parts:
            rollover = getattr(part, "rollover", None)   # a SpooledTemporaryFile still in memory
            if rollover is not None:
                rollover()
            part.flush()

    def chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        """The stored bytes as they are, in large chunks."""
        for part in self.parts:
            part.seek(0)
            while chunk := part.read(size):
                yield chunk
            part.seek(0, 2)

    def dump(self, path: str) -> None:
        if self.path == path and len(self.parts) == 1:
            self.parts[0].flush()
            return
        with open(path, "wb") as handle:
            for part in self.parts:
                part.seek(0)
                while chunk := part.read(1 << 20):
                    handle.write(chunk)
                part.seek(0, 2)

    def close(self) -> None:
        for part in self.parts:
            part.close()
        self.parts.clear()
        self._own = None


def _pread_lines(fd: int, skip: int, size: int = 1 << 20) -> Iterator:
    """The lines of file ``fd`` (without their newline) after the first ``skip``, read at explicit
    offsets (the file offset, shared with forked processes, never moves); then, last, the number
    of lines still to skip when the file ended (an int, 0 unless it had ``skip`` lines or fewer).
    Skipped lines are only counted, a chunk at a time."""
    offset, rest = 0, b""
    while chunk := os.pread(fd, size, offset):
        offset += len(chunk)
        data = rest + chunk if rest else chunk
        if skip:
            ends = data.count(b"\n")
            if skip >= ends:
                skip -= ends
                rest = data[data.rfind(b"\n") + 1:] if ends else data
                continue
        lines = data.split(b"\n")
        rest = lines.pop()
        if skip:
            del lines[:skip]
            skip = 0
        yield from lines
    yield skip


class FindingStore:
    """Findings in report order; iterate for dicts, :meth:`lines` for the encoded JSON.

    ``decorators``: objects with ``mark(finding) -> fields`` (and, for parallel runs,
    ``state(path)``, a file it may write its spool to, and ``merge(state)``), asked about each
    finding as it is added, in order.
    """

    def __init__(self, decorators: tuple = (), directory: str | None = None, tag: str = "") -> None:
        self.decorators = decorators
        self.directory, self.tag = directory, tag
        self._spools: dict[tuple[int, str], _Segments] = {}
        self._count = 0
        self.by_severity: Counter = Counter()
        self.by_rule: Counter = Counter()
        self.by_subscription: Counter = Counter()
        self.per_vault: dict[str, Counter] = {}
        self._fix_first: list[tuple] = []

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
        for decorator in self.decorators:
            f.update(decorator.mark(f))
        key = (_RANK.get(f["severity"], 9), f["ruleId"])
        spool = self._spools.get(key)
        if spool is None:
            spool = self._spools[key] = _Segments(self._path_for(key))
        spool.write(_entry(f))
        self._count += 1
        severity = f["severity"]
        self.by_severity[severity] += 1
        self.by_rule[f["ruleId"]] += 1
        self.by_subscription[f["subscriptionId"] or "(none)"] += 1
        if not f.get("suppressed") and "fingerprint" in f:
            self._fix_first.append(fix_first_key(f))
            if len(self._fix_first) > 40 * FIX_FIRST:
                self._fix_first = _top(self._fix_first)
        if f["vaultId"]:
            counter = self.per_vault.get(f["vaultId"].lower())
            if counter is None:
                counter = self.per_vault[f["vaultId"].lower()] = Counter()
            counter[severity] += 1

    # -- parallel runs: a worker exports, the parent absorbs, in vault order ----------------------
    def _path_for(self, key: tuple[int, str]) -> str | None:
        return f"{self.directory}/{self.tag}-findings-{key[0]}-{key[1]}.jsonl" if self.directory else None

    def export(self, directory: str, tag: str) -> dict:
        files = {}
        for n, (key, spool) in enumerate(self._spools.items()):
            path = spool.path or f"{directory}/{tag}-findings-{n}.jsonl"
            spool.dump(path)
            files[key] = path
        return {"files": files, "count": self._count, "by_severity": self.by_severity, "by_rule": self.by_rule,
                "by_subscription": self.by_subscription, "per_vault": self.per_vault,
                "fix_first": _top(self._fix_first),
                "decorators": [d.state(f"{directory}/{tag}-marker-{n}") for n, d in enumerate(self.decorators)]}

    def absorb(self, part: dict) -> None:
        for key, path in part["files"].items():
            self._spools.setdefault(key, _Segments()).attach(path)
        self._count += part["count"]
        self.by_severity.update(part["by_severity"])
        self.by_rule.update(part["by_rule"])
        self.by_subscription.update(part["by_subscription"])
        self.per_vault.update(part["per_vault"])
        self._fix_first = _top(self._fix_first + part["fix_first"])
        for decorator, state in zip(self.decorators, part["decorators"]):
            decorator.merge(state)

    def fix_first(self) -> list[str]:
        """Fingerprints of the findings a reviewer should start with (unsuppressed, ranked)."""
        return [key[2] for key in _top(self._fix_first)]

    def lines(self) -> Iterator[bytes]:
        """Each finding as one encoded JSON object (no newline), in report order."""
        for key in sorted(self._spools):
            yield from self._spools[key].lines()

    def share(self) -> None:
        """Before forking readers of :meth:`items` (see ``_Segments.share``)."""
        for spool in self._spools.values():
            spool.share()

    def items(self, start: int, stop: int) -> Iterator[dict]:
        """Findings ``start`` to ``stop`` (report order). Every spool is flushed to its file first
        (:meth:`share`); a process about to fork readers calls :meth:`share` before forking, so that
        no buffered bytes are left for a forked reader to flush a second time. Several processes
        can then read at once."""
        self.share()
        return _items(start, stop, (self._spools[key] for key in sorted(self._spools)))

    def json_body(self) -> Iterator[bytes]:
        """The findings as the body of the report's JSON list, in large chunks."""
        return json_list_body(chunk for key in sorted(self._spools) for chunk in self._spools[key].chunks())

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

    def __init__(self, path: str | None = None) -> None:
        self._segments = _Segments(path)
        self._count = 0

    def append(self, item: dict) -> None:
        self._segments.write(_entry(item))
        self._count += 1

    def append_encoded(self, encoded: bytes) -> None:
        """An element already encoded as JSON (flat, so no depth check is needed)."""
        self._segments.write(b"  " + encoded + b",\n")
        self._count += 1

    def export(self, directory: str, tag: str | None = None) -> dict:
        """``directory``/``tag``: where to put the elements (``tag`` None: ``directory`` is the file)."""
        path = self._segments.path or (directory if tag is None else f"{directory}/{tag}-spool.jsonl")
        self._segments.dump(path)
        return {"path": path, "count": self._count}

    def absorb(self, part: dict) -> None:
        self._segments.attach(part["path"])
        self._count += part["count"]

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def lines(self) -> Iterator[bytes]:
        return self._segments.lines()

    def json_body(self) -> Iterator[bytes]:
        return json_list_body(self._segments.chunks())

    def share(self) -> None:
        self._segments.share()

    def items(self, start: int, stop: int) -> Iterator[dict]:
        """Elements ``start`` to ``stop``, as :meth:`FindingStore.items` (flushed first)."""
        self.share()
        return _items(start, stop, (self._segments,))

    def __iter__(self) -> Iterator[dict]:
        loads = orjson.loads
        for line in self.lines():
            yield loads(line)


def _items(start: int, stop: int, segments) -> Iterator[dict]:
    """Decoded elements ``start`` to ``stop`` of ``segments`` (shared first) read one after the other."""
    left, skip, loads = stop - start, start, orjson.loads
    if left <= 0:
        return
    for segment in segments:
        for part in segment.parts:
            for line in _pread_lines(part.fileno(), skip):
                if type(line) is int:
                    skip = line
                    break
                yield loads(line[2:-1])   # stored as b"  " + JSON + b",\n" (see _entry)
                left -= 1
                if not left:
                    return
