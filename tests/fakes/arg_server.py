"""A local HTTPS Azure Resource Graph endpoint serving an estate from snapshot rows.

POST /providers/Microsoft.ResourceGraph/resources: the table comes from the query text (source
table + ``type =~ '...'`` literal); the answer honours the scope in the body (subscriptions,
managementGroups, tenant) and options.authorizationScopeFilter, applies the collector's filter
twin when the query carries its clause (the fake cannot run KQL), projects ``| project`` columns,
orders by id and pages with $skipToken / $top. Faults (quota, 429, 5xx, dropped connections, 403,
oversized pages, the subscription-limit header, latency) are set on :class:`Faults`.

The estate, the row selection and the error bodies live in arg_estate.py.

GET ARM reads for the per-vault approach (benchmark): a vault
(``/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}``) and the
role assignments for a scope (``{scope}/providers/Microsoft.Authorization/roleAssignments``,
at, above and below the scope, paged with nextLink).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
import socket
import struct
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

from tests.fakes.arg_estate import (AUTH_TABLES, MG_PREFIX, Estate, _bad_skip_token, _error, _norm_scope,  # noqa: F401 - re-exported
                                     _support, rows_for, type_literals)
from tests.fakes.clock import RealClock
from tests.fakes.tls import LoopbackHandler, LoopbackTls, self_signed

ARG_PATH = "/providers/microsoft.resourcegraph/resources"
PAYLOAD_LIMIT = 16 * 1024 * 1024

#: (source table, type literal) -> snapshot table
TABLE_OF = {
    ("resources", "microsoft.keyvault/vaults"): "vaults",
    ("resourcecontainers", "microsoft.resources/subscriptions"): "subscriptions",
    ("resourcecontainers", "microsoft.management/managementgroups"): "management_groups",
    ("authorizationresources", "microsoft.authorization/roleassignments"): "role_assignments",
    ("authorizationresources", "microsoft.authorization/roledefinitions"): "role_definitions",
    ("resources", "microsoft.managedservices/registrationassignments"): "lighthouse_delegations",
    ("resourcecontainers", "microsoft.resources/subscriptions/resourcegroups"): "resource_groups",
    ("resources", "microsoft.keyvault/managedhsms"): "managed_hsms",
    ("securityresources", "microsoft.security/pricings"): "defender_plans",
    ("networkresources", "microsoft.network/networksecurityperimeters/resourceassociations"): "perimeter_associations",
}
FAULT_KINDS = ("429", "429-retry-after", "500", "503", "reset", "too_large")
_VAULT_PATH = re.compile(r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.keyvault/vaults/[^/]+$")


@dataclass
class Faults:
    """What the endpoint injects. Request numbers count ARG POSTs from 1."""

    page_size: int = 1000                      # server-side page cap (ARG: 1000)
    quota: tuple[int, float] | None = None     # (requests, window seconds), e.g. (15, 5.0): enforced
    #: without the quota fault the quota headers still come on every answer (as from real ARG): a
    #: quota of this many requests that nothing in the tests spends, with nothing to wait for (00:00:00)
    unenforced_quota: int = 100_000
    skip_token_code: str = "CouldNotDecodeSkipToken"  # real ARG's code for an unusable $skipToken
    bad_skip_tokens: dict[str, int] = field(default_factory=dict)  # table -> next N $skipTokens rejected
    retry_after_on_quota: float | None = None  # 429s from the quota carry Retry-After when set
    script: dict[int, str] = field(default_factory=dict)   # request number -> fault kind
    random_rate: float = 0.0                   # chance of a random fault per request
    random_kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 7
    max_consecutive: int = 2                   # random faults in a row, at most
    forbidden_subscriptions: set[str] = field(default_factory=set)
    forbidden_management_groups: set[str] = field(default_factory=set)
    payload_limit: int = PAYLOAD_LIMIT         # bytes; bigger pages -> 400 ResponsePayloadTooLarge
    subscription_limit: int | None = None      # tenant/MG queries cover only this many subscriptions
    latency_s: float = 0.0                     # per request, on the server's clock
    arm_page_size: int = 1000                  # role assignments per ARM list page
    truncate: set[str] = field(default_factory=set)  # tables answered with resultTruncated and no $skipToken
    authz: object = None  # tests.fakes.arm_server.ArmFaults for the Microsoft.Authorization listings
    deep: object = None   # tests.fakes.arm_server.DeepFaults for keys, secrets and diagnostic settings


class FakeArg(LoopbackTls):
    """The endpoint. Use as a context manager or call close(). ``url`` and ``ca_path`` are what
    clients need; ``requests``/``statuses``/``log`` say what happened."""

    def __init__(self, tables: dict[str, list], *, clock=None, faults: Faults | None = None,
                 token: str | None = None, cert_dir: Path | None = None) -> None:
        self.estate = Estate(tables)
        self.clock = clock or RealClock()
        self.faults = faults or Faults()
        self.token = token
        self.requests = 0              # ARG POSTs
        self.arm_requests = 0          # ARM GETs
        self.statuses: Counter = Counter()
        self.log: list[dict] = []
        self._lock = threading.Lock()
        self._results: dict[str, list] = {}
        self._window: tuple[float, int] | None = None
        self._rng = random.Random(self.faults.seed)
        self._consecutive = self._random_faults = self._unenforced = 0
        cert_dir = Path(cert_dir or tempfile.mkdtemp(prefix="fake-arg-"))
        self.ca_path, key_path = self_signed(cert_dir)
        self.serve(self._handler(), self.ca_path, key_path)
        # PIM eligibilities and deny assignments (ARM listings) from the same endpoint
        from tests.fakes.arm_server import ArmFaults, AuthorizationRoutes
        authz = self.faults.authz or ArmFaults()
        authz.forbidden = set(authz.forbidden) | set(self.faults.forbidden_subscriptions) \
            | set(self.faults.forbidden_management_groups)
        self.authz = AuthorizationRoutes(tables, clock=self.clock, faults=authz, url=self.url)
        # keys, secrets and diagnostic settings per vault and HSM (collect --deep) from the same endpoint
        from tests.fakes.arm_server import DeepFaults, DeepRoutes
        self.deep = DeepRoutes(tables, clock=self.clock, faults=self.faults.deep or DeepFaults(), url=self.url)

    # -- ARG ---------------------------------------------------------------------------
    def table_of(self, query: str) -> str | None:
        first = query.strip().split(None, 1)[0].lower() if query.strip() else ""
        types = type_literals(query)
        return TABLE_OF.get((first, types[0] if types else ""))

    def rows_for(self, table: str, query: str, subs: list[str], mgs: list[str], options: dict,
                 api_version: str) -> tuple[list, bool]:
        """(rows in answer order, subscription limit hit) for a query and scope."""
        return rows_for(self.estate, self.faults, table, query, subs, mgs, options, api_version)

    def _fault_for(self, n: int) -> str | None:
        f = self.faults
        if n in f.script:
            return f.script[n]
        if f.random_rate and self._consecutive < f.max_consecutive and self._rng.random() < f.random_rate:
            self._consecutive += 1
            self._random_faults += 1
            return f.random_kinds[self._random_faults % len(f.random_kinds)]  # every kind in turn
        self._consecutive = 0
        return None

    def _quota(self) -> tuple[dict, bool]:
        """(quota headers, allowed?) for one request on the fixed-window quota; the headers come on
        every answer, like real ARG's, also when the quota fault is off."""
        if self.faults.quota is None:
            self._unenforced += 1
            used = self._unenforced
            return {"x-ms-user-quota-remaining": str(max(0, self.faults.unenforced_quota - used)),
                    "x-ms-user-quota-resets-after": "00:00:00"}, True
        limit, window = self.faults.quota
        now = self.clock.now()
        if self._window is None or now >= self._window[0] + window:
            self._window = (now, 0)
        start, used = self._window
        allowed = used < limit
        if allowed:
            used += 1
            self._window = (start, used)
        resets = max(0, math.ceil(start + window - now))
        headers = {"x-ms-user-quota-remaining": str(limit - used),
                   "x-ms-user-quota-resets-after": f"{resets // 3600:02d}:{resets // 60 % 60:02d}:{resets % 60:02d}"}
        return headers, allowed

    def handle_query(self, body: dict, api_version: str) -> tuple[int, dict, dict | None]:
        """(status, headers, JSON body) for one ARG POST; JSON None = drop the connection."""
        with self._lock:
            self.requests += 1
            n = self.requests
            fault = self._fault_for(n)
            headers, allowed = self._quota()
        query = body.get("query") or ""
        table = self.table_of(query)
        subs = body.get("subscriptions") or []
        mgs = body.get("managementGroups") or []
        options = body.get("options") or {}
        entry = {"n": n, "table": table, "subscriptions": subs, "managementGroups": mgs, "options": options,
                 "apiVersion": api_version, "fault": fault}
        with self._lock:
            self.log.append(entry)
        status, headers, payload = self._answer(body, api_version, table, fault, headers, allowed)
        with self._lock:
            entry["status"] = status or "reset"
            self.statuses[status or "reset"] += 1
        return status, headers, payload

    def _answer(self, body, api_version, table, fault, headers, allowed):
        f = self.faults
        query = body.get("query") or ""
        subs = body.get("subscriptions") or []
        mgs = body.get("managementGroups") or []
        options = body.get("options") or {}
        if f.latency_s:
            self.clock.sleep(f.latency_s)
        if not allowed or fault in ("429", "429-retry-after", "429-lower"):
            if fault == "429-lower":  # header names are case-insensitive; some answers use lower case
                headers["retry-after"] = str(int(f.retry_after_on_quota or 1))
            elif fault == "429-retry-after" or (not allowed and f.retry_after_on_quota is not None):
                headers["Retry-After"] = str(int(f.retry_after_on_quota or 1))
            return 429, headers, _error("RateLimiting", _support(self.clock),
                                        [("RateLimiting", "Client application has been throttled and should "
                                          "not attempt to repeat the request until an amount of time has elapsed.")])
        if fault in ("500", "503"):
            return int(fault), headers, _error("InternalServerError", _support(self.clock),
                                                [("InternalServerError", "Encountered an internal server error.")])
        if fault == "reset":
            return 0, headers, None
        if table is None:
            return 400, headers, _error("BadRequest", _support(self.clock), [
                ("InvalidQuery", "Query is invalid. Please refer to the documentation for the Azure Resource "
                 "Graph service and fix the error prior to retrying."),
                ("ParserFailure", "ParserFailure: the fake knows no table for this query")])
        if subs and mgs:
            return 400, headers, _error("BadRequest", "subscriptions and managementGroups cannot be combined")
        denied = [s for s in subs if s.lower() in {x.lower() for x in f.forbidden_subscriptions}]
        denied += [m for m in mgs if m.lower() in {x.lower() for x in f.forbidden_management_groups}]
        if denied:
            return 403, headers, _error("AuthorizationFailed", f"The client does not have authorization to "
                                        f"perform action 'Microsoft.ResourceGraph/resources/read' over scope "
                                        f"'{denied[0]}'.")
        top = options.get("$top", 1000)
        if not isinstance(top, int) or not 1 <= top <= 1000:
            return 400, headers, _error("BadRequest", "$top must be between 1 and 1000")
        key = hashlib.sha256(json.dumps([query, subs, mgs, options.get("authorizationScopeFilter"), api_version,
                                         f.subscription_limit, sorted(f.forbidden_subscriptions)],
                                        sort_keys=True).encode()).hexdigest()[:16]
        offset = 0
        if options.get("$skipToken") and f.bad_skip_tokens.get(table, 0) > 0:
            with self._lock:
                f.bad_skip_tokens[table] -= 1
            return 400, headers, _bad_skip_token(self.clock, f.skip_token_code)
        if options.get("$skipToken"):
            try:
                token = json.loads(base64.b64decode(options["$skipToken"]))
                if token["k"] != key:
                    raise ValueError
                offset = int(token["o"])
            except (ValueError, KeyError, TypeError):
                return 400, headers, _bad_skip_token(self.clock, f.skip_token_code)
        with self._lock:
            cached = self._results.get(key)
        if cached is None:
            cached = self.rows_for(table, query, subs, mgs, options, api_version)
            with self._lock:
                self._results[key] = cached
        rows, limit_hit = cached
        if limit_hit and not options.get("allowPartialScopes"):
            return 400, headers, _error("BadRequest", _support(self.clock),
                                        [("TooManySubscriptionsUnderScope", "The number of subscriptions under "
                                          "provided tenant or management groups in the request has exceeded the "
                                          "allowed limit. Please select a more granular scope or allow partial "
                                          "scopes results by passing AllowPartialScopes flag in the query options.")])
        if limit_hit:
            headers["x-ms-tenant-subscription-limit-hit"] = "true"
        size = min(top, f.page_size)
        page = rows[offset:offset + size]
        result = {"totalRecords": len(rows), "count": len(page), "resultTruncated": "false", "facets": [],
                  "data": page}
        if offset + size < len(rows):
            if page and all("id" in r for r in page) and table not in f.truncate:
                result["$skipToken"] = base64.b64encode(json.dumps({"k": key, "o": offset + size}).encode()).decode()
            else:
                result["resultTruncated"] = "true"
        size_bytes = len(json.dumps(result))
        if fault == "too_large" or size_bytes > f.payload_limit:
            return 400, headers, _error("BadRequest", _support(self.clock),
                                        [("ResponsePayloadTooLarge", f"Response payload size is {size_bytes}, and "
                                          f"has exceeded the limit of {f.payload_limit}. Please consider querying "
                                          "less data at a time and make paginated call if needed.")])
        return 200, headers, result

    # -- ARM reads (per-vault approach) -------------------------------------------------------
    def handle_arm_get(self, path: str, query: dict) -> tuple[int, dict]:
        with self._lock:
            self.arm_requests += 1
        if self.faults.latency_s:
            self.clock.sleep(self.faults.latency_s)
        scope = _norm_scope(path)
        if scope.endswith("/providers/microsoft.authorization/roleassignments"):
            target = scope[: -len("/providers/microsoft.authorization/roleassignments")] or "/"
            rows = self.estate.assignments_for(target)
            offset = int(query.get("$skipToken", "0") or 0)
            size = self.faults.arm_page_size
            value = [{"id": r["id"], "name": r.get("name"), "type": "Microsoft.Authorization/roleAssignments",
                      "properties": r.get("properties")} for r in rows[offset:offset + size]]
            body = {"value": value}
            if offset + size < len(rows):
                body["nextLink"] = f"{self.url}{path}?" + urlencode(
                    {"api-version": query.get("api-version", ""), "$skipToken": str(offset + size)})
            return 200, body
        if _VAULT_PATH.match(scope):
            for row in self.estate.tables["vaults"]:
                if str(row.get("id", "")).lower() == scope:
                    return 200, {"id": row["id"], "name": row.get("name"), "type": "Microsoft.KeyVault/vaults",
                                 "location": row.get("location"), "tags": row.get("tags") or {},
                                 "properties": row.get("properties")}
            return 404, _error("ResourceNotFound", f"The Resource '{path}' was not found.")
        return 404, _error("NotFound", f"no fake route for GET {path}")

    # -- HTTP plumbing ------------------------------------------------------------------
    def _handler(self):
        owner = self

        class Handler(LoopbackHandler):

            def _authorized(self) -> bool:
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Bearer ") or (owner.token and auth != f"Bearer {owner.token}"):
                    with owner._lock:
                        owner.statuses[401] += 1
                        if self.command == "POST":
                            owner.requests += 1
                        else:
                            owner.arm_requests += 1
                    self._send(401, {}, _error("AuthenticationFailed", "Authentication failed."))
                    return False
                return True

            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                url = urlparse(self.path)
                if url.path.lower() != ARG_PATH:
                    return self._send(404, {}, _error("NotFound", f"no fake route for POST {url.path}"))
                if not self._authorized():
                    return None
                if "application/json" not in self.headers.get("Content-Type", ""):
                    return self._send(500, {}, _error("InternalServerError", "unsupported content type"))
                api_version = parse_qs(url.query).get("api-version", [""])[0]
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self._send(400, {}, _error("BadRequest", "body is not JSON"))
                status, headers, payload = owner.handle_query(body, api_version)
                if payload is None:
                    return self._reset()
                return self._send(status, headers, payload)

            def do_GET(self):  # noqa: N802
                url = urlparse(self.path)
                if not self._authorized():
                    return None
                if owner.deep.route(url.path) is not None:
                    from tests.fakes.arm_server import send
                    return send(self, *owner.deep.handle(url.path, {k: v[0] for k, v in parse_qs(url.query).items()}))
                if owner.authz.route(url.path) is not None:
                    from tests.fakes.arm_server import send
                    return send(self, *owner.authz.handle(url.path, {k: v[0] for k, v in parse_qs(url.query).items()}))
                status, payload = owner.handle_arm_get(url.path, {k: v[0] for k, v in parse_qs(url.query).items()})
                return self._send(status, {}, payload)

            def _reset(self):
                self.close_connection = True
                try:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass

            def _send(self, status, headers, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler
