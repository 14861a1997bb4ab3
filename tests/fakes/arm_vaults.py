"""A stateful local HTTPS ARM for ``kv-audit migrate``: vaults, their access policies, role assignments.

    GET   /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}   (vaults.get)
    PATCH (same)  body {"properties": {...}}: merges the given properties only               (vaults.update)
    PUT   (same)  405 here: a PUT would replace the access policies; migrate must never send one
    GET   {scope}/providers/Microsoft.Authorization/roleAssignments[?$filter=atScope()]        (list_for_scope)
    PUT   {scope}/providers/Microsoft.Authorization/roleAssignments/{name}                     (create)
    GET   {scope}/providers/Microsoft.Authorization/roleDefinitions?$filter=roleName eq '...'   (list, ``roles``)

Like ARM: error bodies ``{"error": {"code", "message", "details": [...]}}``; every answer carries
``x-ms-ratelimit-remaining-subscription-reads`` (or ``-writes``); api-versions are checked (400
InvalidApiVersionParameter); a principal of another tenant is rejected with 400 PrincipalNotFound; the same
principal/role/scope under another name is 409 RoleAssignmentExists; a new assignment is listed only after
``VaultFaults.visible_after`` listings of its scope; ``VaultFaults.script`` answers request n with a fault
(``500``, ``503``, ``429`` with Retry-After, ``429-lower`` with retry-after) once.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from tests.fakes.arg_estate import Estate, _norm_scope
from tests.fakes.arm_server import KEYVAULT_API, _error, send
from tests.fakes.tls import LoopbackHandler, LoopbackTls, self_signed

AUTHORIZATION_API = "2022-04-01"
_VAULT = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/[^/]+/providers/microsoft\.keyvault/vaults/[^/]+$")
_DEFINITIONS = re.compile(r"^(?P<scope>.*?)/providers/microsoft\.authorization/roledefinitions$")
_ASSIGNMENTS = re.compile(r"^(?P<scope>.*?)/providers/microsoft\.authorization/roleassignments(?:/(?P<name>[^/]+))?$")
#: ARM strips these snapshot-only keys from a vault (the collector adds them)
_SNAPSHOT_ONLY = ("tenantId", "subscriptionId", "resourceGroup")


@dataclass
class VaultFaults:
    script: dict[int, str] = field(default_factory=dict)   # request number (from 1) -> fault, once
    visible_after: int = 0                                  # listings of a scope before a new assignment shows
    foreign_principals: set[str] = field(default_factory=set)   # object ids of another tenant: 400 on create
    retry_after: int = 2
    forbidden_writes: set[str] = field(default_factory=set)     # vault ids (any case): 403 on PATCH / create


class FakeArmVaults(LoopbackTls):
    """``vaults``: lower-cased id -> ARM vault JSON; ``assignments``: lower-cased id -> ARM JSON; ``log``."""

    def __init__(self, tables: dict[str, list], *, faults: VaultFaults | None = None, token: str | None = None,
                 cert_dir: Path | None = None, tenant: str = "") -> None:
        self.faults = faults or VaultFaults()
        self.token = token
        self.tenant = tenant
        self.estate = Estate(tables)
        self.vaults = {str(r["id"]).lower(): {k: v for k, v in json.loads(json.dumps(r)).items() if k not in _SNAPSHOT_ONLY}
                       for r in tables.get("vaults", [])}
        self.assignments: dict[str, dict] = {}
        self.listed_after: dict[str, int] = {}   # assignment key -> listings of its scope before it shows
        self.listings: Counter = Counter()
        for row in tables.get("role_assignments", []):
            row = {k: v for k, v in row.items() if k != "tenantId"}
            self.assignments[str(row["id"]).lower()] = row
        #: custom role definitions (ARM JSON: id, name = GUID, properties.roleName / assignableScopes), as
        #: ``az role definition create`` leaves them (its own GUID)
        self.roles: list[dict] = []
        self.requests = 0
        self.log: list[dict] = []
        self.statuses: Counter = Counter()
        self._lock = threading.Lock()
        cert_dir = Path(cert_dir or tempfile.mkdtemp(prefix="fake-arm-vaults-"))
        ca_path, key_path = self_signed(cert_dir)
        owner = self

        class Handler(LoopbackHandler):

            def _go(self, method):
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null") if length else None
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Bearer ") or (owner.token and auth != f"Bearer {owner.token}"):
                    return send(self, 401, {}, _error("AuthenticationFailed", "Authentication failed."))
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                return send(self, *owner.handle(method, unquote(url.path), query, body))

            def do_GET(self):  # noqa: N802
                self._go("GET")

            def do_PUT(self):  # noqa: N802
                self._go("PUT")

            def do_PATCH(self):  # noqa: N802
                self._go("PATCH")

            def log_message(self, *args):
                pass

        self.url = self.serve(Handler, ca_path, key_path)

    # -- test helpers ---------------------------------------------------------------------------
    def vault(self, vault_id: str) -> dict:
        return self.vaults[vault_id.lower()]

    def rbac(self, vault_id: str):
        return self.vault(vault_id)["properties"].get("enableRbacAuthorization")

    def add_policy(self, vault_id: str, entry: dict) -> None:
        self.vault(vault_id)["properties"].setdefault("accessPolicies", []).append(entry)

    def writes(self) -> list[dict]:
        return [e for e in self.log if e["method"] != "GET" and e["status"] in (200, 201)]

    # -- the service ----------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict, body) -> tuple[int, dict, dict]:
        norm = _norm_scope(path)
        with self._lock:
            self.requests += 1
            n = self.requests
            fault = self.faults.script.pop(n, None)
            kind = "reads" if method == "GET" else "writes"
            headers = {f"x-ms-ratelimit-remaining-subscription-{kind}": "11999",
                       "x-ms-request-id": f"00000000-0000-0000-0002-{n:012d}"}
            status, payload = self._answer(method, norm, query, body, fault, headers)
            self.log.append({"n": n, "method": method, "path": norm, "filter": query.get("$filter"),
                             "body": body, "status": status, "fault": fault})
            self.statuses[status] += 1
        return status, headers, payload

    def _answer(self, method, norm, query, body, fault, headers):
        if fault in ("429", "429-lower"):
            headers["Retry-After" if fault == "429" else "retry-after"] = str(self.faults.retry_after)
            return 429, _error("TooManyRequests", "The request is being throttled.",
                               [("SubscriptionRequestsThrottled", "Number of requests for subscription actor "
                                 f"exceeded. Please try again after {self.faults.retry_after} seconds.")])
        if fault in ("500", "503"):
            return int(fault), _error("InternalServerError", "Encountered an internal server error.",
                                      [("BackendUnavailable", f"the backend for {norm} timed out")])
        if _VAULT.match(norm):
            return self._vault(method, norm, query, body)
        m = _DEFINITIONS.match(norm)
        if m:
            return self._definitions(method, m.group("scope") or "/", query)
        m = _ASSIGNMENTS.match(norm)
        if m:
            return self._assignments(method, m.group("scope") or "/", m.group("name"), query, body)
        return 404, _error("NotFound", f"no fake route for {method} {norm}")

    def _vault(self, method, norm, query, body):
        if query.get("api-version") != KEYVAULT_API:
            return 400, _bad_version(query, KEYVAULT_API)
        vault = self.vaults.get(norm)
        if vault is None:
            return 404, _error("ResourceNotFound", f"The Resource 'Microsoft.KeyVault/vaults/{norm.rsplit('/', 1)[-1]}'"
                               " under resource group was not found.")
        if method == "GET":
            return 200, vault
        if method == "PUT":
            return 405, _error("MethodNotAllowed", "this fake refuses PUT: it would replace the access policies")
        if norm in {v.lower() for v in self.faults.forbidden_writes}:
            return 403, _forbidden("Microsoft.KeyVault/vaults/write", norm)
        props = (body or {}).get("properties") or {}
        vault.setdefault("properties", {}).update(props)
        return 200, vault

    def _assignments(self, method, scope, name, query, body):
        if query.get("api-version") != AUTHORIZATION_API:
            return 400, _bad_version(query, AUTHORIZATION_API)
        if method == "GET" and name is None:
            return 200, {"value": self._list(scope, query.get("$filter"))}
        if method != "PUT" or name is None:
            return 405, _error("MethodNotAllowed", f"{method} is not supported here")
        if scope in {v.lower() for v in self.faults.forbidden_writes}:
            return 403, _forbidden("Microsoft.Authorization/roleAssignments/write", scope)
        props = (body or {}).get("properties") or {}
        principal = str(props.get("principalId") or "").lower()
        if principal in {p.lower() for p in self.faults.foreign_principals}:
            return 400, _error("PrincipalNotFound", f"Principal {principal.replace('-', '')} does not exist in the "
                               f"directory {self.tenant}. Check that you have the correct principal ID. If you are "
                               "creating this principal and then immediately assigning a role, this error might be "
                               "related to a replication delay. In this case, set the role assignment "
                               "principalType property to a value, such as ServicePrincipal, User, or Group.")
        rid = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
        role = str(props.get("roleDefinitionId") or "").lower().rsplit("/", 1)[-1]
        for key, row in self.assignments.items():
            p = row.get("properties") or {}
            same = (_norm_scope(str(p.get("scope") or "")) == scope and str(p.get("principalId")).lower() == principal
                    and str(p.get("roleDefinitionId") or "").lower().rsplit("/", 1)[-1] == role)
            if same and key != rid.lower():
                return 409, _error("RoleAssignmentExists", "The role assignment already exists.")
        row = {"id": rid, "name": name, "type": "Microsoft.Authorization/roleAssignments",
               "properties": {"roleDefinitionId": props.get("roleDefinitionId"), "principalId": props.get("principalId"),
                              "principalType": props.get("principalType"), "scope": scope,
                              "description": props.get("description")}}
        if rid.lower() in self.assignments:
            return 201, self.assignments[rid.lower()]
        self.assignments[rid.lower()] = row
        self.listed_after[rid.lower()] = self.listings[scope] + self.faults.visible_after
        return 201, row

    def _definitions(self, method, scope, query):
        if query.get("api-version") != AUTHORIZATION_API:
            return 400, _bad_version(query, AUTHORIZATION_API)
        if method != "GET":
            return 405, _error("MethodNotAllowed", f"{method} is not supported here")
        filt = query.get("$filter") or ""
        m = re.fullmatch(r"\s*roleName eq '((?:[^']|'')*)'\s*", filt)
        if filt and not m:
            return 400, _error("InvalidFilter", f"unsupported $filter {filt!r}")
        name = m.group(1).replace("''", "'") if m else None
        return 200, {"value": [r for r in self.roles
                               if (name is None or r["properties"]["roleName"] == name)
                               and any(self.estate.within(scope, _norm_scope(a)) or _norm_scope(a) == scope
                                       for a in r["properties"]["assignableScopes"])]}

    def _list(self, scope: str, filt: str | None) -> list[dict]:
        at_or_above = (filt or "").replace(" ", "").lower() == "atscope()"
        self.listings[scope] += 1
        out = []
        for key, row in sorted(self.assignments.items()):
            loc = _norm_scope(str((row.get("properties") or {}).get("scope") or "/"))
            hidden = self.listed_after.get(key)
            if hidden is not None and self.listings[loc] <= hidden:
                continue
            if self.estate.within(scope, loc) or (not at_or_above and self.estate.within(loc, scope)):
                out.append(row)
        return out


def _bad_version(query, version):
    return _error("InvalidApiVersionParameter", f"The api-version '{query.get('api-version')}' is invalid. The "
                  f"supported versions are '{version}'.")


def _forbidden(action: str, scope: str) -> dict:
    return _error("AuthorizationFailed", "The client '11111111-1111-1111-1111-111111111111' with object id "
                  "'11111111-1111-1111-1111-111111111111' does not have authorization to perform action "
                  f"'{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, "
                  "please refresh your credentials.",
                  [("RoleBasedAccessControl", f"missing {action}")])
