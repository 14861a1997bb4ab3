"""Live collection from Azure Resource Graph into a snapshot (docs/contracts/snapshot.md).

Public API:

- :class:`LiveScope` ``(management_groups=(), subscriptions=())``; both empty = every subscription
  the identity can read.
- :func:`collect_snapshot` ``(scope, *, credential=None, endpoint=None, cloud="public",
  connection_verify=None, progress=None, time_budget_s=None, sleep=time.sleep, clock=time.monotonic,
  directory=True, graph_endpoint=None) -> RawSnapshot`` with tables subscriptions, management_groups,
  role_definitions, vaults, role_assignments, lighthouse_delegations, resource_groups, from ARM
  (:mod:`audit_function.collect.arm_authorization`) role_eligibilities and deny_assignments, and, when
  Microsoft Graph answers, principals (:mod:`audit_function.collect.graph`). Unreadable scopes are manifest gaps (``complete: false``);
  errors that stop collection raise :class:`audit_function.errors.CollectionError`. Directory data
  is optional and never a gap: the manifest's ``coverage`` list holds
  ``{"source": "directory", "state": "collected" | "partial" | "not collected", "note"}``,
  ``directoryData`` says whether principals.jsonl was written, and ``directory`` holds the counts
  (``requested``, ``resolved``, ``deleted``, ``notFound`` ids, ``unresolved``, ``membershipsUnknown``).
- :func:`write_snapshot` ``(raw, out_dir, *, gzip=False)``: atomic ``<table>.jsonl[.gz]`` + manifest.json.

``progress(event, **fields)`` is called once per page at most, with events:
``start`` (endpoint, scopes), ``table`` (table, state="start"|"done", rows when done),
``page`` (table, scope, page, rows, total), ``wait`` (reason="quota"|"throttled"|"retry", seconds),
``retry`` (attempt, error), ``page_size`` (table, top), ``split`` (table, scopes),
``gap`` (table, scope, reason), ``done`` (requests, seconds, complete), ``principals`` (text
"principals resolved N of M", resolved, of, phase="names"|"memberships"|"done", done).
"""

from audit_function.collect.collector import collect_snapshot
from audit_function.collect.scope import LiveScope
from audit_function.collect.writer import write_snapshot

__all__ = ["LiveScope", "collect_snapshot", "write_snapshot"]
