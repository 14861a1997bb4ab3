"""PIM eligibilities and deny assignments from ARM (not in Resource Graph) with azure-mgmt-authorization.

``extend_snapshot`` adds the snapshot tables ``role_eligibilities`` and ``deny_assignments`` to a
RawSnapshot the Resource Graph collector built: one ``list_for_scope`` per audited scope and table
(a management group as ``/providers/Microsoft.Management/managementGroups/<name>``, a subscription
as ``/subscriptions/<id>``; tenant-wide: every subscription Resource Graph returned), a few scopes at
a time. Rows are the SDK models serialized back to ARM's JSON (camelCase REST keys) plus
``tenantId``, de-duplicated by lower-cased id. A scope that answers 403 (or any other error, or
keeps failing after bounded retries) becomes a manifest gap naming it, with the cause ARM gave.

No ``$filter`` is sent. Without it both listings return the rows at, above and below the scope
(inherited ones from parent management groups and '/', and those on resource groups and resources
inside it); ``atScope()`` would return only rows at or above it, and ``asTarget()`` only the
caller's own eligibilities. Docs:
https://learn.microsoft.com/rest/api/authorization/deny-assignments/list-for-scope
https://learn.microsoft.com/rest/api/authorization/role-eligibility-schedule-instances/list-for-scope
(Example 1 of https://learn.microsoft.com/powershell/module/az.resources/get-azroleeligibilityscheduleinstance
lists a subscription's eligibilities including those on resources below it.)
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

from azure.core.exceptions import (AzureError, ClientAuthenticationError, HttpResponseError,
                                   ServiceRequestError, ServiceResponseError)
from azure.core.utils import CaseInsensitiveDict
from azure.mgmt.authorization import AuthorizationManagementClient

from audit_function import __version__
from audit_function.collect.arm_pacing import ArmPacer
from audit_function.collect.pacing import BudgetExhausted
from audit_function.collect.scope import Unit

#: snapshot table -> (operation group of AuthorizationManagementClient, api-version)
#: (the versions azure-mgmt-authorization 4.0.0 uses by default for these groups)
TABLES = {
    "role_eligibilities": ("role_eligibility_schedule_instances", "2020-10-01"),
    "deny_assignments": ("deny_assignments", "2022-04-01"),
}
#: Contract keys under ``properties`` (null when ARM leaves them out).
CONTRACT_KEYS = {
    "role_eligibilities": ("roleDefinitionId", "principalId", "principalType", "scope", "memberType", "status",
                           "startDateTime", "endDateTime", "condition"),
    "deny_assignments": ("denyAssignmentName", "scope", "permissions", "principals", "excludePrincipals",
                         "doNotApplyToChildScopes", "isSystemProtected"),
}
WORKERS = 4
MAX_THROTTLED = 10
MAX_TRANSIENT = 5
READ_TIMEOUT_S = 120.0
#: list_for_scope never uses the client's subscription, but the client requires one.
_NO_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


class ScopeFailed(Exception):
    """One scope of one table could not be read; the message is the gap reason."""


class _Retryable(Exception):
    def __init__(self, kind: str, reason: str, headers) -> None:
        super().__init__(reason)
        self.kind, self.headers = kind, headers


def describe(exc: HttpResponseError) -> str:
    """'HTTP 403 AuthorizationFailed: <message> (<detail code>: <detail message>; ...)' from an ARM error
    body; the detail messages carry the real cause when the top message is boilerplate."""
    response = exc.response
    status = exc.status_code or (response.status_code if response is not None else None)
    code, message, details = "", "", []
    try:
        err = json.loads(response.text()).get("error") or {}
        code, message = str(err.get("code") or ""), str(err.get("message") or "")
        for d in err.get("details") or []:
            if isinstance(d, dict) and (d.get("message") or d.get("code")):
                details.append(f"{d.get('code') or ''}: {d.get('message') or ''}".strip(": "))
    except (ValueError, AttributeError, TypeError):  # no response, or not an ARM error body
        message = _first_line(exc.message or str(exc))
    text = f"HTTP {status} {code}".rstrip() + (f": {message}" if message else "")
    return text + (f" ({'; '.join(details)})" if details else "")


def to_row(model, table: str, tenant_id: str | None) -> dict:
    """An SDK model as the ARM JSON object it came from (REST key names), plus tenantId."""
    row = model.serialize(keep_readonly=True)
    row["tenantId"] = tenant_id
    props = row.setdefault("properties", {})
    for key in CONTRACT_KEYS[table]:
        props.setdefault(key, None)
    return row


class _Lister:
    """One AuthorizationManagementClient per table: the multi-API client sets the api-version of the
    next-page requests from shared config, so one client for both tables could page one listing
    with the other's version. SDK retries are off: every retry is decided here."""

    def __init__(self, credential, endpoint: str, token_scope: str, verify, table: str) -> None:
        group, version = TABLES[table]
        self.table = table
        self.client = AuthorizationManagementClient(
            credential, _NO_SUBSCRIPTION, api_version=version, base_url=endpoint,
            credential_scopes=[token_scope], connection_verify=verify, retry_total=0,
            user_agent=f"kv-audit/{__version__}")
        self.ops = getattr(self.client, group)

    def close(self) -> None:
        self.client.close()

    def page(self, scope: str, token: str | None, read_timeout: float):
        """(rows as models, next link or None, response headers) of one page."""
        return read_page(lambda **kw: self.ops.list_for_scope(scope.lstrip("/"), **kw), token, read_timeout)


