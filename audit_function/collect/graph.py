"""Directory data for live runs: the principal ids in the collected rows, resolved through
Microsoft Graph into ``principals.jsonl`` rows (shared spec snapshot.md)::

    {"id", "type": "user" | "group" | "servicePrincipal", "displayName", "userType", "appId",
     "memberOf": [transitive group ids]}

- Names: ``POST /v1.0/directoryObjects/getByIds`` with ``{"ids": [...], "types": ["user", "group",
  "servicePrincipal"]}``. Microsoft documents "You can specify up to 1000 IDs" for ``ids`` and
  ``types`` as the resource collections to search (learn.microsoft.com/graph/api/directoryobject-getbyids,
  microsoft-graph-docs-contrib api-reference/v1.0/api/directoryobject-getbyids.md), so ids go in
  batches of at most 1000. In v1.0 users come back with only a default subset of properties
  (``userType`` is not in it); Graph's known-issues page gives ``$select`` as the way to get the
  others (supported on getByIds since 2020, microsoft-graph-docs issue 6783), so the request
  selects what the rows need. Should a service refuse the ``$select`` (400), the batch is asked
  again once without it and names come without ``userType`` (coverage ``partial`` says so).
- Memberships: ``POST /v1.0/directoryObjects/{id}/getMemberGroups`` with
  ``{"securityEnabledOnly": false}``, documented as transitive, for users, groups and service
  principals alike, one id per call, up to 11,000 group ids; beyond that it answers 400
  ``Directory_ResultSizeLimitExceeded`` and Microsoft's workaround is the ``transitiveMemberOf``
  listing (paged by ``@odata.nextLink``), used here for those principals only. The calls go 20 at a
  time in a JSON ``$batch`` (Graph's maximum per batch, learn.microsoft.com/graph/json-batching),
  a few batches in flight at once.
- The permission is optional (``Directory.Read.All`` or ``User.Read.All`` + ``GroupMember.Read.All``
  + ``Application.Read.All``): a 401/403 leaves the snapshot without principals and the manifest
  says why; a batch that keeps failing after the retries leaves its ids unresolved (state
  ``partial``). Neither makes the collection incomplete: directory data only adds names.
- Ids Graph does not return (deleted identities, objects of other kinds, other tenants) get no row;
  the manifest lists them under ``directory.notFound``.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from audit_function.collect.graph_client import MAX_THROTTLED, MAX_TRANSIENT, GraphClient, GraphError, classify, token_tenant
from audit_function.collect.pacing import BudgetExhausted

GET_BY_IDS_LIMIT = 1000
BATCH_LIMIT = 20
#: $batch requests in flight at once while reading memberships (each is 20 Graph requests).
MEMBERSHIP_WORKERS = 4
TYPES = ("user", "group", "servicePrincipal")
#: Properties the rows need; ``$select`` because v1.0 getByIds returns users with a subset only.
SELECT = "id,displayName,userType,appId,userPrincipalName,servicePrincipalType"
#: The all-principals id used by deny assignments ("Everyone"): not a directory object.
EVERYONE = "00000000-0000-0000-0000-000000000000"
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ODATA_TYPE = {"#microsoft.graph.user": "user", "#microsoft.graph.group": "group",
               "#microsoft.graph.serviceprincipal": "servicePrincipal"}
_COLLECTION = {"user": "users", "group": "groups", "servicePrincipal": "servicePrincipals"}


def principal_ids(tables: dict[str, list]) -> set[str]:
    """Lower-cased object ids of every principal the rows grant or deny something: role
    assignments and eligibilities (``properties.principalId``), vault access policies
    (``properties.accessPolicies[].objectId``) and deny assignments (``properties.principals`` and
    ``excludePrincipals``). Values that are not GUIDs cannot be directory object ids and are left out."""
    found: set[str] = set()

    def add(value) -> None:
        if isinstance(value, str):
            key = value.strip().lower()
            if _GUID.match(key) and key != EVERYONE:
                found.add(key)

    def props(row) -> dict:
        value = row.get("properties") if isinstance(row, dict) else None
        return value if isinstance(value, dict) else {}

    for table in ("role_assignments", "role_eligibilities"):
        for row in tables.get(table) or ():
            add(props(row).get("principalId"))
    for row in tables.get("vaults") or ():
        for entry in props(row).get("accessPolicies") or ():
            if isinstance(entry, dict):
                add(entry.get("objectId"))
    for row in tables.get("deny_assignments") or ():
        p = props(row)
        for entry in list(p.get("principals") or ()) + list(p.get("excludePrincipals") or ()):
            if isinstance(entry, dict):
                add(entry.get("id"))
    return found


def to_row(obj) -> dict | None:
    """A getByIds object as a principals.jsonl row (memberOf filled later); None for other kinds."""
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        return None
    kind = _ODATA_TYPE.get(str(obj.get("@odata.type", "")).lower())
    if kind is None:
        return None
    return {"id": obj["id"], "type": kind, "displayName": obj.get("displayName"),
            "userType": obj.get("userType") if kind == "user" else None,
            "appId": obj.get("appId") if kind == "servicePrincipal" else None,
            "memberOf": None}


@dataclass
class Resolution:
    """What one directory read gave."""

    requested: list[str]
    rows: dict[str, dict] = field(default_factory=dict)      # lower-cased id -> row
    failed: set[str] = field(default_factory=set)            # ids whose getByIds batch failed
    answered: set[str] = field(default_factory=set)          # ids in getByIds batches Graph answered
    memberships_failed: set[str] = field(default_factory=set)
    denied: str = ""        # why Graph refused (401/403): nothing usable
    errors: list[str] = field(default_factory=list)
    budget_exhausted: bool = False
    select_refused: str = ""

    @property
    def not_found(self) -> list[str]:
        return sorted(set(self.requested) - set(self.rows) - self.failed)


class _Emitter:
    def __init__(self, progress, total: int) -> None:
        self.progress, self.total = progress, total

    def __call__(self, resolved: int, phase: str, done: bool = False) -> None:
        if self.progress is not None:
            self.progress("principals", text=f"principals resolved {resolved} of {self.total}"
                          + ("" if phase == "names" else f" ({phase})"),
                          resolved=resolved, of=self.total, phase=phase, done=done)


def resolve(client: GraphClient, ids: Iterable[str], progress=None) -> Resolution:
    """Names for ``ids`` (getByIds), then transitive memberships for every resolved one."""
    res = Resolution(requested=sorted(set(ids)))
    emit = _Emitter(progress, len(res.requested))
    try:
        _names(client, res, emit)
        if res.rows and not res.denied:
            _memberships(client, res, emit)
    except BudgetExhausted:
        res.budget_exhausted = True
        res.failed.update(i for i in res.requested if i not in res.rows and i not in res.answered)
        res.memberships_failed.update(k for k, r in res.rows.items() if r["memberOf"] is None)
    emit(len(res.rows), "done", done=True)
    return res


def _names(client: GraphClient, res: Resolution, emit) -> None:
    queue = deque(tuple(res.requested[i:i + GET_BY_IDS_LIMIT])
                  for i in range(0, len(res.requested), GET_BY_IDS_LIMIT))
    # $select: "unknown" until a batch succeeds with it; "probing" while one batch is tried
    # without it after a 400; "plain" when only that worked. GetByIds has taken $select since
    # 2020 (microsoft-graph-docs issue 6783), but names without userType beat no names.
    select = "unknown"
    while queue:
        batch = queue.popleft()
        path = "/directoryObjects/getByIds" + ("" if select in ("probing", "plain") else f"?$select={SELECT}")
        try:
            objects = [o for page in client.pages("POST", path, {"ids": list(batch), "types": list(TYPES)})
                       for o in page]
        except GraphError as err:
            if err.kind == "bad_request" and select == "unknown":
                select = "probing"
                queue.appendleft(batch)
                continue
            if select == "probing":
                select = "select"    # not the $select: the ids (or something else) are the problem
            if err.kind == "denied":
                if not res.rows:
                    res.denied = str(err)
                    res.failed.update(res.requested)
                    return
                res.errors.append(str(err))
                res.failed.update(batch)
                continue
            if err.kind == "bad_request" and len(batch) > 1:  # one unreadable id: isolate it
                half = len(batch) // 2
                queue.appendleft(batch[half:])
                queue.appendleft(batch[:half])
                continue
            res.errors.append(str(err))
            res.failed.update(batch)
            continue
        except BudgetExhausted:
            res.failed.update(batch)
            raise
        if select == "probing":
            select = "plain"
            res.select_refused = f"getByIds refused $select={SELECT}, so users' userType is unknown"
        elif select == "unknown":
            select = "select"
        wanted = set(batch)
        res.answered.update(wanted)
        for obj in objects:
            row = to_row(obj)
            if row is not None and row["id"].lower() in wanted:
                res.rows[row["id"].lower()] = row
        emit(len(res.rows), "names")


def _member_request(key: str) -> dict:
    return {"id": key, "method": "POST", "url": f"/directoryObjects/{key}/getMemberGroups",
            "headers": {"Content-Type": "application/json"}, "body": {"securityEnabledOnly": False}}


def _memberships(client: GraphClient, res: Resolution, emit) -> None:
    """getMemberGroups for every resolved principal, 20 per $batch and up to MEMBERSHIP_WORKERS
    batches in flight; answers inside a batch that are throttled or transient are asked again in
    a later round, after the wait they ask for."""
    pending = deque(sorted(res.rows))
    attempts: dict[str, int] = {}
    done = 0
    with ThreadPoolExecutor(max_workers=MEMBERSHIP_WORKERS, thread_name_prefix="kv-audit-graph") as pool:
        while pending:
            chunks = []
            while pending and len(chunks) < MEMBERSHIP_WORKERS:
                chunks.append([pending.popleft() for _ in range(min(BATCH_LIMIT, len(pending)))])
            futures = [pool.submit(_ask, client, chunk) for chunk in chunks]
            wait = None
            for chunk, future in zip(chunks, futures):
                answers = future.result()          # BudgetExhausted from a worker surfaces here
                if isinstance(answers, GraphError):
                    res.errors.append(f"memberships: {answers}")
                    res.memberships_failed.update(chunk)
                    if answers.kind == "denied":
                        return _unknown_from_here(res)
                    continue
                got, refused, retry = _take(client, res, chunk, answers, attempts, pending)
                done += got
                if refused:  # names may be read, memberships may not (no GroupMember.Read.All)
                    return _unknown_from_here(res)
                if retry is not None and (wait is None or retry[0] == "throttled"):
                    wait = retry
            if wait is not None:
                kind, headers = wait
                attempt = max(attempts[k] for k in pending if k in attempts)
                client.wait(kind, headers, attempt)
            emit(done, "memberships")


def _unknown_from_here(res: Resolution) -> None:
    """Stop asking: every principal whose memberships are not known yet stays unknown."""
    res.memberships_failed.update(k for k, row in res.rows.items() if row["memberOf"] is None)


def _ask(client: GraphClient, chunk: list[str]):
    try:
        return client.batch([_member_request(k) for k in chunk])
    except GraphError as err:
        return err


def _take(client, res: Resolution, chunk, answers, attempts, pending):
    """Apply one $batch's answers: (principals done, every answer refused?, (kind, headers) of
    an answer to retry or None). Throttled or transient ones go back into ``pending``."""
    retry, refused, got = None, 0, 0
    for key in chunk:
        answer = answers.get(key)
        status = answer["status"] if answer else None
        if answer and status == 200:
            value = (answer["body"] or {}).get("value") if isinstance(answer["body"], dict) else None
            res.rows[key]["memberOf"] = sorted({str(g).lower() for g in value or [] if isinstance(g, str)})
            got += 1
            continue
        err = classify(status, answer["body"] if answer else None, answer["headers"] if answer else None)
        if answer is None:
            err = GraphError("transient", "no answer for this request in the $batch response")
        if err.kind == "not_found":  # deleted since getByIds: a member of nothing now
            res.rows[key]["memberOf"] = []
            got += 1
        elif err.kind == "too_many_results":
            got += _transitive(client, res, key)
        elif err.kind in ("throttled", "transient"):
            attempts[key] = attempts.get(key, 0) + 1
            if attempts[key] > (MAX_THROTTLED if err.kind == "throttled" else MAX_TRANSIENT):
                res.errors.append(f"memberships of {key}: {err}")
                res.memberships_failed.add(key)
                continue
            pending.append(key)
            if retry is None or err.kind == "throttled":
                retry = (err.kind, err.headers)
        else:
            refused += err.kind == "denied"
            res.errors.append(f"memberships of {key}: {err}")
            res.memberships_failed.add(key)
    return got, refused == len(chunk), retry


def _transitive(client: GraphClient, res: Resolution, key: str) -> int:
    """More than 11,000 groups: list ``transitiveMemberOf`` page by page, groups only."""
    row = res.rows[key]
    groups: set[str] = set()
    try:
        for page in client.pages("GET", f"/{_COLLECTION[row['type']]}/{key}/transitiveMemberOf?$select=id&$top=999"):
            groups.update(str(o["id"]).lower() for o in page if isinstance(o, dict) and isinstance(o.get("id"), str)
                          and str(o.get("@odata.type", "")).lower() == "#microsoft.graph.group")
    except GraphError as err:
        res.errors.append(f"memberships of {key}: {err}")
        res.memberships_failed.add(key)
        return 0
    row["memberOf"] = sorted(groups)
    return 1


# ---------------------------------------------------------------------------------------------
# The collector's hook


def add_directory(raw, *, enabled: bool, credential, target, verify, endpoint: str | None = None,
                  progress=None, sleep, clock, budget_s: float | None = None) -> None:
    """Resolve the principals of ``raw`` (a RawSnapshot) and record the outcome in its manifest:
    ``tables["principals"]`` and the ``principals`` table when anything resolved,
    ``directoryData``, a ``coverage`` entry ``{"source": "directory", "state", "note"}`` and a
    ``directory`` section (counts, ``notFound`` ids). Never marks the collection incomplete."""
    from audit_function.collect import clouds
    from audit_function.collect.pacing import Pacer

    manifest = raw.manifest if raw.manifest is not None else {}
    raw.manifest = manifest
    ids = principal_ids(raw.tables)
    if not enabled:
        return _record(raw, "not collected", "directory read skipped (--no-directory): " + _ABSENT, ids)
    graph_target = clouds.graph(target, endpoint)
    if graph_target.endpoint is None:
        return _record(raw, "not collected", f"not read: {graph_target.why_not}. " + _ABSENT, ids)
    if budget_s is not None and budget_s <= 0:
        return _record(raw, "not collected", "not read: the time budget was spent on Resource Graph. " + _ABSENT, ids)
    pacer = Pacer(sleep=sleep, clock=clock, budget_s=budget_s, progress=progress)
    client = GraphClient(credential, graph_target.endpoint, graph_target.token_scope, verify, pacer, progress)
    started = clock()
    try:
        res = resolve(client, ids, progress)
    finally:
        client.close()
    stats = {"endpoint": graph_target.endpoint, "requests": client.requests,
             "durationSeconds": round(clock() - started, 3), "throttleWaits": pacer.throttle_waits,
             "throttleWaitSeconds": round(pacer.throttle_wait_s, 3), "retries": pacer.retry_waits,
             "tenantId": token_tenant(credential, graph_target.token_scope)}   # whose directory answered
    if res.denied:
        return _record(raw, "not collected", f"Microsoft Graph refused the directory read ({res.denied}); give "
                       "the identity Directory.Read.All (application permission) to resolve names. " + _ABSENT,
                       ids, stats=stats)
    if not res.rows and res.failed:
        return _record(raw, "not collected", "no principal could be resolved through Microsoft Graph ("
                       + "; ".join(res.errors[:3] or ["time budget exhausted"]) + "). " + _ABSENT, ids, res, stats)
    problems = []
    if res.failed:
        problems.append(f"{len(res.failed)} id(s) unresolved after retries")
    if res.memberships_failed:
        problems.append(f"group memberships unknown for {len(res.memberships_failed)} principal(s) "
                        "(memberOf is null for them)")
    if res.select_refused:
        problems.append(res.select_refused)
    if res.budget_exhausted:
        problems.append("the collection's time budget ran out before Microsoft Graph had answered everything")
    note = f"{len(res.rows)} of {len(ids)} principal(s) resolved through Microsoft Graph"
    if res.not_found:
        note += (f"; {len(res.not_found)} not found in the directory (deleted identities, or objects "
                 "from another tenant or of another kind): listed in directory.notFound")
    if problems:
        note += "; " + "; ".join(problems) + ": their names are null and access through groups they are in "\
                "may be missing from the report"
    raw.tables["principals"] = [res.rows[k] for k in sorted(res.rows)]
    _record(raw, "partial" if problems else "collected", note, ids, res, stats)


_ABSENT = ("Principal names, types and guest status stay null in the report and group memberships are "
           "not expanded, so access held through a group is not traced to its members")


def _record(raw, state: str, note: str, ids: set[str], res: Resolution | None = None, stats: dict | None = None) -> None:
    manifest = raw.manifest
    collected = "principals" in raw.tables
    if collected:
        manifest.setdefault("tables", {})["principals"] = len(raw.tables["principals"])
    manifest["directoryData"] = collected
    coverage = [c for c in manifest.get("coverage") or [] if c.get("source") != "directory"]
    coverage.append({"source": "directory", "state": state, "note": note})
    manifest["coverage"] = coverage
    section = {"requested": len(ids), "resolved": len(res.rows) if res else 0}
    if res is not None:
        section.update(deleted=len(res.not_found), notFound=res.not_found, unresolved=len(res.failed),
                       membershipsUnknown=len(res.memberships_failed), errors=res.errors[:10])
    section.update(stats or {})
    manifest["directory"] = section
