"""Live collection: page every snapshot table out of Resource Graph and say what could not be read."""

from __future__ import annotations

import time
from collections import deque
from datetime import datetime, timezone

from audit_function.collect import arm_authorization, arm_deep, clouds, graph, queries
from audit_function.collect.arg import API_VERSION, SUBSCRIPTION_LIMIT_HEADER, ArgClient, ArgError, Page
from audit_function.collect.pacing import BudgetExhausted, Pacer
from audit_function.collect.scope import TENANT, LiveScope, Unit, units_of
from audit_function.errors import CollectionError
from audit_function.snapshot.load import FORMAT, RawSnapshot

#: ARG's throttling guidance: group subscriptions, fewer than 300 per query.
SUBSCRIPTION_BATCH = 250
MANAGEMENT_GROUP_BATCH = 10
#: ARG's maximum (and default) page size.
PAGE_SIZE = 1000
#: Consecutive failures of one request before its scope becomes a gap.
MAX_THROTTLED = 10
MAX_TRANSIENT = 5
READ_TIMEOUT_S = 300.0

_REASONS = {
    "forbidden": "the identity cannot read this scope",
    "too_large": "a single row exceeds Resource Graph's 16 MB response limit",
    "too_many_subs": "more subscriptions under this scope than Resource Graph answers for in one query",
    "throttled": f"still throttled after {MAX_THROTTLED} retries",
    "transient": f"still failing after {MAX_TRANSIENT} retries",
    "bad_skip_token": "Resource Graph rejected its own $skipToken again after the query was restarted from its start",
}


def batches(units: list[Unit], size: int) -> list[tuple[Unit, ...]]:
    return [tuple(units[i:i + size]) for i in range(0, len(units), size)]


