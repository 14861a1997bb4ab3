"""A local HTTPS ARM endpoint for two Microsoft.Authorization listings the collector reads:

    GET {scope}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?api-version=2020-10-01
    GET {scope}/providers/Microsoft.Authorization/denyAssignments?api-version=2022-04-01

Shaped like the real service: ``{"value": [...], "nextLink": ...}`` pages; without ``$filter`` the
rows at, above and below the scope, with ``$filter=atScope()`` those at or above it; error bodies
``{"error": {"code", "message", "details": [{"code", "message"}]}}``; a 429 carries Retry-After;
every answer (errors too) carries ``x-ms-ratelimit-remaining-{subscription|tenant}-reads``. A wrong
api-version answers 400 as ARM does.

:class:`AuthorizationRoutes` answers the requests (FakeArg serves them too, so one endpoint holds
the whole estate); :class:`FakeArm` is a standalone server around it. Faults are set on
:class:`ArmFaults`.
"""

from __future__ import annotations

import json
import math
import re
import socket
import struct
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

from tests.fakes.arg_server import MG_PREFIX, Estate, _norm_scope
from tests.fakes.clock import RealClock
from tests.fakes.tls import LoopbackHandler, LoopbackTls, self_signed

#: route suffix (lower-case) -> (snapshot table, api-version, ARM type)
ROUTES = {
    "/providers/microsoft.authorization/roleeligibilityscheduleinstances":
        ("role_eligibilities", "2020-10-01", "Microsoft.Authorization/roleEligibilityScheduleInstances"),
    "/providers/microsoft.authorization/denyassignments":
        ("deny_assignments", "2022-04-01", "Microsoft.Authorization/denyAssignments"),
}
#: fault kinds for ArmFaults.script (request number -> kind) and ArmFaults.scope_faults (scope -> kind)
FAULT_KINDS = ("429", "429-retry-after", "429-lower", "500", "503", "reset", "403")


@dataclass
class ArmFaults:
    page_size: int = 100
    script: dict[int, str] = field(default_factory=dict)        # request number (from 1) -> fault kind
    scope_faults: dict[str, str] = field(default_factory=dict)  # scope (any case) -> fault kind, every time
    forbidden: set[str] = field(default_factory=set)            # subscription ids / MG names: 403
    bucket: tuple[int, float] | None = None                     # (size, refill per second): 429 when empty
    retry_after: int = 1                                        # seconds, on every 429


