"""Vault rows (Key Vault resources as ARG returns them) -> :class:`~audit_function.estate.model.Vault`:
network rules, private endpoints, access-policy entries and the data actions each entry grants.
"""

from __future__ import annotations

import ipaddress
import sys
from dataclasses import replace
from functools import lru_cache

from audit_function import permissions as perms
from audit_function.estate.model import PUBLIC_OFF, PolicyEntry, Vault
from audit_function.estate.rows import Fields, RowError, builder, _bool, _list, _str, get_ci
from audit_function.estate.scopes import scope_key


_ENTRY = Fields("objectId", "tenantId", "applicationId", "permissions")
_new_entry, _new_vault = builder(PolicyEntry), builder(Vault)

#: permissions object as read ((category, names as found), ...) -> policy_permission_set of it, for
#: keys whose names are all strings (then the key is its own str() form; bounded like that cache)
_PERMISSION_SETS: dict[tuple, tuple] = {}


def _policy_entry(index: int, raw, vault_tenant: str | None) -> PolicyEntry:
    """One access-policy entry. The usual shape (string ids, arrays of names, no case-variant keys)
    is read with exact lookups; anything else goes through :func:`_policy_entry_checked`."""
    if raw.__class__ is dict:
        object_id, tenant, app, raw_perms = (raw.get("objectId"), raw.get("tenantId"), raw.get("applicationId"),
                                             raw.get("permissions"))
        if (object_id.__class__ is str and object_id and (tenant is None or tenant.__class__ is str)
                and (app is None or app.__class__ is str) and raw_perms.__class__ is dict
                # no key but the ones found (then none is a case variant), or none that could be one
                and (len(raw) == 2 + (tenant is not None) + (app is not None) or _ENTRY.plain(raw))):
            found = []
            for category, value in raw_perms.items():
                if value.__class__ is list:
                    found.append((category, tuple(value)))
                elif value is None:
                    found.append((category, ()))
                else:
                    break   # not an array: the checked path names it
            else:
                found = tuple(found)
                # a hit equals a key of strings only, so its names are strings and str() of them is itself
                try:
                    hit = _PERMISSION_SETS.get(found)
                except TypeError:   # a name that is an object or an array: the checked path maps its str()
                    return _policy_entry_checked(index, raw, vault_tenant)
                if hit is None:
                    key = tuple((category, tuple(map(str, names))) for category, names in found)
                    hit = perms.policy_permission_set(key)
                    if key == found and len(_PERMISSION_SETS) < 100_000:
                        _PERMISSION_SETS[found] = hit
                return _entry(index, tenant or "", object_id, app or None, hit)
    return _policy_entry_checked(index, raw, vault_tenant)


def _policy_entry_checked(index: int, raw, vault_tenant: str | None) -> PolicyEntry:
    where = f"properties.accessPolicies[{index}]"
    if not isinstance(raw, dict):
        raise RowError(f"{where} must be an object")
    object_id = _str(get_ci(raw, "objectId"), f"{where}.objectId", required=True)
    tenant = _str(get_ci(raw, "tenantId"), f"{where}.tenantId") or ""
    app = _str(get_ci(raw, "applicationId"), f"{where}.applicationId")
    raw_perms = get_ci(raw, "permissions") or {}
    if not isinstance(raw_perms, dict):
        raise RowError(f"{where}.permissions must be an object")
    key = []
    for category, value in raw_perms.items():
        names = _list(value, f"{where}.permissions.{category}")
        key.append((category, tuple(str(n) for n in names)))
    return _entry(index, tenant, object_id, app, perms.policy_permission_set(tuple(key)))


def _entry(index: int, tenant: str, object_id: str, app: str | None, mapped: tuple) -> PolicyEntry:
    permissions, data, broad, unknown = mapped
    object_id = sys.intern(object_id)   # principals recur across vaults: one string each
    lower = object_id.lower()
    return _new_entry(index, sys.intern(tenant), object_id, app, permissions, data, broad, unknown,
                      object_id if lower == object_id else sys.intern(lower))


@lru_cache(maxsize=65536)
def _prefix_length(value: str) -> int | None:
    """Prefix length of an IP rule value (``None`` when it is not an address at all)."""
    text = value.strip()
    address, slash, length = text.partition("/")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if not slash:
        return ip.max_prefixlen
    if not (length.isascii() and length.isdigit()) or int(length) > ip.max_prefixlen:
        return None
    return int(length)


def is_ipv6(value: str) -> bool:
    return ":" in value


