"""Live collection from Azure Resource Graph into a snapshot (shared/spec/snapshot.md).

Public API: :class:`LiveScope`, :func:`collect_snapshot`, :func:`write_snapshot`.
"""

from audit_function.collect.collector import collect_snapshot
from audit_function.collect.scope import LiveScope
from audit_function.collect.writer import write_snapshot

__all__ = ["LiveScope", "collect_snapshot", "write_snapshot"]