class AuthorizationRoutes:
    """Answers the two listings from rows keyed by snapshot table (ARM objects; a ``tenantId`` key is
    removed, as ARM does not return one). Thread-safe; ``log`` records every request."""

    def __init__(self, tables: dict[str, list], *, clock=None, faults: ArmFaults | None = None,
                 url: str = "") -> None:
        self.estate = Estate(tables)
        self.rows = {t: [{k: v for k, v in r.items() if k != "tenantId"} for r in tables.get(t, [])]
                     for t, _, _ in ROUTES.values()}
        self.clock = clock or RealClock()
        self.faults = faults or ArmFaults()
        self.url = url
        self.requests = 0
        self.statuses: Counter = Counter()
        self.log: list[dict] = []
        self._lock = threading.Lock()
        self._tokens: tuple[float, float] | None = None  # (tokens, at time)

    @staticmethod
    def route(path: str) -> tuple[str, tuple] | None:
        """(scope, route) when the path is one of the listings."""
        norm = _norm_scope(path)
        for suffix, spec in ROUTES.items():
            if norm.endswith(suffix):
                return norm[: -len(suffix)] or "/", spec
        return None

    def _take_token(self) -> tuple[bool, int]:
        if self.faults.bucket is None:
            return True, 11999
        size, rate = self.faults.bucket
        now = self.clock.now()
        tokens, at = self._tokens or (float(size), now)
        tokens = min(float(size), tokens + (now - at) * rate)
        ok = tokens >= 1.0
        if ok:
            tokens -= 1.0
        self._tokens = (tokens, now)
        return ok, int(math.floor(tokens))

    def handle(self, path: str, query: dict) -> tuple[int, dict, dict | None]:
        """(status, headers, JSON body) for one GET; JSON None = drop the connection."""
        scope, (table, version, arm_type) = self.route(path)
        with self._lock:
            self.requests += 1
            n = self.requests
            allowed, left = self._take_token()
        fault = self.faults.script.get(n) or self.faults.scope_faults.get(scope) or next(
            (k for s, k in self.faults.scope_faults.items() if _norm_scope(s) == scope), None)
        level = "subscription" if scope.startswith("/subscriptions/") else "tenant"
        headers = {f"x-ms-ratelimit-remaining-{level}-reads": str(left),
                   "x-ms-request-id": f"00000000-0000-0000-0000-{n:012d}"}
        entry = {"n": n, "table": table, "scope": scope, "apiVersion": query.get("api-version", ""),
                 "filter": query.get("$filter"), "skip": query.get("$skipToken"), "fault": fault}
        status, headers, body = self._answer(scope, table, version, arm_type, query, fault, allowed, headers)
        with self._lock:
            entry["status"] = status or "reset"
            self.log.append(entry)
            self.statuses[status or "reset"] += 1
        return status, headers, body

    def _answer(self, scope, table, version, arm_type, query, fault, allowed, headers):
        f = self.faults
        if not allowed or fault in ("429", "429-retry-after", "429-lower"):
            if fault == "429-lower":
                headers["retry-after"] = str(f.retry_after)
            elif fault != "429":
                headers["Retry-After"] = str(f.retry_after)
            return 429, headers, _error("TooManyRequests", "The request is being throttled.",
                                        [("SubscriptionRequestsThrottled", "Number of 'read' requests for "
                                          f"subscription actor exceeded. Please try again after {f.retry_after} "
                                          "seconds.")])
        if fault in ("500", "503"):
            return int(fault), headers, _error("InternalServerError", "Please provide below info when asking "
                                               "for support: timestamp and correlation id.",
                                               [("BackendUnavailable", f"the {table} backend for {scope} timed out")])
        if fault == "reset":
            return 0, headers, None
        if query.get("api-version") != version:
            return 400, headers, _error("InvalidApiVersionParameter", f"The api-version "
                                        f"'{query.get('api-version')}' is invalid. The supported versions are "
                                        f"'{version}'.")
        parts = scope.split("/")
        denied = {x.lower() for x in f.forbidden}
        who = parts[2] if scope.startswith("/subscriptions/") else scope[len(MG_PREFIX):] \
            if scope.startswith(MG_PREFIX) else None
        if fault == "403" or (who is not None and who in denied):
            action = "roleEligibilityScheduleInstances" if table == "role_eligibilities" else "denyAssignments"
            return 403, headers, _error("AuthorizationFailed", "The client '11111111-1111-1111-1111-111111111111' "
                                        "with object id '11111111-1111-1111-1111-111111111111' does not have "
                                        f"authorization to perform action 'Microsoft.Authorization/{action}/read' "
                                        f"over scope '{scope}' or the scope is invalid. If access was recently "
                                        "granted, please refresh your credentials.")
        if scope.startswith(MG_PREFIX) and scope[len(MG_PREFIX):] not in self.estate.mg_chain:
            return 404, headers, _error("ManagementGroupNotFound", f"The management group '{scope}' was not found.")
        at_or_above = query.get("$filter", "").replace(" ", "").lower() == "atscope()"
        rows = []
        for row in self.rows[table]:
            loc = _norm_scope(str((row.get("properties") or {}).get("scope") or "/"))
            above = self.estate.within(scope, loc)
            below = self.estate.within(loc, scope)
            if above or (below and not at_or_above):
                rows.append(row)
        rows.sort(key=lambda r: str(r.get("id", "")).lower())
        try:
            offset = int(query.get("$skipToken") or 0)
        except ValueError:
            return 400, headers, _error("InvalidSkipToken", "The skip token is invalid.")
        size = f.page_size
        body = {"value": rows[offset:offset + size]}
        if offset + size < len(rows):
            params = {"api-version": version, "$skipToken": str(offset + size)}
            if query.get("$filter"):
                params["$filter"] = query["$filter"]
            body["nextLink"] = f"{self.url}{scope if scope != '/' else ''}{_suffix(table)}?{urlencode(params)}"
        return 200, headers, body


def _suffix(table: str) -> str:
    return {"role_eligibilities": "/providers/Microsoft.Authorization/roleEligibilityScheduleInstances",
            "deny_assignments": "/providers/Microsoft.Authorization/denyAssignments"}[table]


