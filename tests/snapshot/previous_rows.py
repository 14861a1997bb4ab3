"""The vault reading as it was before the hot path (commit 6e2e7f1), kept as the oracle that
tests/snapshot/test_fast_rows.py holds audit_function/estate/vault_rows.py to: same vaults, same
entries, same errors, for every row. Its helpers (network ACLs, endpoints, and the checked reading
of a policy entry, which the hot path falls back to) are the shipped ones.
"""

from __future__ import annotations

from dataclasses import replace

from audit_function.estate.model import PUBLIC_OFF, Vault
from audit_function.estate.rows import RowError, _bool, _list, _str
from audit_function.estate.scopes import scope_key
# an entry as the checked path reads it (what every entry went through before the hot path)
from audit_function.estate.vault_rows import _network_acls, _private_endpoints, _subscription_in
from audit_function.estate.vault_rows import _policy_entry_checked as _policy_entry


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
