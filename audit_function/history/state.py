"""The state file: what the next run needs to tell new from persisting from resolved.

``kv-audit-state.json.gz`` is published beside the report, in the same atomic set (the local
folder's temp-then-rename, the Blob sink's dated copy then ``latest/``), so an interrupted or
failed run leaves last week's state as it was. It is read first by the next run; last week's
report is not needed any more (``--previous FILE`` still accepts one).

Layout (gzip of one JSON document, one record per line so it is read as a stream)::

    {"header": {"kind": "kv-audit-state", "stateVersion": 1, "reportSchema": "2.0",
                "run": {"id", "startedAt", "complete"}, "subscriptions": [...],
                "trend": [{"runAt", "high", "medium", "low", "new", "resolved"}, ...],
                "counts": {"findings": N, "unverified": M}},
    "findings": [
    {"fingerprint", "firstSeen", "severity", "ruleId", "vaultId", "subject", ...brief fields},
    ...
    ]}

Every finding of the run is a record; the findings the run carried as ``unverified`` are records
too, with ``status: "unverified"`` and their own ``lastSeen``. ``trend`` keeps the last
:data:`TREND_RUNS` runs (counts of unsuppressed findings), oldest first, this run included; the
report shows the same list as ``summary.trend``.

A state that is cut (gzip stream without its end, missing closing line, fewer records than its
header counts) or not JSON is refused with :class:`~audit_function.history.previous.PreviousReportError`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator

import orjson

from audit_function.vocabulary import SEVERITIES
from audit_function.history.previous import (PreviousIndex, PreviousReportError, chain_chunks, index_of,
                                             lines_of_chunks, read_report_chunks, subscriptions_of)

STATE_FILE = "kv-audit-state.json.gz"
KIND = "kv-audit-state"
STATE_VERSION = 1
TREND_RUNS = 12
GZIP_MAGIC = b"\x1f\x8b"
#: always written (the report 2 contract's minimum), then the brief fields when set
CORE = ("fingerprint", "firstSeen", "severity", "ruleId", "vaultId", "subject")
BRIEF = ("title", "vaultName", "subscriptionId", "resourceGroup", "principalId", "assignmentId",
         "principalName", "owner", "suppressed")
_OPEN, _CLOSE = b'"findings": [\n', b"]}\n"


def trend_entry(run_at: str | None, open_by_severity: dict, new: int, resolved: int) -> dict:
    """One run's line of the trend: counts of unsuppressed findings."""
    return {"runAt": run_at, **{s: int(open_by_severity.get(s, 0)) for s in SEVERITIES},
            "new": int(new), "resolved": int(resolved)}


def trend_with(previous: Iterable[dict] | None, entry: dict) -> list[dict]:
    """The previous runs' trend (oldest first) plus this run, at most :data:`TREND_RUNS` long."""
    kept = [dict(e) for e in previous or () if isinstance(e, dict) and e.get("runAt") != entry.get("runAt")]
    return (kept + [entry])[-TREND_RUNS:]


def record(finding: dict) -> dict:
    out = {k: finding.get(k) for k in CORE}
    for key in BRIEF:
        value = finding.get(key)
        if value is not None:
            out[key] = value
    return out


def encode_record(finding: dict, first_seen: str | None) -> bytes:
    """:func:`record` of ``finding`` with its ``firstSeen`` of this run, encoded (as it is stored)."""
    get = finding.get
    out = {"fingerprint": get("fingerprint"), "firstSeen": first_seen, "severity": get("severity"),
           "ruleId": get("ruleId"), "vaultId": get("vaultId"), "subject": get("subject")}
    for key in BRIEF:
        value = get(key)
        if value is not None:
            out[key] = value
    return orjson.dumps(out)


