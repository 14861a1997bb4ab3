"""Reading the previous JSON report for week-over-week status, without holding all of it.

Week-over-week needs, per previous finding, only the fields that identify and place it
(``history.BRIEF_FIELDS``), its ``firstSeen`` and ``suppressed``, and for the ones that turn out
resolved, their last evidence. A report in kv-audit's own layout (one finding per line) is read
line by line, keeping those fields; evidence is kept while the previous report is small
(``EVIDENCE_LIMIT`` findings), so a million-finding report costs a fraction of its size. Any
other JSON layout is parsed whole.
"""

from __future__ import annotations

import sys

import orjson

EVIDENCE_LIMIT = 200_000
_KEEP = ("fingerprint", "ruleId", "severity", "title", "vaultId", "vaultName", "subscriptionId", "resourceGroup",
         "principalId", "assignmentId", "firstSeen", "lastSeen", "suppressed", "status")
_SHARED = ("ruleId", "severity", "title", "subscriptionId", "resourceGroup", "firstSeen", "lastSeen", "status")
_SECTIONS = {b' "findings": [\n': "findings", b' "unverified": [\n': "unverified"}


class PreviousReportError(ValueError):
    """The previous report is not a kv-audit JSON report."""


def _slim(item: dict, keep_evidence: bool) -> dict:
    out = {}
    for key in _KEEP:
        value = item.get(key)
        if value is not None:
            out[key] = sys.intern(value) if key in _SHARED and isinstance(value, str) else value
    if keep_evidence:
        out["evidence"] = item.get("evidence")
    return out


def read_previous(data: bytes) -> dict:
    """``{"run": {...}, "findings": [...], "unverified": [...]}`` with slim findings."""
    if not data.startswith(b"{\n") or b'\n "findings": [\n' not in data[:1 << 24] and \
            b'\n "findings": []' not in data[:1 << 24]:
        return _whole(data)
    out: dict = {"findings": [], "unverified": []}
    section = None
    count = 0
    for line in data.splitlines(keepends=True) if len(data) < (1 << 20) else _lines(data):
        if section is not None:
            if line.startswith(b" ]"):
                section = None
                continue
            item = orjson.loads(line.rstrip(b",\n"))
            count += 1
            out[section].append(_slim(item, count <= EVIDENCE_LIMIT))
            continue
        section = _SECTIONS.get(line)
        if section is None and line.startswith(b' "run": '):
            out["run"] = orjson.loads(line[len(b' "run": '):].rstrip(b",\n"))
    if "run" not in out:
        return _whole(data)
    if count > EVIDENCE_LIMIT:
        out["evidenceOmittedAfter"] = EVIDENCE_LIMIT
    return out


def _lines(data: bytes):
    start = 0
    while True:
        end = data.find(b"\n", start)
        if end < 0:
            if start < len(data):
                yield data[start:]
            return
        yield data[start:end + 1]
        start = end + 1


def _whole(data: bytes) -> dict:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        raise PreviousReportError(f"previous report is not valid JSON: {err}") from err
    if not isinstance(doc, dict):
        raise PreviousReportError("previous report is not a JSON object")
    return doc