def vault_from_row(row: dict) -> Vault:
    if not isinstance(row, dict):
        raise RowError("row is not a JSON object")
    vault_id = _str(row.get("id"), "id", required=True)
    props = row.get("properties")
    if not isinstance(props, dict):
        # catalog 2: never audit a vault as "every property missing"
        raise RowError("properties is missing" if props is None else "properties must be an object")
    (rbac, tenant, pna, acls, endpoints, soft_delete, purge_protection, policies,
     template_deployment) = _vault_properties(props)
    if not (rbac is None or rbac is True or rbac is False):
        rbac = _bool(rbac, "properties.enableRbacAuthorization")   # raises
    # a property that cannot be understood is recorded (the rules reading it are not evaluated);
    # the vault's other properties and findings are kept
    unreadable: list[tuple[str, str]] = []
    tenant = _lenient_text(tenant, "tenantId", unreadable)
    pna = _lenient_text(pna, "publicNetworkAccess", unreadable)
    try:
        acls, default_action, ip_rules, bad = _network_acls(acls) if acls is not None else (None, None, [], [])
    except RowError as exc:
        unreadable.append(("networkAcls", str(exc)))
        acls, default_action, ip_rules, bad = None, None, [], []
    try:
        endpoints = _private_endpoints(endpoints) if endpoints is not None else []
    except RowError as exc:
        unreadable.append(("privateEndpointConnections", str(exc)))
        endpoints = []
    soft_delete = _lenient_flag(soft_delete, "enableSoftDelete", unreadable)
    purge_protection = _lenient_flag(purge_protection, "enablePurgeProtection", unreadable)
    policies = [_policy_entry(i, entry, tenant) for i, entry in enumerate(_list(policies, "properties.accessPolicies"))]
    if len(policies) > 1:
        seen: dict[str, int] = {}
        for n, entry in enumerate(policies):
            identity = entry.identity
            count = seen.get(identity, 0)
            seen[identity] = count + 1
            if count:
                policies[n] = replace(entry, occurrence=count)
    name, subscription, group, location, row_tenant = _row_strings(row)
    tags = row.get("tags")
    # positional, in the order of model.Vault's fields (tests/snapshot/test_fast_rows.py holds it to
    # the previous, keyword-built reading)
    return _new_vault(
        vault_id, scope_key(vault_id),
        name or vault_id,   # never parsed out of the id (names may hold anything)
        subscription or _subscription_in(vault_id), group, location, row_tenant, tenant,
        "rbac" if rbac is True else "accessPolicy", rbac,
        pna, (pna or "").lower() in PUBLIC_OFF,
        "Deny" if (default_action or "").lower() == "deny" else "Allow",
        tuple(dict.fromkeys(ip_rules)), tuple(bad), tuple(endpoints),
        soft_delete, purge_protection,
        template_deployment is True,   # only JSON true enables it
        tuple(policies),
        tags if isinstance(tags, dict) else {},
        tuple(unreadable),
    )


_ROW_KEYS = ("name", "subscriptionId", "resourceGroup", "location", "tenantId")


def _row_strings(row: dict) -> list:
    """name, subscriptionId, resourceGroup, location and tenantId of a vault row (``_str`` of each)."""
    values = [row.get(k) for k in _ROW_KEYS]
    for value in values:
        if value is not None and value.__class__ is not str:
            return [_str(v, k) for v, k in zip(values, _ROW_KEYS)]   # raises the first one's error
    return [v or None for v in values]


#: the vault properties the model reads (in the order _vault_properties returns them)
_VAULT_KEYS = ("enableRbacAuthorization", "tenantId", "publicNetworkAccess", "networkAcls", "privateEndpointConnections",
               "enableSoftDelete", "enablePurgeProtection", "accessPolicies", "enabledForTemplateDeployment")
_VAULT_LOWER = tuple(k.lower() for k in _VAULT_KEYS)
_VAULT = Fields(*_VAULT_KEYS)


def _vault_properties(props: dict) -> tuple:
    """The values of _VAULT_KEYS in ``props``, property names in any casing (of two spellings of
    one name the last wins); ARG's own spelling is read with exact lookups."""
    if _VAULT.plain(props):
        return tuple(map(props.get, _VAULT_KEYS))
    lowered = {k.lower(): v for k, v in props.items()}
    return tuple(map(lowered.get, _VAULT_LOWER))


def _lenient_text(value, prop: str, unreadable: list) -> str | None:
    if value is None or value.__class__ is str:
        return value or None
    try:
        return _str(value, f"properties.{prop}")
    except RowError as exc:
        unreadable.append((prop, str(exc)))
        return None


def _lenient_flag(value, prop: str, unreadable: list) -> bool | None:
    if value is None or value is True or value is False:
        return value
    try:
        return _bool(value, f"properties.{prop}")
    except RowError as exc:
        unreadable.append((prop, str(exc)))
        return None


def _network_acls(acls) -> tuple[dict | None, str | None, list[str], list[str]]:
    """(networkAcls, defaultAction, IP rules, values that are not addresses)."""
    if acls is not None and not isinstance(acls, dict):
        raise RowError("properties.networkAcls must be an object")
    default_action = _str(get_ci(acls, "defaultAction"), "properties.networkAcls.defaultAction")
    ip_rules: list[str] = []
    bad: list[str] = []
    for rule in _list(get_ci(acls, "ipRules"), "properties.networkAcls.ipRules"):
        if rule is None:
            continue  # null means missing
        value = get_ci(rule, "value") if isinstance(rule, dict) else rule
        if not isinstance(value, str) or _prefix_length(value) is None:
            bad.append(repr(value))
        else:
            ip_rules.append(value.strip())
    return acls, default_action, ip_rules, bad


def _private_endpoints(connections) -> list[tuple[str, str]]:
    """(private endpoint id, connection status) of each private endpoint connection."""
    endpoints = []
    for i, conn in enumerate(_list(connections, "properties.privateEndpointConnections")):
        if not isinstance(conn, dict):
            raise RowError(f"properties.privateEndpointConnections[{i}] must be an object")
        cprops = get_ci(conn, "properties") or {}
        state = get_ci(cprops, "privateLinkServiceConnectionState") or {}
        status = get_ci(state, "status") or ""
        endpoint = get_ci(get_ci(cprops, "privateEndpoint") or {}, "id") or get_ci(conn, "id") or ""
        endpoints.append((str(endpoint), str(status)))
    return endpoints


def _subscription_in(resource_id: str) -> str | None:
    """The subscription GUID a resource id starts with (used only when the row lacks the column)."""
    parts = resource_id.split("/")
    return parts[2] if len(parts) > 2 and parts[1].lower() == "subscriptions" and parts[2] else None


def ip_prefix_length(value: str) -> int:
    length = _prefix_length(value)
    assert length is not None, value
    return length