def state_chunks(report: dict, level: int = 1, records=None) -> Iterator[bytes]:
    """The state of ``report`` as gzip byte chunks: ``records`` (encoded state records of the
    findings, made as they were stored: see ``History.records``) or else the report's findings,
    then the report's unverified list."""
    run = report.get("run") or {}
    findings = report.get("findings") or ()
    unverified = report.get("unverified") or ()
    header = {"kind": KIND, "stateVersion": STATE_VERSION, "reportSchema": report.get("schemaVersion"),
              "run": {"id": run.get("id"), "startedAt": run.get("startedAt"), "complete": run.get("complete")},
              "subscriptions": sorted(subscriptions_of(report.get("vaults"))),
              "trend": list((report.get("summary") or {}).get("trend") or ()),
              "counts": {"findings": len(findings), "unverified": len(unverified)}}
    packer = zlib.compressobj(level, zlib.DEFLATED, 31)   # wbits 31: a gzip member
    buffer = [b'{"header": ' + orjson.dumps(header) + b",\n" + _OPEN]
    size, first = 0, True
    if records is not None and len(records) != len(findings):
        raise ValueError(f"{len(records)} state records for {len(findings)} findings")
    for line in _lines(findings, unverified, records):
        buffer.append(line if first else b",\n" + line)
        first = False
        size += len(line)
        if size >= 1 << 20:
            yield packer.compress(b"".join(buffer))
            buffer, size = [], 0
    buffer.append(b"\n" + _CLOSE if not first else _CLOSE)
    yield packer.compress(b"".join(buffer)) + packer.flush()


def _lines(findings, unverified, records) -> Iterator[bytes]:
    if records is not None:
        yield from records.lines()
    else:
        for finding in findings:
            yield orjson.dumps(record(finding))
    for finding in unverified:
        yield orjson.dumps(dict(record(finding), status="unverified", lastSeen=finding.get("lastSeen")))


# -- reading -------------------------------------------------------------------------------------


def read_state_chunks(reopen: Callable[[], Iterable[bytes]]) -> PreviousIndex:
    """The :class:`~audit_function.history.previous.PreviousIndex` of a state file given as gzip chunks."""
    header: dict = {}
    first = _state_records(reopen(), header)   # one pass builds the index and checks the whole file
    head = next(first, None)                    # reads (and checks) the header
    if header.get("reportSchema") is not None and not isinstance(header.get("reportSchema"), str):
        raise PreviousReportError("the state file's reportSchema is not a string")
    pending = [first]

    def records() -> Iterator[tuple[str, dict]]:
        items = _chain_head(head, pending.pop()) if pending else _state_records(reopen(), {})
        for item in items:
            yield ("unverified" if item.get("status") == "unverified" else "findings"), item

    subscriptions = header.get("subscriptions") or []
    trend = header.get("trend") or []
    if not isinstance(subscriptions, list) or not isinstance(trend, list):
        raise PreviousReportError("the state file's header is not kv-audit's (subscriptions, trend)")
    return index_of(records, header["run"], header.get("reportSchema"), subscriptions=set(subscriptions),
                    trend=[t for t in trend if isinstance(t, dict)], source="state")


def _chain_head(head, rest):
    if head is not None:
        yield head
    yield from rest


def _state_records(chunks: Iterable[bytes], header: dict) -> Iterator[dict]:
    """Each finding record, after checking the header; raises on a cut or corrupt file."""
    lines = lines_of_chunks(_gunzip(chunks))
    head = next(lines, b"")
    try:
        parsed = orjson.loads(head.rstrip().rstrip(b",") + b"}")
    except orjson.JSONDecodeError as err:
        raise PreviousReportError(f"the state file's header is cut or not JSON ({err})") from None
    found = parsed.get("header") if isinstance(parsed, dict) else None
    if not isinstance(found, dict) or found.get("kind") != KIND:
        raise PreviousReportError("not a kv-audit state file (its header does not say kind: kv-audit-state)")
    if found.get("stateVersion") != STATE_VERSION:
        raise PreviousReportError(f"state file version {found.get('stateVersion')!r} is not {STATE_VERSION}")
    if not isinstance(found.get("run"), dict) or not isinstance(found.get("counts"), dict):
        raise PreviousReportError("the state file's header has no run or counts")
    header.update(found)
    if next(lines, b"") != _OPEN:
        raise PreviousReportError("the state file has no findings list after its header")
    seen, closed = 0, False
    for line in lines:
        if line == _CLOSE:
            closed = True
            continue
        if closed:
            raise PreviousReportError("the state file goes on after its closing line")
        try:
            item = orjson.loads(line.rstrip().rstrip(b","))
        except orjson.JSONDecodeError as err:
            raise PreviousReportError(f"a state record is cut or not JSON ({err})") from None
        if not isinstance(item, dict) or not isinstance(item.get("fingerprint"), str):
            raise PreviousReportError("a state record is not a finding with a fingerprint")
        seen += 1
        yield item
    counts = found["counts"]
    if not isinstance(counts, dict) or not all(isinstance(counts.get(k) or 0, int) and not isinstance(counts.get(k), bool)
                                               for k in ("findings", "unverified")):
        raise PreviousReportError("the state file's header counts are not whole numbers")
    expected = (counts.get("findings") or 0) + (counts.get("unverified") or 0)
    if not closed or seen != expected:
        raise PreviousReportError(f"the state file is truncated ({seen} of {expected} records, "
                                  f"{'closed' if closed else 'no closing line'})")


