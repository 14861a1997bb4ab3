"""``explain --live``: read only what one answer needs.

Resource Graph (``queries/*.kql``): the vault (1 query), its subscription (1), the role assignments of
the caller and its groups at, above and inside the vault plus every one at or inside the vault (1,
on that one subscription with ``AtScopeAboveAndBelow``), and the custom role definitions they use (0 or
1). ARM: eligible and deny assignments of that subscription (``arm_authorization``, 2 listings).
Microsoft Graph: the caller and its transitive groups first, then the other principals named on the
vault (``graph.resolve``). Every value put into a query is validated (GUIDs, vault names, ids) and
quoted as a Kusto string literal.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from importlib import resources

from audit_function.collect import arm_authorization, clouds, graph
from audit_function.collect.arg import ArgClient
from audit_function.collect.collector import PAGE_SIZE, _Run
from audit_function.collect.graph_client import GraphClient
from audit_function.collect.pacing import Pacer
from audit_function.collect.scope import Unit
from audit_function.errors import CollectionError
from audit_function.estate.scopes import trailing_guid
from audit_function.explain.parse import GUID, ExplainInputError, Request
from audit_function.snapshot.load import FORMAT, RawSnapshot, builtin_role_definitions

_VAULT_NAME = re.compile(r"^[A-Za-z0-9-]{3,24}$")
_VAULT_ID = re.compile(rf"^/subscriptions/({GUID})/resourceGroups/[-\w._()]+/providers/Microsoft\.KeyVault/vaults/"
                       r"([A-Za-z0-9-]{3,24})(/.*)?$", re.I)


def query_text(name: str, **values) -> str:
    """A query file without comments, each placeholder literal replaced by Kusto string literals."""
    text = resources.files(__package__).joinpath("queries", f"{name}.kql").read_text(encoding="utf-8")
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("//")]
    query = "\n".join(lines)
    for placeholder, value in values.items():
        items = value if isinstance(value, (list, tuple)) else [value]
        query = query.replace(f"'{placeholder}'", ", ".join(kusto(v) for v in items))
    return query


def kusto(value: str) -> str:
    """A Kusto single-quoted string literal (backslash and quote escaped)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _pages(run: _Run, body: dict) -> list:
    rows, skip = [], None
    while True:
        options = dict(body.get("options") or {}, resultFormat="objectArray", **{"$top": PAGE_SIZE})
        if skip:
            options["$skipToken"] = skip
        page = run.request({**body, "options": options})
        rows += page.rows
        if not page.skip_token or page.skip_token == skip:
            return rows
        skip = page.skip_token


def collect_for(request: Request, *, credential=None, endpoint: str | None = None, cloud: str = "public",
                connection_verify=None, graph_endpoint: str | None = None, directory: bool = True,
                sleep=time.sleep, clock=time.monotonic, progress=None) -> RawSnapshot:
    """A small snapshot holding what one explain answer needs (see the module docstring)."""
    vault_text = (request.vault or "").strip()
    by_id = _VAULT_ID.match(vault_text)
    if not by_id and not _VAULT_NAME.match(vault_text):
        raise ExplainInputError(f"vault {vault_text!r} is neither a vault name nor a vault id")
    if request.object_id is None:
        raise ExplainInputError("--live needs the caller's object id (or the error text): names are resolved "
                                "only from snapshot directory data")
    target = clouds.resolve(cloud, endpoint)
    verify = clouds.connection_verify(connection_verify)
    cred = credential if credential is not None else clouds.default_credential(target)
    client = ArgClient(cred, target.endpoint, target.token_scope, verify)
    run = _Run(client, Pacer(sleep=sleep, clock=clock, budget_s=None, progress=progress), progress)
    try:
        tables = _read(run, request, vault_text, by_id, cred, target, verify, graph_endpoint, directory, sleep, clock)
        manifest = {"format": FORMAT, "source": "live", "complete": True, "gaps": [],
                    "collectedAt": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
                    "requests": run.requests, "tables": {t: len(r) for t, r in tables.items()}}
        raw = RawSnapshot(tables=tables, manifest=manifest)
        sub = Unit("sub", tables["subscriptions"][0]["subscriptionId"].lower())
        arm_authorization.extend_snapshot(raw, [], [sub], cred, target, verify, sleep=sleep, clock=clock, budget_s=None)
        return raw
    finally:
        client.close()
        if credential is None and hasattr(cred, "close"):
            cred.close()


