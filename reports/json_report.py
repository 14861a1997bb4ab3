"""The JSON report writer: the machine interface (SIEM ingestion, tickets, diffs).

Layout: one top-level key per line, and inside ``findings``, ``vaults``, ``migration`` and
``resolved`` one element per line, so the file streams into line-oriented tools and diffs
cleanly, while each element is encoded by the C JSON encoder (fast at a million rows).
"""

from __future__ import annotations

import json

from audit_function.result import AuditResult

_LISTS_ONE_PER_LINE = ("vaults", "findings", "migration", "resolved", "unverified")


def _dump(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), allow_nan=False)


def render_document(report: dict) -> str:
    parts = []
    for key, value in report.items():
        if key in _LISTS_ONE_PER_LINE and isinstance(value, list) and value:
            body = ",\n".join("  " + _dump(item) for item in value)
            parts.append(f"{_dump(key)}: [\n{body}\n ]")
        else:
            parts.append(f"{_dump(key)}: {_dump(value)}")
    return "{\n " + ",\n ".join(parts) + "\n}\n"


class JsonWriter:
    name = "json"
    filename = "kv-audit-report.json"

    def render(self, result: AuditResult) -> bytes:
        return render_document(result.report).encode("utf-8")