def _error(code: str, message: str, details=()) -> dict:
    return {"error": {"code": code, "message": message,
                      "details": [{"code": c, "message": m} for c, m in details]}}


def send(handler: BaseHTTPRequestHandler, status: int, headers: dict, payload: dict | None) -> None:
    """Write one JSON answer, or drop the connection (RST) when payload is None."""
    if payload is None:
        handler.close_connection = True
        try:
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        return
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


class FakeArm(LoopbackTls):
    """Standalone HTTPS server for the two listings. ``url``, ``ca_path``; ``routes`` has the log."""

    def __init__(self, tables: dict[str, list], *, clock=None, faults: ArmFaults | None = None,
                 token: str | None = None, cert_dir: Path | None = None) -> None:
        self.token = token
        cert_dir = Path(cert_dir or tempfile.mkdtemp(prefix="fake-arm-"))
        self.ca_path, key_path = self_signed(cert_dir)
        self.routes = AuthorizationRoutes(tables, clock=clock, faults=faults)
        owner = self

        class Handler(LoopbackHandler):

            def do_GET(self):  # noqa: N802
                url = urlparse(self.path)
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Bearer ") or (owner.token and auth != f"Bearer {owner.token}"):
                    return send(self, 401, {}, _error("AuthenticationFailed", "Authentication failed."))
                if AuthorizationRoutes.route(url.path) is None:
                    return send(self, 404, {}, _error("NotFound", f"no fake route for GET {url.path}"))
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                return send(self, *owner.routes.handle(url.path, query))

            def log_message(self, *args):
                pass

        self.routes.url = self.serve(Handler, self.ca_path, key_path)


# -- deep collection: per-vault ARM reads (collect --deep) ---------------------------------------------

#: api-versions the pinned SDKs send: azure-mgmt-keyvault 14.1.0, azure-mgmt-monitor 6.0.2 (diagnostic settings)
KEYVAULT_API = "2026-05-15"
MONITOR_API = "2021-05-01-preview"
_DEEP = re.compile(r"^(?P<vault>/subscriptions/(?P<sub>[^/]+)/resourcegroups/[^/]+/providers/microsoft\.keyvault/"
                   r"vaults/[^/]+)/(?P<kind>keys|secrets)(?:/(?P<name>[^/]+))?$")
_DIAG = re.compile(r"^(?P<res>/subscriptions/(?P<sub>[^/]+)/.+)/providers/microsoft\.insights/diagnosticsettings$")


@dataclass
class DeepFaults:
    page_size: int = 2                                          # keys/secrets/settings per page (nextLink beyond)
    script: dict[int, str] = field(default_factory=dict)        # request number (from 1) -> fault kind
    resource_faults: dict[str, str] = field(default_factory=dict)  # vault/HSM id (any case) -> fault, every time
    bucket: tuple[int, float] | None = None                     # per subscription (size, refill/s): 429 when empty
    retry_after: int = 1
    latency_s: float = 0.0                                      # per request, on the server's clock
    list_rotation_policy: bool = False                          # keys.list carries rotationPolicy (else get only)
    throttle_every: int = 0                                     # every n-th request answers 429 (benchmark)


