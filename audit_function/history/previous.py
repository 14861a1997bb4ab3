"""What week over week knows about the previous run, read from its state file or from its report.

The previous run is normally known through its state file (``kv-audit-state.json.gz``, see
:mod:`audit_function.history.state`). ``--previous FILE`` may also name a JSON report (and a folder that
has a report but no state yet, from before the state file existed, is read through its report).

Either is read as a stream of records, one finding at a time, keeping only what the comparison
needs: in a first pass, fingerprint -> ``firstSeen`` (a few dozen bytes per finding); at the end of
the run, a second pass picks out the brief fields of the findings that are gone now (the
``resolved`` and ``unverified`` lists). A report in kv-audit's own layout (one top-level key per
line, one list element per line) is parsed line by line, each line as a JSON value of its own;
a report in any other layout is parsed whole.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator

import orjson

#: the fields a previous finding keeps for the ``resolved`` / ``unverified`` lists
KEEP = ("fingerprint", "ruleId", "severity", "title", "subject", "vaultId", "vaultName", "subscriptionId",
        "resourceGroup", "principalId", "assignmentId", "firstSeen", "lastSeen", "suppressed", "status",
        "evidence", "principalName", "owner")
_LISTS = ("findings", "unverified", "vaults")


class PreviousReportError(ValueError):
    """The previous report or state file is not kv-audit's, or is cut or corrupt."""


class PreviousIndex:
    """What week over week needs from the previous run (see the module docstring).

    ``positions``: fingerprint -> position, ``firsts[position]``: its firstSeen (so a run can mark
    what it saw in a bytearray, cheap to pass between processes); ``last_seen``: fingerprint ->
    when it was last observed, for the findings that differ from ``started`` (the previous run's
    start); ``details(fingerprints)``: those findings' brief fields; ``trend``: the per-run counts
    the previous state kept (oldest first); ``source``: ``state`` or ``report``.
    """

    def __init__(self, run: dict, first_seen: dict, last_seen: dict, details: Callable[[set], dict],
                 schema: str | None = None, *, subscriptions: set | None = None, trend: list | None = None,
                 source: str = "report") -> None:
        self.run = run                              # the previous run section (id, startedAt, ...)
        self.schema = schema                        # the report schemaVersion it was made with
        self.started = run.get("startedAt")
        self.positions = {fp: n for n, fp in enumerate(first_seen)}
        self.firsts = list(first_seen.values())
        self.last_seen = last_seen
        self.details = details
        self.subscriptions: set[str] = set(subscriptions or ())   # lower-cased subscription ids
        self.trend = list(trend or ())
        self.source = source

    @property
    def first_seen(self) -> dict:
        """fingerprint -> firstSeen (built on demand)."""
        return dict(zip(self.positions, self.firsts))

    @classmethod
    def from_report(cls, report: dict | None) -> PreviousIndex:
        """The index of a report already in memory (``diff``, tests)."""
        report = report or {}
        _check_whole(report) if report else None
        records = list(_whole_records(report))
        schema = report.get("schemaVersion")
        return index_of(lambda: iter(records), report.get("run") or {}, schema if isinstance(schema, str) else None,
                        subscriptions=subscriptions_of(report.get("vaults")),
                        trend=(report.get("summary") or {}).get("trend"))


def index_of(records: Callable[[], Iterator[tuple[str, dict]]], run: dict, schema: str | None, **extra) -> PreviousIndex:
    """The index of ``records()``: (``findings`` | ``unverified``, finding) pairs, readable twice."""
    started = run.get("startedAt")
    first_seen: dict[str, str] = {}
    last_seen: dict[str, str] = {}
    for section, item in records():
        fp = item["fingerprint"]
        for key in ("firstSeen", "lastSeen"):
            if not isinstance(item.get(key), (str, type(None))):
                raise PreviousReportError(f"{section} entry {fp[:32]!r}: {key} is not a date-time string")
        if section == "unverified":   # not observed last time: it keeps its own lastSeen
            last_seen[fp] = item.get("lastSeen")
            first_seen[fp] = sys.intern(item.get("firstSeen") or item.get("lastSeen") or "")
        else:
            last_seen.pop(fp, None)
            first_seen[fp] = sys.intern(item.get("firstSeen") or started or "")

    def details(fingerprints: set) -> dict:
        found: dict[str, dict] = {}
        if fingerprints:
            for _section, item in records():
                if item["fingerprint"] in fingerprints:
                    found[item["fingerprint"]] = {k: item[k] for k in KEEP if k in item}
        return found

    return PreviousIndex(run, first_seen, last_seen, details, schema, **extra)


# -- a report ----------------------------------------------------------------------------------