class _Run:
    """State of one collection: rows by table, gaps, counters."""

    def __init__(self, client: ArgClient, pacer: Pacer, progress, tables=queries.TABLES) -> None:
        self.client, self.pacer, self.progress = client, pacer, progress
        self.rows: dict[str, dict] = {t: {} for t in tables}
        self.loose: dict[str, list] = {t: [] for t in tables}  # rows without a string id
        self.gaps: dict[tuple[str, str], dict] = {}
        self.forbidden: dict[str, set[Unit]] = {t: set() for t in tables}
        self.requests = self.answered = 0
        self.last_error = ""

    def emit(self, event: str, **fields) -> None:
        if self.progress is not None:
            self.progress(event, **fields)

    def gap(self, unit: Unit, table: str, reason: str) -> None:
        key = (unit.scope.lower(), table)
        if key not in self.gaps:
            self.gaps[key] = {"scope": unit.scope, "table": table, "reason": reason}
            self.emit("gap", table=table, scope=unit.scope, reason=reason)

    def add_rows(self, table: str, rows: list) -> None:
        seen, loose = self.rows[table], self.loose[table]
        for row in rows:
            rid = row.get("id") if isinstance(row, dict) else None
            if isinstance(rid, str):
                seen.setdefault(rid.lower(), row)
            else:
                loose.append(row)

    def request(self, body: dict) -> Page:
        """One page, retrying 429s and transient failures; raises ArgError or BudgetExhausted."""
        throttled = transient = 0
        while True:
            self.pacer.before_request()
            left = self.pacer.remaining()
            self.requests += 1
            try:
                page = self.client.query(body, read_timeout=min(READ_TIMEOUT_S, max(5.0, left))
                                         if left is not None else None)
            except ArgError as err:
                self.last_error = str(err)
                self.pacer.observe(err.headers)
                if err.kind == "throttled" and throttled < MAX_THROTTLED:
                    throttled += 1
                    self.pacer.throttled(err.headers, throttled)
                    continue
                if err.kind == "transient" and transient < MAX_TRANSIENT:
                    transient += 1
                    self.emit("retry", attempt=transient, error=str(err))
                    self.pacer.transient(err.headers, transient)
                    continue
                raise
            self.answered += 1
            self.pacer.observe(page.headers)
            return page

    def read_batch(self, table: str, batch: tuple[Unit, ...], top: int) -> int:
        """Every page of one table for one batch of scopes; returns the page size that worked."""
        skip, pages, restarted = None, 0, False
        label = batch[0].scope if len(batch) == 1 else f"{len(batch)} {batch[0].kind} scopes"
        while True:
            try:
                page = self.request(_body(table, batch, skip, top))
            except ArgError as err:
                if err.kind == "too_large" and top > 1:
                    top = max(1, top // 2)
                    self.emit("page_size", table=table, top=top)
                    continue
                if err.kind == "bad_skip_token" and skip is not None and not restarted:
                    # CouldNotDecodeSkipToken: tokens expire; read this query again from its first page
                    # once (rows are keyed by id, so pages read twice add nothing twice)
                    restarted, skip, pages = True, None, 0
                    self.emit("restart", table=table, scope=label, error=str(err))
                    continue
                raise
            pages += 1
            self.add_rows(table, page.rows)
            self.emit("page", table=table, scope=label, page=pages, rows=len(page.rows),
                      total=page.total_records)
            if str(page.headers.get(SUBSCRIPTION_LIMIT_HEADER, "")).lower() == "true":
                for unit in batch:
                    self.gap(unit, table, "Resource Graph answered for only part of the subscriptions "
                             f"under this scope ({SUBSCRIPTION_LIMIT_HEADER}: true)")
            if page.skip_token and page.skip_token == skip:
                for unit in batch:
                    self.gap(unit, table, "Resource Graph returned the same $skipToken twice; paging stopped")
                return top
            if page.skip_token:
                skip = page.skip_token
                continue
            if page.truncated:
                for unit in batch:
                    self.gap(unit, table, "Resource Graph truncated the result without a $skipToken")
            return top

    def collect_table(self, table: str, plan: list[tuple[Unit, ...]]) -> None:
        """Read a table for every batch; a 403 batch is split until the unreadable scopes are alone."""
        self.emit("table", table=table, state="start")
        queue, top, batch = deque(plan), PAGE_SIZE, ()
        try:
            while queue:
                batch = queue.popleft()
                try:
                    top = self.read_batch(table, batch, top)
                except ArgError as err:
                    if err.kind == "forbidden" and len(batch) > 1:
                        half = len(batch) // 2
                        queue.appendleft(batch[half:])
                        queue.appendleft(batch[:half])
                        self.emit("split", table=table, scopes=len(batch))
                        continue
                    if err.kind not in _REASONS:
                        raise CollectionError(f"Resource Graph query for {table} failed at "
                                              f"{self.client.endpoint}: {err}") from None
                    if err.kind == "forbidden":
                        self.forbidden[table].add(batch[0])
                    for unit in batch:
                        self.gap(unit, table, f"{_REASONS[err.kind]} ({err})")
        except BudgetExhausted:
            for unit in [u for b in ([batch] + list(queue)) for u in b]:
                self.gap(unit, table, "time budget exhausted before this scope was read")
            raise
        finally:
            self.emit("table", table=table, state="done", rows=len(self.rows[table]) + len(self.loose[table]))

    def table_rows(self, table: str) -> list:
        keyed = self.rows[table]
        return [keyed[k] for k in sorted(keyed)] + self.loose[table]


def _body(table: str, batch: tuple[Unit, ...], skip: str | None, top: int) -> dict:
    options: dict = {"resultFormat": "objectArray", "$top": top}
    if skip:
        options["$skipToken"] = skip
    body: dict = {"query": queries.query(table)}
    kind = batch[0].kind
    if kind == "sub":
        body["subscriptions"] = [u.name for u in batch]
    elif kind == "mg":
        body["managementGroups"] = [u.name for u in batch]
    if kind != "sub":
        options["allowPartialScopes"] = True  # over ARG's subscription limit: partial answer + header, not an error
    if kind != "tenant" and table in queries.INHERITED_TABLES:
        options["authorizationScopeFilter"] = "AtScopeAboveAndBelow"  # + assignments at parent MGs and '/'
    body["options"] = options
    return body


def collect_snapshot(scope: LiveScope, *, credential=None, endpoint: str | None = None, cloud: str = "public",
                     connection_verify=None, progress=None, time_budget_s: float | None = None,
                     sleep=time.sleep, clock=time.monotonic, directory: bool = True,
                     graph_endpoint: str | None = None, deep: bool = False) -> RawSnapshot:
    """Read vaults, subscriptions, management groups, role assignments (inherited ones included),
    role definitions and resource groups (their tags name owners) from Azure Resource Graph, then (``directory``) the names of their principals
    from Microsoft Graph. Unreadable scopes become manifest gaps (complete=false); errors that stop
    collection raise CollectionError. Directory data is optional and never makes a gap: the
    manifest's ``coverage`` entry for source ``directory`` says what was read.

    ``deep`` (collect --deep): also Defender plans from Resource Graph and, per vault and Managed HSM, key and
    secret metadata and diagnostic settings from ARM (arm_deep.py)."""
    mgs, subs = units_of(scope)
    target = clouds.resolve(cloud, endpoint)
    verify = clouds.connection_verify(connection_verify)
    cred = credential if credential is not None else clouds.default_credential(target)
    client = ArgClient(cred, target.endpoint, target.token_scope, verify)
    started = clock()
    try:
        raw = _collect(client, mgs, subs, target, progress, time_budget_s, sleep, clock, deep=deep)
        _collect_arm_authorization(raw, mgs, subs, cred, target, verify, progress, sleep, clock,
                                   None if time_budget_s is None else time_budget_s - (clock() - started))
        if deep:
            arm_deep.extend_snapshot(raw, cred, target, verify, progress=progress, sleep=sleep, clock=clock,
                                     budget_s=None if time_budget_s is None else time_budget_s - (clock() - started))

        # -- directory data (Microsoft Graph): names for the principal ids of every table read above;
        #    keep it the last step so rows added by other collection steps get their names too --
        graph.add_directory(raw, enabled=directory, credential=cred, target=target, verify=verify,
                            endpoint=graph_endpoint, progress=progress, sleep=sleep, clock=clock,
                            budget_s=None if time_budget_s is None else time_budget_s - (clock() - started))
        return raw
    finally:
        client.close()
        if credential is None and hasattr(cred, "close"):
            cred.close()


def _collect_arm_authorization(raw, mgs, subs, cred, target, verify, progress, sleep, clock, budget_s) -> None:
    """role_eligibilities and deny_assignments: not in Resource Graph, listed per scope through ARM."""
    arm_authorization.extend_snapshot(raw, mgs, subs, cred, target, verify, progress=progress, sleep=sleep,
                                      clock=clock, budget_s=budget_s)


def _collect(client, mgs, subs, target, progress, time_budget_s, sleep, clock, deep: bool = False) -> RawSnapshot:
    started, collected_at = clock(), datetime.now(timezone.utc)
    pacer = Pacer(sleep=sleep, clock=clock, budget_s=time_budget_s, progress=progress)
    tables = queries.TABLES + (queries.DEEP_TABLES if deep else ())
    run = _Run(client, pacer, progress, tables)
    requested = mgs + subs
    run.emit("start", endpoint=target.endpoint, scopes=len(requested) or "tenant")

    def scoped(units: list[Unit]) -> list[tuple[Unit, ...]]:
        if not requested:
            return [(TENANT,)]
        return (batches([u for u in units if u.kind == "mg"], MANAGEMENT_GROUP_BATCH)
                + batches([u for u in units if u.kind == "sub"], SUBSCRIPTION_BATCH))

    done: set[str] = set()
    readable = requested
    try:
        for table in tables:
            if table in queries.TENANT_TABLES:
                run.collect_table(table, [(TENANT,)])
            else:
                run.collect_table(table, scoped(readable))
            done.add(table)
            if table == "subscriptions" and requested:
                readable = _after_subscriptions(run, requested, subs)
    except BudgetExhausted:
        for table in tables:
            if table not in done:
                units = [TENANT] if table in queries.TENANT_TABLES or not requested else readable
                for unit in units:
                    run.gap(unit, table, "time budget exhausted before this scope was read")
    if run.answered == 0:
        raise CollectionError(f"nothing could be read from Azure Resource Graph at {target.endpoint}: "
                              f"{run.last_error or 'time budget exhausted before the first request'}")

    tables = {t: run.table_rows(t) for t in tables}
    gaps = list(run.gaps.values())
    duration = clock() - started
    manifest = {
        "format": FORMAT,
        "collectedAt": collected_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "source": "live",
        "scope": {"managementGroups": [u.name for u in mgs], "subscriptions": [u.name for u in subs]},
        "tables": {t: len(rows) for t, rows in tables.items()},
        "complete": not gaps,
        "gaps": gaps,
        "requests": run.requests,
        "durationSeconds": round(duration, 3),
        "throttleWaits": pacer.throttle_waits,
        "throttleWaitSeconds": round(pacer.throttle_wait_s, 3),
        "retries": pacer.retry_waits,
        "cloud": target.cloud,
        "endpoint": target.endpoint,
        "apiVersion": API_VERSION,
        "directoryData": False,
        "notes": ["role_assignments: rows whose scope is a resource other than a Key Vault vault are "
                  "filtered out in the query (audit_function/collect/filters.py)"],
    }
    run.emit("done", requests=run.requests, seconds=round(duration, 3), complete=not gaps)
    return RawSnapshot(tables=tables, manifest=manifest)


def _after_subscriptions(run: _Run, requested: list[Unit], subs: list[Unit]) -> list[Unit]:
    """Scopes the later tables ask about: the requested ones minus those the subscriptions query
    could not read (each also recorded as a gap for the tables it would have fed)."""
    unreadable = run.forbidden["subscriptions"]
    if unreadable and len(unreadable) == len(requested):
        raise CollectionError("the identity can read none of the requested scopes: "
                              + ", ".join(u.scope for u in requested) + f" ({run.last_error})")
    later = [t for t in run.rows if t != "subscriptions" and t not in queries.TENANT_TABLES]
    for unit in unreadable:
        for table in later:   # every table read per scope (the deep ones too: perimeters, Defender plans)
            run.gap(unit, table, "not read: the identity cannot read this scope (HTTP 403 on the "
                    "subscriptions query)")
    returned = {str(r.get("subscriptionId", "")).lower() for r in run.rows["subscriptions"].values()}
    for unit in subs:
        if unit not in unreadable and unit.name not in returned and (unit.scope.lower(), "subscriptions") not in run.gaps:
            run.gap(unit, "subscriptions", "not returned by Resource Graph: no such subscription, or "
                    "not visible to this identity")
    return [u for u in requested if u not in unreadable]
