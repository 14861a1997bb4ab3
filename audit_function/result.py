"""What the audit hands to the writers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AuditResult:
    """The report document plus the per-vault access rows (which are not part of the JSON)."""

    report: dict
    access: tuple[dict, ...] = field(default=())