def read_report_chunks(reopen: Callable[[], Iterable[bytes]]) -> PreviousIndex:
    """The index of a JSON report read from byte chunks; ``reopen()`` gives the chunks again."""
    lines = lines_of_chunks(iter(reopen()))
    first, second = next(lines, b""), next(lines, b"")
    if first != b"{\n" or not second.startswith(b' "schemaVersion": '):   # another layout: parse it whole
        doc = _whole(first + second + b"".join(lines))
        _check_whole(doc)
        return PreviousIndex.from_report(doc)
    header: dict = {}
    subscriptions: set[str] = set()
    counted = {"findings": 0}
    for section, item in _report_lines(chain_chunks(first, second, lines), header, counted, subscriptions):
        pass   # the first pass checks the whole file and collects the header
    run = header.get("run")
    if not isinstance(run, dict):
        raise PreviousReportError("the report has no run section")
    expected = (header.get("summary") or {}).get("findings")
    if isinstance(expected, int) and expected != counted["findings"]:
        raise PreviousReportError(f"the summary counts {expected} findings but {counted['findings']} were read "
                                  "(truncated or edited)")

    def records() -> Iterator[tuple[str, dict]]:
        for section, item in _report_lines(lines_of_chunks(iter(reopen())), {}, {"findings": 0}, None):
            if section in ("findings", "unverified"):
                yield section, item

    schema = header.get("schemaVersion")
    return index_of(records, run, schema if isinstance(schema, str) else None, subscriptions=subscriptions,
                    trend=(header.get("summary") or {}).get("trend"))


def _report_lines(lines: Iterator[bytes], header: dict, counted: dict, subscriptions: set | None):
    """(section, element) for the list sections of a report in kv-audit's layout; every other
    top-level line is parsed as ``{key: value}`` into ``header``."""
    section = None
    closed = False
    for line in lines:
        text = line.strip()
        if not text:
            continue
        if section is not None:
            if text in (b"]", b"],"):
                section = None
                continue
            if section == "other":   # migration, resolved: not needed here
                continue
            item = _json(text.rstrip(b","), section)
            if not isinstance(item, dict):
                raise PreviousReportError(f"a {section} entry is not a JSON object")
            if section == "vaults":
                if subscriptions is not None:
                    subscriptions.update(subscriptions_of([item]))
                continue
            if not isinstance(item.get("fingerprint"), str):
                raise PreviousReportError(f"a {section} entry has no fingerprint")
            counted["findings"] += section == "findings"
            yield section, item
        elif text == b"}":
            closed = True
        elif text == b"{":
            continue
        elif text.endswith(b"["):
            key = _json(text[:-1].rstrip().rstrip(b":"), "key")
            section = key if key in _LISTS else "other"
        else:
            header.update(_json(b"{" + text.rstrip(b",") + b"}", "top-level"))
    if section is not None or not closed:
        raise PreviousReportError("the report is truncated (it does not end with its closing brace)")


def _json(text: bytes, what: str):
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as err:
        raise PreviousReportError(f"a {what} line is cut or not JSON ({err})") from None


def _whole_records(report: dict) -> Iterator[tuple[str, dict]]:
    for section in ("unverified", "findings"):   # findings last: seen now beats unverified before
        for item in report.get(section) or ():
            yield section, item


def _check_whole(doc: dict) -> None:
    if not isinstance(doc.get("run"), dict) or not isinstance(doc.get("findings"), list):
        raise PreviousReportError("not a kv-audit JSON report (no 'run' object and 'findings' list)")
    for section in ("findings", "unverified"):
        items = doc.get(section) or []
        if not isinstance(items, list) or not all(isinstance(f, dict) and isinstance(f.get("fingerprint"), str)
                                                  for f in items):
            raise PreviousReportError(f"'{section}' holds an entry that is not a finding with a fingerprint")


def subscriptions_of(vaults) -> set[str]:
    out = set()
    for vault in vaults or ():
        vault_id = vault.get("id") if isinstance(vault, dict) else None
        if isinstance(vault_id, str) and vault_id[:15].lower() == "/subscriptions/":
            sub = vault_id[15:].split("/", 1)[0].lower()
            if sub:
                out.add(sub)
    return out


def _whole(data: bytes) -> dict:
    try:
        doc = orjson.loads(data)
    except RecursionError:
        raise PreviousReportError("previous report is nested too deeply to be a kv-audit report") from None
    except orjson.JSONDecodeError as err:
        raise PreviousReportError(f"previous report is not valid JSON: {err}") from err
    if not isinstance(doc, dict):
        raise PreviousReportError("previous report is not a JSON object")
    return doc


def chain_chunks(*parts):
    *heads, tail = parts
    yield from heads
    yield from tail


def lines_of_chunks(chunks) -> Iterator[bytes]:
    rest = b""
    for chunk in chunks:
        data = rest + chunk
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            yield data[start:end + 1]
            start = end + 1
        rest = data[start:]
    if rest:
        yield rest
