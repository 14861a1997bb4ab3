"""Read a Key Vault 403 as users paste it, or the explicit ``--vault/--principal/--action`` form.

Forms understood (any of them may arrive JSON-escaped, with literal ``\\n``):
- Azure CLI / access-policy vaults: ``(Forbidden) The user, group or application
  'appid=…;oid=…;iss=https://sts.windows.net/<tenant>/' does not have secrets get permission on
  key vault 'prod-kv;location=eastus'`` (inner code ``ForbiddenByPolicy`` in the JSON body);
- the RBAC error body ``{"error":{"code":"Forbidden","message":"Caller is not authorized …
  Caller: appid=…;oid=… Action: '…' Resource: '…'","innererror":{"code":"ForbiddenByRbac"}}}``;
- the firewall answer (``ForbiddenByFirewall``: ``Client address: …``, ``Vault: name;location=…``);
- the .NET ``Azure.RequestFailedException: … Status: 403 (Forbidden)`` text, which wraps either.

An error text that lacks the caller, the vault or the action raises :class:`ExplainInputError`
naming each part it could not find (exit 2).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, replace

from audit_function import permissions as perms
from audit_function.errors import KvAuditError

GUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_OID = re.compile(rf"\boid=({GUID})")
_APPID = re.compile(rf"\bappid=({GUID})")
_ISS = re.compile(r"\biss=(https?://[^'\"\s;]+)")
_TENANT_IN_ISS = re.compile(rf"/({GUID})(?:/|$)")
_CLI = re.compile(r"does not have (\w+) (\w+) permission", re.I)
_ON_VAULT = re.compile(r"on key vault '([^';]+)(?:;location=([^']*))?'", re.I)
_ACTION = re.compile(r"\bAction:\s*'([^']+)'", re.I)
_RESOURCE = re.compile(r"\bResource:\s*'([^']+)'", re.I)
_VAULT = re.compile(r"\bVault:\s*'?([^;'\s]+)(?:;location=([^\s']*))?", re.I)
_CLIENT = re.compile(r"\bClient address:\s*([0-9A-Fa-f:.]+)", re.I)
_INNER = re.compile(r"\bForbiddenBy(Rbac|Firewall|Policy|Connection)\b", re.I)
_DOTNET = re.compile(r"RequestFailedException|Status:\s*403\s*\(Forbidden\)", re.I)
_VAULT_IN_ID = re.compile(r"/providers/microsoft\.keyvault/vaults/", re.I)
_CATEGORY = {"key": "keys", "keys": "keys", "secret": "secrets", "secrets": "secrets", "certificate": "certificates",
             "certificates": "certificates", "storage": "storage"}


class ExplainInputError(KvAuditError):
    """An error text or argument that cannot be understood (exit 2); the message says what is missing."""


@dataclass(frozen=True)
class Action:
    """The data action(s) one request needs, as a mask, with the words it was given in."""

    text: str
    need: int
    names: tuple[str, ...]
    policy: tuple[str, str] | None   # (category, permission) the access-policy model calls it, if any


@dataclass(frozen=True)
class Request:
    form: str                          # azure-cli | rbac-json | rbac-text | firewall | dotnet | arguments
    inner_code: str | None = None      # ForbiddenByRbac | ForbiddenByFirewall | ForbiddenByPolicy | …
    object_id: str | None = None
    app_id: str | None = None
    token_tenant: str | None = None    # from iss=
    principal: str | None = None       # --principal as given (object id, app id or name)
    vault: str | None = None           # a vault name or a resource id (the vault or an object in it)
    location: str | None = None
    action: Action | None = None
    client_ip: str | None = None


def _text_of(raw: str) -> tuple[str, str | None]:
    """(plain text to search, inner error code from a JSON body if one is embedded)."""
    text = raw.replace("\\r\\n", "\n").replace("\\n", "\n").replace("\\r", "\n").replace('\\"', '"')
    inner = None
    start, end = raw.find("{"), raw.rfind("}")
    if 0 <= start < end:
        try:
            body = json.loads(raw[start:end + 1])
        except ValueError:
            body = None
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            message = err.get("message")
            code = (err.get("innererror") or {}).get("code") if isinstance(err.get("innererror"), dict) else None
            inner = code if isinstance(code, str) else None
            if isinstance(message, str):
                text = text + "\n" + message
    return text, inner


def parse_error(raw: str) -> Request:
    """The request an error text describes. Raises :class:`ExplainInputError` naming what is missing."""
    if not raw or not raw.strip():
        raise ExplainInputError("the error text is empty: paste the whole 403 answer (stdin or --error)")
    text, inner = _text_of(raw)
    if inner is None:
        m = _INNER.search(text)
        inner = f"ForbiddenBy{m.group(1).capitalize()}" if m else None
    if inner and inner.lower() == "forbiddenbyrbac":
        inner = "ForbiddenByRbac"
    oid, app = _OID.search(text), _APPID.search(text)
    iss = _ISS.search(text)
    tenant = None
    if iss:
        t = _TENANT_IN_ISS.search(iss.group(1))
        tenant = t.group(1).lower() if t else None
    cli, action_m, resource, vault_m = _CLI.search(text), _ACTION.search(text), _RESOURCE.search(text), _VAULT.search(text)
    client = _CLIENT.search(text)
    firewall = (inner or "").lower() == "forbiddenbyfirewall" or (client is not None and not cli and not action_m)
    vault = location = None
    action: Action | None = None
    if cli:
        action = resolve_action(f"{cli.group(1)} {cli.group(2)}")
    on_vault = _ON_VAULT.search(text)
    if on_vault:
        vault, location = on_vault.group(1), on_vault.group(2) or None
    if action_m:
        action = resolve_action(action_m.group(1))
    if resource and _VAULT_IN_ID.search(resource.group(1)):
        vault = resource.group(1)
    elif vault is None and vault_m:
        vault, location = vault_m.group(1), vault_m.group(2) or None
    ip = None
    if client:
        try:
            ip = str(ipaddress.ip_address(client.group(1).strip(".")))
        except ValueError:
            ip = None
    missing = []
    if oid is None and not firewall:
        missing.append("the caller (an 'oid=<object id>' in 'Caller: …' or in the quoted 'appid=…;oid=…;iss=…')")
    if vault is None:
        missing.append("the vault (\"on key vault '<name>'\", \"Resource: '<id>'\" or \"Vault: <name>\")")
    if action is None and not firewall:
        missing.append("the action (\"does not have <kind> <permission> permission\" or \"Action: '<data action>'\")")
    if firewall and ip is None:
        missing.append("the client address ('Client address: <ip>') of a ForbiddenByFirewall answer")
    if missing:
        raise ExplainInputError("could not read the error text; missing: " + "; ".join(missing)
                                + ". Or pass --vault, --principal and --action.")
    if firewall:
        form = "firewall"
    elif _DOTNET.search(text):
        form = "dotnet"
    elif cli:
        form = "azure-cli"
    else:
        form = "rbac-json" if "{" in raw else "rbac-text"
    return Request(form=form, inner_code=inner, object_id=oid.group(1).lower() if oid else None,
                   app_id=app.group(1).lower() if app else None, token_tenant=tenant, vault=vault,
                   location=location, action=action, client_ip=ip)


def from_arguments(vault: str | None, principal: str | None, action: str | None, from_ip: str | None) -> Request:
    missing = [f"--{n}" for n, v in (("vault", vault), ("principal", principal), ("action", action)) if not v]
    if missing:
        raise ExplainInputError(f"without an error text, explain needs {', '.join(missing)}")
    oid = principal.strip().lower() if re.fullmatch(GUID, principal.strip()) else None
    return with_ip(Request(form="arguments", object_id=oid, principal=principal.strip(), vault=vault.strip(),
                           action=resolve_action(action)), from_ip)


def with_ip(request: Request, from_ip: str | None) -> Request:
    if from_ip is None:
        return request
    try:
        return replace(request, client_ip=str(ipaddress.ip_address(from_ip.strip())))
    except ValueError:
        raise ExplainInputError(f"--from-ip {from_ip!r} is not an IPv4 or IPv6 address") from None


def _policy_name(need: int) -> tuple[str, str] | None:
    """The narrowest access-policy permission that grants every action in ``need``."""
    best = None
    for category, table in perms.POLICY_MAP.items():
        for name, mask in table.items():
            if mask & need == need and (best is None or bin(mask).count("1") < bin(best[2]).count("1")):
                best = (category, name, mask)
    return (best[0], best[1]) if best else None


def resolve_action(text: str) -> Action:
    """``secrets get`` (access-policy words), ``getSecret`` (a verb) or a full data action."""
    words = text.strip()
    if not words:
        raise ExplainInputError("the action is empty")
    if "/" in words and words.lower().startswith("microsoft."):
        bit = perms.bit(words)
        if not bit:
            raise ExplainInputError(f"{words!r} is not a Key Vault data action (control-plane actions such as "
                                    "vaults/read never reach the data plane)")
        return Action(words, bit, tuple(perms.names(bit)), _policy_name(bit))
    parts = re.split(r"[\s/]+", words)
    if len(parts) == 2 and parts[0].lower() in _CATEGORY:
        category = _CATEGORY[parts[0].lower()]
        mask = perms.permission_mask(category, parts[1])
        if mask is None or parts[1].lower() == "all":
            known = ", ".join(sorted(perms.POLICY_MAP[category]))
            raise ExplainInputError(f"{parts[1]!r} is not a {category} permission (one of {known})")
        return Action(words, mask, tuple(perms.names(mask)), (category, parts[1].lower()))
    verb = words.lower().removesuffix("/action")
    hits = [a for a in perms.DATA_ACTIONS if a.lower().removesuffix("/action").rsplit("/", 1)[-1] == verb]
    if len(hits) == 1:
        bit = perms.bit(hits[0])
        return Action(words, bit, (hits[0],), _policy_name(bit))
    if hits:
        raise ExplainInputError(f"action {words!r} is ambiguous: {', '.join(hits)}; give the kind "
                                f"('secrets get') or the full data action")
    raise ExplainInputError(f"action {words!r} is not a Key Vault data action, a verb such as getSecret, "
                            "or an access-policy permission such as 'secrets get'")
