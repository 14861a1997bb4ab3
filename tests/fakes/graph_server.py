"""A local HTTPS Microsoft Graph endpoint serving a directory (users, groups, service principals).

Routes (all under /v1.0, bearer token required):

- ``POST /directoryObjects/getByIds[?$select=...]``: ``{"ids", "types"}``; at most 1000 ids (more:
  400), ids that are not GUIDs: 400 ``Request_BadRequest``; unknown ids are simply absent from
  ``value``. Without ``$select`` users carry only Graph v1.0's default subset (no ``userType``),
  as the real service does; with it, objects are projected onto the selected properties.
- ``POST /directoryObjects/{id}/getMemberGroups``: ``{"securityEnabledOnly"}`` -> transitive
  group ids; more than ``result_limit`` -> 400 ``Directory_ResultSizeLimitExceeded``; unknown id -> 404.
- ``GET /{users|groups|servicePrincipals}/{id}/transitiveMemberOf``: paged by ``@odata.nextLink``.
- ``POST /$batch``: at most 20 requests, each answered as if sent alone (statuses, headers, bodies).

Error bodies follow Graph's shape: ``{"error": {"code", "message", "innerError": {"date",
"request-id", "client-request-id"}}}``. Faults are set on :class:`GraphFaults`.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

from tests.fakes.clock import RealClock
from tests.fakes.tls import LoopbackHandler, LoopbackTls, self_signed

USER_DEFAULT = ("businessPhones", "displayName", "givenName", "id", "jobTitle", "mail", "mobilePhone",
                "officeLocation", "preferredLanguage", "surname", "userPrincipalName")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_KINDS = {"user": "users", "group": "groups", "serviceprincipal": "servicePrincipals"}


@dataclass
class GraphFaults:
    """What the endpoint injects. Request numbers count top-level HTTP requests from 1."""

    denied: bool = False                          # every call: 403 Authorization_RequestDenied
    deny_memberships: bool = False                # getMemberGroups / transitiveMemberOf: 403
    script: dict[int, str] = field(default_factory=dict)   # n -> "429" | "429-lower" | "503" | "500"
    retry_after: int = 3                          # seconds in Retry-After of scripted 429s
    always_fail_get_by_ids: set[int] = field(default_factory=set)  # getByIds call numbers -> 503 forever
    inner_throttle: dict[str, int] = field(default_factory=dict)   # object id -> times answered 429 in a batch
    result_limit: int = 11000                     # getMemberGroups answers at most this many ids
    page_size: int = 999                          # transitiveMemberOf page size
    refuse_select: bool = False                   # getByIds: 400 for $select of derived-type properties


class FakeGraph(LoopbackTls):
    def __init__(self, objects: list[dict], member_of: dict[str, list[str]] | None = None, *, clock=None,
                 faults: GraphFaults | None = None, token: str | None = None, cert_dir: Path | None = None,
                 tls: tuple[Path, Path] | None = None) -> None:
        """``tls``: (cert.pem, key.pem) to serve with, e.g. the fake Resource Graph's, so that one CA
        file trusts both (two self-signed certificates with the same subject cannot share a bundle)."""
        self.objects = {o["id"].lower(): o for o in objects}
        self.direct = {k.lower(): [g.lower() for g in v] for k, v in (member_of or {}).items()}
        self.clock = clock or RealClock()
        self.faults = faults or GraphFaults()
        self.token = token
        self.requests = 0
        self.get_by_ids_calls = 0
        self.statuses: Counter = Counter()
        self.log: list[dict] = []
        self._lock = threading.Lock()
        self._inner_left = dict(self.faults.inner_throttle)
        if tls is not None:
            self.ca_path, key_path = Path(tls[0]), Path(tls[1])
        else:
            self.ca_path, key_path = self_signed(Path(cert_dir or tempfile.mkdtemp(prefix="fake-graph-")))
        self.serve(self._handler(), self.ca_path, key_path)

    # -- directory semantics --------------------------------------------------------------
    def transitive_groups(self, oid: str) -> list[str]:
        seen, stack = set(), list(self.direct.get(oid, ()))
        while stack:
            g = stack.pop()
            if g not in seen:
                seen.add(g)
                stack.extend(self.direct.get(g, ()))
        return sorted(seen)

    def _project(self, obj: dict, select: list[str] | None) -> dict:
        kind = obj["@odata.type"].lower()
        if select:
            keep = set(select) | {"id"}
        elif kind == "#microsoft.graph.user":
            keep = set(USER_DEFAULT)
        else:
            keep = set(obj)
        return {"@odata.type": obj["@odata.type"], **{k: v for k, v in obj.items() if k in keep and k != "@odata.type"}}

    def route(self, method: str, path: str, query: dict, body, headers: dict) -> tuple[int, dict, dict | None]:
        """(status, headers, body) for one request, top-level or inside a $batch."""
        f = self.faults
        if f.denied:
            return _error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        path = path.rstrip("/")
        if method == "POST" and path == "/v1.0/directoryObjects/getByIds":
            return self._get_by_ids(query, body)
        m = re.fullmatch(r"/v1\.0/directoryObjects/([^/]+)/getMemberGroups", path)
        if method == "POST" and m:
            return self._member_groups(m.group(1).lower(), body)
        m = re.fullmatch(r"/v1\.0/(users|groups|servicePrincipals)/([^/]+)/transitiveMemberOf", path)
        if method == "GET" and m:
            return self._transitive(m.group(1), m.group(2).lower(), query)
        return _error(400, "Request_BadRequest", f"Unsupported request {method} {path}.")

    def _get_by_ids(self, query: dict, body) -> tuple[int, dict, dict | None]:
        with self._lock:
            self.get_by_ids_calls += 1
            n = self.get_by_ids_calls
        if n in self.faults.always_fail_get_by_ids:
            return _error(503, "serviceNotAvailable", "Service unavailable.", {"Retry-After": "1"})
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids:
            return _error(400, "Request_BadRequest", "The ids parameter is required.")
        if len(ids) > 1000:
            return _error(400, "Request_BadRequest", f"Too many ids: {len(ids)}; at most 1000 are allowed.")
        for i in ids:
            if not isinstance(i, str) or not _GUID.match(i):
                return _error(400, "Request_BadRequest", f"Invalid object identifier '{i}'.")
        types = {str(t).lower() for t in body.get("types") or ["directoryObject"]}
        select = [s.strip() for s in query.get("$select", "").split(",") if s.strip()] or None
        if select and self.faults.refuse_select:
            odd = [p for p in select if p not in ("id", "deletedDateTime")]
            if odd:
                return _error(400, "Request_BadRequest", f"Could not find a property named '{odd[0]}' on type "
                              "'microsoft.graph.directoryObject'.")
        value = []
        for i in ids:
            obj = self.objects.get(i.lower())
            if obj is None:
                continue
            kind = obj["@odata.type"].lower().rsplit(".", 1)[-1]
            if "directoryobject" in types or kind in types:
                value.append(self._project(obj, select))
        return 200, {}, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects",
                         "value": value}

    def _member_groups(self, oid: str, body) -> tuple[int, dict, dict | None]:
        if self.faults.deny_memberships:
            return _error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        if oid not in self.objects:
            return _error(404, "Request_ResourceNotFound",
                          f"Resource '{oid}' does not exist or one of its queried reference-property objects are not present.")
        if not isinstance(body, dict) or "securityEnabledOnly" not in body:
            return _error(400, "Request_BadRequest", "securityEnabledOnly is required.")
        groups = self.transitive_groups(oid)
        if body["securityEnabledOnly"]:
            groups = [g for g in groups if self.objects.get(g, {}).get("securityEnabled", True)]
        if len(groups) > self.faults.result_limit:
            return _error(400, "Directory_ResultSizeLimitExceeded",
                          "Request produced a result with more than the allowed number of objects.")
        return 200, {}, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
                         "value": groups}

    def _transitive(self, collection: str, oid: str, query: dict) -> tuple[int, dict, dict | None]:
        if self.faults.deny_memberships:
            return _error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        obj = self.objects.get(oid)
        if obj is None or _KINDS.get(obj["@odata.type"].lower().rsplit(".", 1)[-1]) != collection:
            return _error(404, "Request_ResourceNotFound", f"Resource '{oid}' does not exist.")
        groups = self.transitive_groups(oid)
        offset = int(query.get("$skiptoken", "0") or 0)
        size = min(int(query.get("$top", "100") or 100), self.faults.page_size)
        page = groups[offset:offset + size]
        out = {"value": [{"@odata.type": "#microsoft.graph.group", "id": g} for g in page]}
        if offset + size < len(groups):
            out["@odata.nextLink"] = (f"{self.url}/v1.0/{collection}/{oid}/transitiveMemberOf?"
                                      + urlencode({"$select": "id", "$top": size, "$skiptoken": offset + size}))
        return 200, {}, out

    def _batch(self, body) -> tuple[int, dict, dict | None]:
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not requests:
            return _error(400, "BadRequest", "Invalid batch payload format.")
        if len(requests) > 20:
            return _error(400, "BadRequest", "Number of batch request steps exceeds the maximum of 20.")
        responses = []
        for req in requests:
            url = urlparse("/v1.0" + str(req.get("url", "")))
            oid = re.search(r"/directoryObjects/([^/]+)/", url.path)
            key = oid.group(1).lower() if oid else None
            with self._lock:
                throttle = key is not None and self._inner_left.get(key, 0) > 0
                if throttle:
                    self._inner_left[key] -= 1
            req_headers = {str(k).lower(): v for k, v in (req.get("headers") or {}).items()}
            if req.get("body") is not None and "content-type" not in req_headers:
                status, headers, payload = _error(400, "BadRequest", "Content-Type header is required when a "
                                                  "body is present in a batch request.")
            elif throttle:
                status, headers, payload = _error(429, "TooManyRequests", "Too many requests.",
                                                  {"Retry-After": str(self.faults.retry_after)})
            else:
                status, headers, payload = self.route(str(req.get("method", "GET")).upper(), url.path,
                                                      {k: v[0] for k, v in parse_qs(url.query).items()},
                                                      req.get("body"), req.get("headers") or {})
            with self._lock:
                self.log.append({"batched": True, "path": url.path, "status": status})
            responses.append({"id": req.get("id"), "status": status,
                              "headers": {"Content-Type": "application/json", **headers}, "body": payload})
        return 200, {}, {"responses": responses}

    def handle(self, method: str, path: str, query: dict, body, headers: dict) -> tuple[int, dict, dict | None]:
        with self._lock:
            self.requests += 1
            n = self.requests
        fault = self.faults.script.get(n)
        entry = {"n": n, "method": method, "path": path, "query": query, "body": body, "fault": fault}
        if fault in ("429", "429-lower"):
            name = "Retry-After" if fault == "429" else "retry-after"
            status, out_headers, payload = _error(429, "TooManyRequests", "Too many requests.",
                                                  {name: str(self.faults.retry_after)})
        elif fault in ("500", "503"):
            status, out_headers, payload = _error(int(fault), "serviceNotAvailable", "Service unavailable.")
        elif method == "POST" and path.rstrip("/") == "/v1.0/$batch":
            status, out_headers, payload = (self.route(method, path, query, body, headers) if self.faults.denied
                                            else self._batch(body))
        else:
            status, out_headers, payload = self.route(method, path, query, body, headers)
        entry["status"] = status
        with self._lock:
            self.log.append(entry)
            self.statuses[status] += 1
        return status, out_headers, payload

    # -- HTTP plumbing ------------------------------------------------------------------
    def _handler(self):
        owner = self

        class Handler(LoopbackHandler):

            def _serve(self, method: str):
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Bearer ") or (owner.token and auth != f"Bearer {owner.token}"):
                    with owner._lock:
                        owner.requests += 1
                        owner.statuses[401] += 1
                    return self._send(*_error(401, "InvalidAuthenticationToken", "Access token is empty."))
                body = None
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        return self._send(*_error(400, "BadRequest", "Unable to read JSON request payload."))
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                return self._send(*owner.handle(method, url.path, query, body, dict(self.headers)))

            def do_POST(self):  # noqa: N802
                self._serve("POST")

            def do_GET(self):  # noqa: N802
                self._serve("GET")

            def _send(self, status, headers, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;odata.metadata=minimal;charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("request-id", str(uuid.uuid4()))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler


def _error(status: int, code: str, message: str, headers: dict | None = None) -> tuple[int, dict, dict]:
    request_id = str(uuid.uuid4())
    return status, dict(headers or {}), {"error": {"code": code, "message": message, "innerError": {
        "date": "2026-11-23T06:00:00", "request-id": request_id, "client-request-id": request_id}}}


def user(oid: str, name: str, user_type: str = "Member") -> dict:
    return {"@odata.type": "#microsoft.graph.user", "id": oid, "displayName": name, "userType": user_type,
            "userPrincipalName": f"{name.lower().replace(' ', '.')}@contoso.example", "mail": None,
            "givenName": name.split()[0], "surname": name.split()[-1], "accountEnabled": True}


def group(oid: str, name: str, security: bool = True) -> dict:
    return {"@odata.type": "#microsoft.graph.group", "id": oid, "displayName": name, "securityEnabled": security,
            "mailEnabled": not security, "groupTypes": []}


def service_principal(oid: str, name: str, app_id: str, kind: str = "Application") -> dict:
    return {"@odata.type": "#microsoft.graph.servicePrincipal", "id": oid, "displayName": name, "appId": app_id,
            "servicePrincipalType": kind, "accountEnabled": True}