def _read(run, request, vault_text, by_id, cred, target, verify, graph_endpoint, directory, sleep, clock) -> dict:
    name = by_id.group(2) if by_id else vault_text
    vault_id = vault_text[:by_id.start(3)] if by_id and by_id.group(3) else vault_text if by_id else ""
    body = {"query": query_text("vault", VAULT_NAME=name, VAULT_ID=vault_id or name)}
    if by_id:
        body["subscriptions"] = [by_id.group(1)]
    vaults = [r for r in _pages(run, body) if isinstance(r, dict) and (
        str(r.get("id", "")).lower() == vault_id.lower() if by_id else str(r.get("name", "")).lower() == name.lower())]
    if not vaults:
        raise CollectionError(f"Resource Graph returned no vault {vault_text!r} visible to this identity")
    if len({str(v.get("id")).lower() for v in vaults}) > 1:
        raise ExplainInputError(f"several vaults are named {name!r}: pass the vault id ("
                                + ", ".join(str(v.get("id")) for v in vaults) + ")")
    vault = vaults[0]
    sub = str(vault.get("subscriptionId") or "")
    if not re.fullmatch(GUID, sub):
        raise CollectionError(f"the vault row {vault.get('id')!r} has no subscriptionId")
    subs = [r for r in _pages(run, {"query": query_text("subscription", SUBSCRIPTION_ID=sub), "subscriptions": [sub]})
            if str(r.get("subscriptionId", "")).lower() == sub.lower()]
    if not subs:
        raise CollectionError(f"Resource Graph returned no subscription row for {sub}")
    caller = request.object_id.lower()
    graph_client = _graph_client(cred, target, verify, graph_endpoint, directory, sleep, clock)
    principals: dict[str, dict] = {}
    if graph_client is not None:
        principals.update(graph.resolve(graph_client, [caller]).rows)
    groups = [g for g in ((principals.get(caller) or {}).get("memberOf") or []) if re.fullmatch(GUID, str(g))]
    key = str(vault["id"]).lower().rstrip("/")
    body = {"query": query_text("grants", PRINCIPAL_IDS=[caller, *groups], VAULT_KEY=key, VAULT_PREFIX=key + "/"),
            "subscriptions": [sub], "options": {"authorizationScopeFilter": "AtScopeAboveAndBelow"}}
    ids = {caller, *(g.lower() for g in groups)}
    assignments = [r for r in _pages(run, body) if _wanted(r, ids, key)]
    builtin = builtin_role_definitions()
    custom = sorted({trailing_guid(str((r.get("properties") or {}).get("roleDefinitionId", "")))
                     for r in assignments} - set(builtin) - {""})
    custom = [g for g in custom if re.fullmatch(GUID, g)]
    definitions = []
    if custom:
        definitions = [r for r in _pages(run, {"query": query_text("role_definitions", ROLE_GUIDS=custom)})
                       if str(r.get("name", "")).lower() in custom]
    tables = {"vaults": vaults[:1], "subscriptions": subs, "role_assignments": assignments,
              "role_definitions": definitions}
    if graph_client is not None:
        try:
            others = graph.principal_ids(tables) - set(principals)
            if others:
                principals.update(graph.resolve(graph_client, sorted(others)).rows)
        finally:
            graph_client.close()
        if principals:
            tables["principals"] = [principals[k] for k in sorted(principals)]
    return tables


def _wanted(row, ids: set[str], vault_key: str) -> bool:
    props = row.get("properties") if isinstance(row, dict) else None
    if not isinstance(props, dict):
        return False
    principal = str(props.get("principalId") or "").lower()
    scope = str(props.get("scope") or "").lower().rstrip("/")
    return principal in ids or scope == vault_key or scope.startswith(vault_key + "/") or (
        principal in ids and not scope)


def _graph_client(cred, target, verify, endpoint, enabled, sleep, clock):
    if not enabled:
        return None
    graph_target = clouds.graph(target, endpoint)
    if graph_target.endpoint is None:
        return None
    return GraphClient(cred, graph_target.endpoint, graph_target.token_scope, verify, Pacer(sleep=sleep, clock=clock, budget_s=None))