def read_page(listing, token: str | None, read_timeout: float):
    """One page of an SDK listing: ``listing(**kwargs)`` returns its ItemPaged. (models, next link or None,
    response headers); 429 and 5xx raise _Retryable, anything else that stops the read ScopeFailed.
    Shared by every ARM listing the collector makes (arm_deep.py too)."""
    holder = {}

    def keep_headers(response):
        holder["headers"] = CaseInsensitiveDict(response.http_response.headers)

    pages = listing(raw_response_hook=keep_headers, read_timeout=read_timeout).by_page(continuation_token=token)
    with arm_errors():
        try:
            items = list(next(pages))
        except StopIteration:
            return [], None, holder.get("headers", {})
    return items, pages.continuation_token, holder.get("headers", {})


def read_one(call, read_timeout: float):
    """One ARM GET through the SDK (``call(**kwargs)``): (model, response headers); errors as read_page's."""
    holder = {}

    def keep_headers(response):
        holder["headers"] = CaseInsensitiveDict(response.http_response.headers)

    with arm_errors():
        model = call(raw_response_hook=keep_headers, read_timeout=read_timeout)
    return model, holder.get("headers", {})


class arm_errors:  # noqa: N801 - a context manager used like a function
    """Maps SDK exceptions to the collector's: _Retryable (429, 5xx, 408, dropped connections) or ScopeFailed."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or not isinstance(exc, AzureError):
            return False
        if isinstance(exc, ClientAuthenticationError):
            if exc.response is None:
                raise ScopeFailed(f"no token for Azure Resource Manager: {_first_line(str(exc))}") from None
            raise ScopeFailed(describe(exc)) from None
        if isinstance(exc, HttpResponseError):
            headers = CaseInsensitiveDict(exc.response.headers) if exc.response is not None else {}
            status = exc.status_code or 0
            if status == 429:
                raise _Retryable("throttled", describe(exc), headers) from None
            if status >= 500 or status == 408:
                raise _Retryable("transient", describe(exc), headers) from None
            raise ScopeFailed(describe(exc)) from None
        if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise ScopeFailed(f"TLS certificate not trusted: {_first_line(str(exc))}") from None
            raise _Retryable("transient", f"connection failed: {_first_line(str(exc))}", {}) from None
        raise ScopeFailed(f"{type(exc).__name__}: {_first_line(str(exc))}") from None  # e.g. not deserializable


class _Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = self.answered = self.pages = 0


def list_scope(lister: _Lister, unit: Unit, pacer: ArmPacer, counters: _Counters, progress=None) -> list:
    """Every page of one table at one scope, retrying 429s and transient failures a bounded number of
    times; raises ScopeFailed (a gap) or BudgetExhausted."""
    rows, token, page_no = [], None, 0
    throttled = transient = 0
    while True:
        pacer.before_request()
        left = pacer.remaining()
        with counters.lock:
            counters.requests += 1
        try:
            items, next_token, headers = lister.page(
                unit.scope, token, READ_TIMEOUT_S if left is None else min(READ_TIMEOUT_S, max(5.0, left)))
        except _Retryable as err:
            pacer.observe(err.headers)
            if err.kind == "throttled":
                throttled += 1
                if throttled > MAX_THROTTLED:
                    raise ScopeFailed(f"still throttled after {MAX_THROTTLED} retries ({err})") from None
                pacer.throttled(err.headers, throttled)
            else:
                transient += 1
                if transient > MAX_TRANSIENT:
                    raise ScopeFailed(f"still failing after {MAX_TRANSIENT} retries ({err})") from None
                _emit(progress, "retry", attempt=transient, error=str(err))
                pacer.transient(err.headers, transient)
            continue
        with counters.lock:
            counters.answered += 1
            counters.pages += 1
        pacer.observe(headers)
        throttled = transient = 0
        page_no += 1
        rows.extend(items)
        _emit(progress, "page", table=lister.table, scope=unit.scope, page=page_no, rows=len(items), total=None)
        if not next_token:
            return rows
        if next_token == token:
            raise ScopeFailed("ARM returned the same nextLink twice; paging stopped")
        token = next_token


def audited_units(raw, mgs: list[Unit], subs: list[Unit]) -> list[Unit]:
    """The requested scopes; tenant-wide, every subscription Resource Graph returned."""
    if mgs or subs:
        return mgs + subs
    found = sorted({str(r.get("subscriptionId", "")).lower() for r in raw.tables.get("subscriptions", [])
                    if isinstance(r, dict) and r.get("subscriptionId")})
    return [Unit("sub", s) for s in found]


def _tenants(raw) -> tuple[dict[str, str], str | None]:
    """(scope key -> tenant id, a tenant id for anything else) from the subscriptions/MG rows."""
    out, default = {}, None
    for table, kind, key in (("subscriptions", "sub", "subscriptionId"), ("management_groups", "mg", "name")):
        for row in raw.tables.get(table, []):
            if isinstance(row, dict) and row.get("tenantId") and row.get(key):
                out[f"{kind}:{str(row[key]).lower()}"] = row["tenantId"]
                default = default or row["tenantId"]
    return out, default


def extend_snapshot(raw, mgs: list[Unit], subs: list[Unit], credential, target, verify, *, progress=None,
                    sleep, clock, budget_s: float | None) -> None:
    """Add role_eligibilities and deny_assignments (rows, manifest counts, gaps) to ``raw``."""
    units = audited_units(raw, mgs, subs)
    started = clock()
    if progress is not None:  # called from the worker threads: one event at a time
        progress = _serialized(progress)
    pacer = ArmPacer(sleep=sleep, clock=clock, budget_s=budget_s, progress=progress, reserve=WORKERS)
    counters = _Counters()
    tenants, default_tenant = _tenants(raw)
    listers = {t: _Lister(credential, target.endpoint, target.token_scope, verify, t) for t in TABLES}
    found: dict[str, dict[str, dict]] = {t: {} for t in TABLES}
    gaps: list[dict] = []
    lock = threading.Lock()

    def work(table: str, unit: Unit) -> None:
        try:
            models = list_scope(listers[table], unit, pacer, counters, progress)
        except BudgetExhausted:
            reason = "time budget exhausted before this scope was read"
        except ScopeFailed as exc:
            reason = str(exc)
        else:
            tenant = tenants.get(f"{unit.kind}:{unit.name.lower()}", default_tenant)
            rows = [to_row(m, table, tenant) for m in models]
            with lock:
                for row in rows:
                    rid = row.get("id")
                    key = rid.lower() if isinstance(rid, str) else f"(no id) {len(found[table])}"
                    found[table].setdefault(key, row)
            return
        gap = {"scope": unit.scope, "table": table, "reason": reason}
        with lock:
            gaps.append(gap)
        _emit(progress, "gap", **gap)

    try:
        for table in TABLES:
            _emit(progress, "table", table=table, state="start")
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="kv-audit-arm") as pool:
            for future in [pool.submit(work, t, u) for t in TABLES for u in units]:
                future.result()
    finally:
        for lister in listers.values():
            lister.close()
    order = {(t, u.scope.lower()): i for i, (t, u) in enumerate((t, u) for t in TABLES for u in units)}
    gaps.sort(key=lambda g: order[(g["table"], g["scope"].lower())])
    for table in TABLES:
        keyed = found[table]
        raw.tables[table] = [keyed[k] for k in sorted(keyed)]
        _emit(progress, "table", table=table, state="done", rows=len(keyed))
    _merge_manifest(raw.manifest, gaps, counters, pacer, {t: len(found[t]) for t in TABLES}, clock() - started)


def _merge_manifest(manifest: dict | None, gaps: list[dict], counters: _Counters, pacer: ArmPacer,
                    counts: dict[str, int], seconds: float) -> None:
    if manifest is None:
        return
    manifest.setdefault("tables", {}).update(counts)
    manifest["gaps"] = list(manifest.get("gaps") or []) + gaps
    manifest["complete"] = bool(manifest.get("complete", True)) and not gaps
    manifest["armRequests"] = counters.requests
    manifest["armThrottleWaits"] = pacer.throttle_waits
    manifest["armRetries"] = pacer.retry_waits
    manifest["armApiVersions"] = {t: v for t, (_, v) in TABLES.items()}
    manifest["armDurationSeconds"] = round(seconds, 3)
    manifest["notes"] = list(manifest.get("notes") or []) + [
        "role_eligibilities and deny_assignments are not in Azure Resource Graph: they are ARM listings "
        "(roleEligibilityScheduleInstances, denyAssignments; no $filter: rows at, above and below) of each "
        "audited management group and subscription, de-duplicated by id"]


def _serialized(progress):
    lock = threading.Lock()

    def call(event: str, **fields) -> None:
        with lock:
            progress(event, **fields)

    return call


def _emit(progress, event: str, **fields) -> None:
    if progress is not None:
        progress(event, **fields)


def _first_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else text
