"""Estate snapshots: the raw Resource Graph rows an audit reads (contract: docs/snapshot.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

FORMAT = "kv-audit-snapshot/1"

#: table name -> required?  (order = the order the reader needs them in)
TABLES: dict[str, bool] = {
    "subscriptions": True,
    "management_groups": False,
    "role_definitions": True,
    "principals": False,
    "vaults": True,
    "role_assignments": True,
}


@dataclass
class RawSnapshot:
    """A snapshot held in memory: what live collection produces and the reader accepts."""

    tables: dict[str, list[dict]] = field(default_factory=dict)
    manifest: dict | None = None
