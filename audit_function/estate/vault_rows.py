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
from audit_function.estate.rows import RowError, _bool, _list, _str, get_ci
from audit_function.estate.scopes import scope_key


def _policy_entry(index: int, raw, vault_tenant: str | None) -> PolicyEntry:
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
    permissions, data, broad, unknown = perms.policy_permission_set(tuple(key))
    object_id = sys.intern(object_id)   # principals recur across vaults: one string each
    lower = object_id.lower()
    return PolicyEntry(index, sys.intern(tenant), object_id, app, permissions, data, broad, unknown,
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
    props = {k.lower(): v for k, v in props.items()}  # property names in any casing, looked up once
    rbac = _bool(props.get("enablerbacauthorization"), "properties.enableRbacAuthorization")
    unreadable: list[tuple[str, str]] = []

    def lenient(prop: str, read, default=None):
        """A property that cannot be understood is recorded (the rules reading it are not evaluated);
        the vault's other properties and findings are kept."""
        try:
            return read()
        except RowError as exc:
            unreadable.append((prop, str(exc)))
            return default

    tenant = lenient("tenantId", lambda: _str(props.get("tenantid"), "properties.tenantId"))
    pna = lenient("publicNetworkAccess", lambda: _str(props.get("publicnetworkaccess"), "properties.publicNetworkAccess"))
    acls, default_action, ip_rules, bad = lenient("networkAcls", lambda: _network_acls(props.get("networkacls")),
                                                  (None, None, [], []))
    endpoints = lenient("privateEndpointConnections",
                        lambda: _private_endpoints(props.get("privateendpointconnections")), [])
    soft_delete = lenient("enableSoftDelete", lambda: _bool(props.get("enablesoftdelete"), "properties.enableSoftDelete"))
    purge_protection = lenient("enablePurgeProtection",
                               lambda: _bool(props.get("enablepurgeprotection"), "properties.enablePurgeProtection"))
    policies = [_policy_entry(i, entry, tenant)
                for i, entry in enumerate(_list(props.get("accesspolicies"), "properties.accessPolicies"))]
    seen: dict[str, int] = {}
    for n, entry in enumerate(policies):
        count = seen.get(entry.identity, 0)
        seen[entry.identity] = count + 1
        if count:
            policies[n] = replace(entry, occurrence=count)
    tags = row.get("tags")
    return Vault(
        id=vault_id,
        key=scope_key(vault_id),
        name=_str(row.get("name"), "name") or vault_id,   # never parsed out of the id (names may hold anything)
        subscription_id=_str(row.get("subscriptionId"), "subscriptionId") or _subscription_in(vault_id),
        resource_group=_str(row.get("resourceGroup"), "resourceGroup"),
        location=_str(row.get("location"), "location"),
        row_tenant_id=_str(row.get("tenantId"), "tenantId"),
        tenant_id=tenant,
        model="rbac" if rbac is True else "accessPolicy",
        rbac_setting=rbac,
        public_network_access=pna,
        public_disabled=(pna or "").lower() in PUBLIC_OFF,
        acl_default_action="Deny" if (default_action or "").lower() == "deny" else "Allow",
        ip_rules=tuple(dict.fromkeys(ip_rules)),
        bad_ip_rules=tuple(bad),
        private_endpoints=tuple(endpoints),
        soft_delete=soft_delete,
        purge_protection=purge_protection,
        template_deployment=props.get("enabledfortemplatedeployment") is True,   # only JSON true enables it
        access_policies=tuple(policies),
        tags=tags if isinstance(tags, dict) else {},
        unreadable=tuple(unreadable),
    )


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