def _gunzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    unpack = zlib.decompressobj(31)
    try:
        for chunk in chunks:
            data = unpack.decompress(chunk)
            if data:
                yield data
            if unpack.eof and unpack.unused_data:
                raise PreviousReportError("the state file has bytes after its gzip stream")
        tail = unpack.flush()
    except zlib.error as err:
        raise PreviousReportError(f"the state file is not a valid gzip stream ({err})") from None
    if tail:
        yield tail
    if not unpack.eof:
        raise PreviousReportError("the state file is truncated (its gzip stream does not end)")


# -- the previous run of a sink --------------------------------------------------------------------


def load_previous(sink, report_name: str = "kv-audit-report.json") -> tuple[PreviousIndex | None, dict | None]:
    """The previous run of ``sink``: its state file, else (no state yet, or a state that cannot be
    read) its JSON report. Returns (index or None on a first run, ``run.weekOverWeek`` note or None).

    Raises :class:`~audit_function.errors.PreviousReportUnusable` when what is there cannot be read:
    the run then goes on without week over week and its report says so.
    """
    from audit_function.errors import PreviousReportUnusable

    problem = None
    source = sink.open_previous(STATE_FILE)
    if source is not None:
        try:
            return _read(source), None
        except PreviousReportError as err:
            problem = f"{sink.where(STATE_FILE)}: {err}"
    source = sink.open_previous(report_name)
    if source is None:
        if problem:
            raise PreviousReportUnusable(f"{problem} (and there is no previous report to fall back on)")
        return None, None
    try:
        index = _read(source)
    except PreviousReportError as err:
        where = f"{sink.where(report_name)}: {err}"
        raise PreviousReportUnusable(f"{problem}; {where}" if problem else where) from err
    if problem:
        return index, {"used": True, "source": "report",
                       "reason": f"{problem}; week over week was read from the previous report "
                                 f"{sink.where(report_name)} instead"}
    return index, None


def _read(source) -> PreviousIndex:
    return read_previous_chunks(source)


# -- either --------------------------------------------------------------------------------------


def read_previous_chunks(reopen: Callable[[], Iterable[bytes]]) -> PreviousIndex:
    """A state file (gzip) or a JSON report, told apart by their first bytes (here, beside the state
    reader, so that the report reader in :mod:`~audit_function.history.previous` needs nothing of this module)."""
    chunks = iter(reopen())
    consumed: list[bytes] = []
    for chunk in chunks:
        consumed.append(chunk)
        if sum(map(len, consumed)) >= 2:
            break
    pending = [chain_chunks(*consumed, chunks)]

    def again() -> Iterable[bytes]:   # the first pass goes on with the chunks already opened
        return pending.pop() if pending else reopen()

    if b"".join(consumed)[:2] == GZIP_MAGIC:
        return read_state_chunks(again)
    return read_report_chunks(again)


def read_previous(data: bytes) -> PreviousIndex:
    return read_previous_chunks(lambda: (data,))
