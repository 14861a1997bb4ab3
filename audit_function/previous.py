"""Reading the previous JSON report for week-over-week status, without holding all of it.

Week-over-week needs two things from the previous report: for every finding, its fingerprint and
``firstSeen`` (to mark this run's findings ``persisting`` and carry ``firstSeen`` forward); and for
the few that are gone now, their brief fields and last evidence (the ``resolved`` and
``unverified`` lists). A report in kv-audit's own layout (header ``{"schemaVersion"...``, one
finding per line) is therefore read in two passes over its bytes: the first keeps only
fingerprint -> firstSeen (a few dozen bytes per finding), the second, at the end of the run,
re-reads the lines of the findings that are gone. Any other JSON layout is parsed whole.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Iterator

import orjson

HEADER = b'{\n "schemaVersion": '
_SECTIONS = {b' "findings": [\n': "findings", b' "unverified": [\n': "unverified", b' "vaults": [\n': "vaults"}
_KEEP = ("fingerprint", "ruleId", "severity", "title", "vaultId", "vaultName", "subscriptionId", "resourceGroup",
         "principalId", "assignmentId", "firstSeen", "lastSeen", "suppressed", "status", "evidence",
         "principalName", "owner")
_FP = b'  {"fingerprint":"'
_FIRST = b'"firstSeen":"'


class PreviousReportError(ValueError):
    """The previous report is not a kv-audit JSON report."""


class PreviousIndex:
    """What week-over-week needs from the previous report (see the module docstring).

    ``positions``: fingerprint -> position, ``firsts[position]``: its firstSeen (so a run can mark
    what it saw in a bytearray, cheap to pass between processes); ``last_seen``: fingerprint ->
    when it was last observed, for the findings that differ from ``started`` (the previous run's
    start); ``details(fingerprints)``: those findings' fields and evidence.
    """

    def __init__(self, run: dict, first_seen: dict, last_seen: dict, details: Callable[[set], dict],
                 schema: str | None = None) -> None:
        self.run = run                              # the previous report's run section
        self.schema = schema                        # its schemaVersion (None: not stated)
        self.started = run.get("startedAt")
        self.positions = {fp: n for n, fp in enumerate(first_seen)}
        self.firsts = list(first_seen.values())
        self.last_seen = last_seen
        self.details = details
        self.subscriptions: set[str] = set()       # lower-cased subscription ids of its vaults

    @property
    def first_seen(self) -> dict:
        """fingerprint -> firstSeen (built on demand)."""
        return dict(zip(self.positions, self.firsts))

    @classmethod
    def from_report(cls, report: dict | None) -> PreviousIndex:
        """The index of a report already in memory (``--previous FILE`` of another layout, tests)."""
        report = report or {}
        started = (report.get("run") or {}).get("startedAt")
        known: dict[str, dict] = {}
        first, last = {}, {}
        # Findings left unverified last time were not observed then: they keep their own lastSeen.
        for finding in report.get("unverified") or []:
            fp = finding.get("fingerprint")
            known[fp], last[fp] = finding, finding.get("lastSeen")
            first[fp] = finding.get("firstSeen") or finding.get("lastSeen")
        for finding in report.get("findings") or []:
            fp = finding.get("fingerprint")
            known[fp] = finding
            last.pop(fp, None)
            first[fp] = finding.get("firstSeen") or started
        schema = report.get("schemaVersion")
        index = cls(report.get("run") or {}, first, last, lambda fps: {fp: known[fp] for fp in fps if fp in known},
                    schema if isinstance(schema, str) else None)
        index.subscriptions = {_subscription(v.get("id")) for v in report.get("vaults") or []
                               if isinstance(v, dict)} - {None}
        return index


def read_previous_chunks(reopen: Callable[[], Iterable[bytes]]) -> PreviousIndex:
    """The index of a report read from byte chunks; ``reopen()`` gives the chunks again (pass two)."""
    lines = _lines_of_chunks(iter(reopen()))
    first, second = next(lines, b""), next(lines, b"")
    if not (first + second).startswith(HEADER):   # not kv-audit's own layout: parse it whole
        doc = _whole(first + second + b"".join(lines))
        if "findings" not in doc or "run" not in doc:
            raise PreviousReportError("not a kv-audit JSON report (no 'run' and 'findings')")
        _check_whole(doc)
        return PreviousIndex.from_report(doc)
    run, started, summary = None, None, None
    first_seen: dict[str, str] = {}
    last_seen: dict[str, str] = {}
    subscriptions: set[str] = set()
    counted = {"findings": 0, "closed": 0, "last": b""}
    for section, line in _sections(_chain(first, second, lines), counted):
        if section in ("run", "summary"):
            value = _element(line, section)
            if section == "summary":
                summary = value
                continue
            run = value
            started = run.get("startedAt")
            continue
        if not (line.startswith(b"{") and line.endswith(b"}")):
            raise PreviousReportError(f"a {section} entry is cut or is not a JSON object (truncated or edited?)")
        if section == "vaults":
            sub = _subscription(line[7:7 + 80].decode("utf-8", "replace")) if line.startswith(b'{"id":"') else None
            if sub:
                subscriptions.add(sub)
            continue
        fp, seen = _fingerprint_and_first_seen(line)
        if not isinstance(fp, str):
            raise PreviousReportError(f"a {section} entry has no fingerprint")
        if section == "unverified":
            item = _element(line, "unverified")
            last_seen[fp] = item.get("lastSeen")
            first_seen[fp] = sys.intern(item.get("firstSeen") or item.get("lastSeen") or "")
        else:
            last_seen.pop(fp, None)
            first_seen[fp] = sys.intern(seen or started or "")
    if run is None:
        raise PreviousReportError("previous report has no run section")
    _check_complete(counted, summary)

    def details(fingerprints: set) -> dict:
        found = {}
        if not fingerprints:
            return found
        for section, line in _sections(_lines_of_chunks(iter(reopen()))):
            if section in ("findings", "unverified") and _fingerprint_and_first_seen(line)[0] in fingerprints:
                try:  # read again at the end of the run: a line that no longer parses is left out
                    item = orjson.loads(line)
                    found[item["fingerprint"]] = {k: item[k] for k in _KEEP if k in item}
                except (ValueError, KeyError, TypeError):
                    continue
        return found

    version = re.match(rb'\s*"([^"]*)"', (first + second)[len(HEADER):])
    index = PreviousIndex(run, first_seen, last_seen, details, version.group(1).decode() if version else None)
    index.subscriptions = subscriptions
    return index


def _element(line: bytes, section: str) -> dict:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as err:
        raise PreviousReportError(f"the {section} section is cut or not JSON ({err})") from None
    if not isinstance(value, dict):
        raise PreviousReportError(f"the {section} section is not a JSON object")
    return value


def _check_complete(counted: dict, summary: dict | None) -> None:
    """A report in our layout ends with ``}`` and has as many findings as its summary says."""
    if counted["last"].strip() != b"}" or counted["closed"] < 1:
        raise PreviousReportError("the report is truncated (it does not end with its closing brace)")
    expected = (summary or {}).get("findings")
    if isinstance(expected, int) and expected != counted["findings"]:
        raise PreviousReportError(f"the summary counts {expected} findings but {counted['findings']} were read "
                                  "(truncated or edited)")


def _check_whole(doc: dict) -> None:
    if not isinstance(doc.get("run"), dict) or not isinstance(doc.get("findings"), list):
        raise PreviousReportError("not a kv-audit JSON report ('run' is not an object or 'findings' not a list)")
    for section in ("findings", "unverified"):
        items = doc.get(section) or []
        if not isinstance(items, list) or not all(isinstance(f, dict) and isinstance(f.get("fingerprint"), str)
                                                  for f in items):
            raise PreviousReportError(f"'{section}' holds an entry that is not a finding with a fingerprint")


def _subscription(vault_id) -> str | None:
    if isinstance(vault_id, str) and vault_id[:15].lower() == "/subscriptions/":
        return vault_id[15:].split("/", 1)[0].lower() or None
    return None


def read_previous(data: bytes) -> PreviousIndex:
    return read_previous_chunks(lambda: (data,))


def _sections(lines: Iterator[bytes], counted: dict | None = None) -> Iterator[tuple[str, bytes]]:
    """('run' / 'summary', its JSON) and (section, JSON of one element) for vaults, findings and
    unverified; ``counted`` (if given) receives the findings seen, closed sections, the last line."""
    section = None
    counted = counted if counted is not None else {"findings": 0, "closed": 0, "last": b""}
    for line in lines:
        if line.strip():
            counted["last"] = line
        if section is not None:
            if line.startswith(b" ]"):
                section = None
                counted["closed"] += 1
            else:
                if section == "findings":
                    counted["findings"] += 1
                yield section, line.strip().rstrip(b",")
            continue
        section = _SECTIONS.get(line)
        if section is None and line.startswith(b' "run": '):
            yield "run", line[len(b' "run": '):].strip().rstrip(b",")
        elif section is None and line.startswith(b' "summary": '):
            yield "summary", line[len(b' "summary": '):].strip().rstrip(b",")


def _fingerprint_and_first_seen(element: bytes) -> tuple[str, str | None]:
    """Sliced out of the encoded element when it is in our layout (fast), parsed otherwise."""
    try:
        if element.startswith(_FP[2:]) and element[48:49] == b'"':
            fp = element[16:48].decode()
            at = element.rfind(_FIRST)
            seen = element[at + len(_FIRST):element.index(b'"', at + len(_FIRST))].decode() if at >= 0 else None
            return fp, seen
        item = orjson.loads(element)
    except (UnicodeDecodeError, ValueError) as err:  # orjson.JSONDecodeError is a ValueError
        raise PreviousReportError(f"a finding entry is not valid JSON ({err})") from None
    if not isinstance(item, dict):
        raise PreviousReportError("a finding entry is not a JSON object")
    return item.get("fingerprint"), item.get("firstSeen")


def _chain(*parts):
    *heads, tail = parts
    yield from heads
    yield from tail


def _lines_of_chunks(chunks) -> Iterator[bytes]:
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