class DeepRoutes:
    """keys (list, get), secrets (list) and diagnosticSettings (list) from snapshot rows: ``vault_objects``
    (full rows, rotationPolicy included) and ``diagnostic_settings``. Secrets never carry a value."""

    def __init__(self, tables: dict[str, list], *, clock=None, faults: DeepFaults | None = None, url: str = "") -> None:
        self.clock = clock or RealClock()
        self.faults = faults or DeepFaults()
        self.url = url
        self.objects: dict[tuple[str, str], list] = {}
        for row in tables.get("vault_objects", []):
            m = _DEEP.match(_norm_scope(str(row.get("id", "")).rsplit("/", 1)[0]))
            if m:
                self.objects.setdefault((m.group("vault"), m.group("kind")), []).append(row)
        self.settings: dict[str, list] = {}
        for row in tables.get("diagnostic_settings", []):
            res = _norm_scope(str(row.get("id", ""))).split("/providers/microsoft.insights/")[0]
            self.settings.setdefault(res, []).append(row)
        for rows in list(self.objects.values()) + list(self.settings.values()):
            rows.sort(key=lambda r: str(r.get("id", "")).lower())
        self.requests = 0
        self.statuses: Counter = Counter()
        self.log: list[dict] = []
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    @staticmethod
    def route(path: str):
        norm = _norm_scope(path)
        return _DEEP.match(norm) or _DIAG.match(norm)

    def _take(self, sub: str) -> tuple[bool, int]:
        if self.faults.bucket is None:
            return True, 11999
        size, rate = self.faults.bucket
        now = self.clock.now()
        tokens, at = self._buckets.get(sub, (float(size), now))
        tokens = min(float(size), tokens + (now - at) * rate)
        ok = tokens >= 1.0
        if ok:
            tokens -= 1.0
        self._buckets[sub] = (tokens, now)
        return ok, int(math.floor(tokens))

    def handle(self, path: str, query: dict) -> tuple[int, dict, dict | None]:
        m = self.route(path)
        sub = m.group("sub")
        resource = m.groupdict().get("vault") or m.groupdict().get("res")
        with self._lock:
            self.requests += 1
            n = self.requests
            allowed, left = self._take(sub)
        if self.faults.latency_s:
            self.clock.sleep(self.faults.latency_s)
        every = self.faults.throttle_every
        fault = self.faults.script.get(n) or ("429" if every and n % every == 0 else None) or next(
            (k for r, k in self.faults.resource_faults.items() if _norm_scope(r) == resource), None)
        headers = {"x-ms-ratelimit-remaining-subscription-reads": str(left),
                   "x-ms-request-id": f"00000000-0000-0000-0001-{n:012d}"}
        status, body = self._answer(m, path, query, fault, allowed, headers)
        with self._lock:
            self.log.append({"n": n, "path": _norm_scope(path), "resource": resource, "fault": fault,
                             "status": status or "reset", "apiVersion": query.get("api-version")})
            self.statuses[status or "reset"] += 1
        return status, headers, body

    def _answer(self, m, path, query, fault, allowed, headers):
        f = self.faults
        if not allowed or fault == "429":
            headers["Retry-After"] = str(f.retry_after)
            return 429, _error("TooManyRequests", "The request is being throttled.",
                               [("SubscriptionRequestsThrottled", "Number of 'read' requests for subscription "
                                 f"actor exceeded. Please try again after {f.retry_after} seconds.")])
        if fault in ("500", "503"):
            return int(fault), _error("InternalServerError", "Encountered an internal server error.")
        if fault == "reset":
            return 0, None
        diag = "vault" not in m.groupdict()
        version = MONITOR_API if diag else KEYVAULT_API
        if query.get("api-version") != version:
            return 400, _error("InvalidApiVersionParameter", f"The api-version '{query.get('api-version')}' is "
                               f"invalid. The supported versions are '{version}'.")
        if fault == "403":
            action = "Microsoft.Insights/diagnosticSettings/read" if diag else "Microsoft.KeyVault/vaults/keys/read"
            return 403, _error("AuthorizationFailed", "The client '11111111-1111-1111-1111-111111111111' does not "
                               f"have authorization to perform action '{action}' over scope '{path}' or the scope "
                               "is invalid.")
        if diag:
            rows = self.settings.get(m.group("res"), [])
        else:
            rows = self.objects.get((m.group("vault"), m.group("kind")), [])
            if m.group("name"):
                for row in rows:
                    if str(row.get("name", "")).lower() == m.group("name"):
                        return 200, row
                return 404, _error("KeyNotFound", f"The key '{m.group('name')}' was not found.")
            rows = [self._listed(r, m.group("kind")) for r in rows]
        offset = int(query.get("$skipToken") or 0)
        body = {"value": rows[offset:offset + f.page_size]}
        if offset + f.page_size < len(rows):
            body["nextLink"] = f"{self.url}{path}?" + urlencode({"api-version": version,
                                                                 "$skipToken": str(offset + f.page_size)})
        return 200, body

    def _listed(self, row: dict, kind: str) -> dict:
        props = dict(row.get("properties") or {})
        if kind == "keys" and not self.faults.list_rotation_policy:
            props.pop("rotationPolicy", None)
        return {**row, "properties": props}
