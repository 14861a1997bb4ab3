"""Where an estate comes from: the embedded demo, a saved snapshot, or a live collection.

The one resolver every command uses (``kv-audit audit``, ``plan``, ``explain`` and the Function):
:func:`open_source` turns a source kind into something :func:`~audit_function.snapshot.load.load_estate`
reads (a snapshot directory or a collected :class:`~audit_function.snapshot.load.RawSnapshot`) and the
``run.source`` description of it for the report.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from audit_function.errors import ConfigError
from audit_function.snapshot.load import RawSnapshot

SOURCES = ("demo", "snapshot", "live")


def demo_snapshot() -> Path:
    """The demo estate shipped inside the package (audit_function/data/demo/)."""
    return Path(str(resources.files("audit_function.data").joinpath("demo")))


def open_source(kind: str, snapshot: Path | RawSnapshot | None = None, *, scope=None, live: dict | None = None,
                progress=None) -> tuple[Path | RawSnapshot, dict]:
    """``(what load_estate reads, the report's run.source)`` for a source ``kind`` (one of SOURCES).

    ``scope`` (a :class:`~audit_function.collect.LiveScope`, default: everything readable) and
    ``live`` (keyword arguments of ``collect_snapshot``) are for ``live``; it collects now.
    """
    if kind == "demo":
        return demo_snapshot(), {"type": "demo"}
    if kind == "snapshot":
        if snapshot is None:
            raise ConfigError("a snapshot audit needs a snapshot directory")
        return snapshot, {"type": "snapshot", "path": str(snapshot) if not isinstance(snapshot, RawSnapshot) else None}
    if kind != "live":
        raise ConfigError(f"unknown source {kind!r} (one of {', '.join(SOURCES)})")
    from audit_function.collect import LiveScope, collect_snapshot

    scope = scope or LiveScope()
    raw = collect_snapshot(scope, progress=progress, **(live or {}))
    return raw, {"type": "live", "managementGroups": list(scope.management_groups),
                 "subscriptions": list(scope.subscriptions)}


def label(description: dict) -> str:
    """How a terminal line names the source: "the demo estate", "snapshot DIR", "a live collection"."""
    kind = description.get("type")
    if kind == "demo":
        return "the demo estate"
    if kind == "snapshot":
        return f"snapshot {description.get('path')}" if description.get("path") else "a snapshot"
    return "a live collection"
