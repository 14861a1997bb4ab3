"""Azure scopes as the estate keys them: lower-cased keys, their ancestors, their level, what they name."""

from __future__ import annotations

import re

from audit_function.estate.rows import RowError


AUTHORIZATION_MARKER = "/providers/microsoft.authorization/"


MG_PREFIX = "/providers/microsoft.management/managementgroups/"


VAULT_SEGMENT = "/providers/microsoft.keyvault/vaults/"


def scope_key(scope: str) -> str:
    """Lower-cased scope without a trailing slash (``/`` stays ``/``)."""
    key = scope.strip().lower()
    if len(key) > 1:
        key = key.rstrip("/")
    return key or "/"


def trailing_guid(role_definition_id: str) -> str:
    """Role definitions match by the GUID at the end of their id, whatever the prefix and casing."""
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def prefixes(key: str):
    """Every prefix of a scope key that ends at a ``/`` boundary, the key itself included."""
    position = key.find("/", 1)
    while position != -1:
        yield key[:position]
        position = key.find("/", position + 1)
    yield key


def scope_from_id(resource_id: str, scope: str | None) -> str:
    """A grant's or deny's scope: ``properties.scope``, else its id before the last Authorization provider.

    A scope that is not an Azure scope (``/``, ``/subscriptions/…``, ``/providers/…``) is bad input:
    it would silently cover nothing, so the row becomes a gap instead."""
    if scope is None:
        cut = resource_id.lower().rfind(AUTHORIZATION_MARKER)
        if cut < 0:
            raise RowError("properties.scope is missing and the id has no /providers/Microsoft.Authorization/ part")
        scope = resource_id[:cut] or "/"
    if not _AZURE_SCOPE.match(scope):
        raise RowError(f"scope {scope[:200]!r} is not an Azure scope ('/', '/subscriptions/…' or '/providers/…')")
    return scope


#: a resource inside a resource group (any provider, type and name), and a vault or anything inside one:
#: nothing below a non-vault resource is a vault (collect/filters.py pushes the same test into the query)
RESOURCE_SCOPE = r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/[^/]+/[^/]+/[^/]+"


VAULT_SCOPE = r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.keyvault/vaults/[^/]+"


_RESOURCE, _VAULT = re.compile(RESOURCE_SCOPE), re.compile(VAULT_SCOPE)


def below_non_vault_resource(scope: str) -> bool:
    """Whether a scope is a resource inside a resource group that is not a vault (nor inside one)."""
    key = scope.lower()
    return bool(_RESOURCE.search(key)) and not _VAULT.search(key)


_AZURE_SCOPE = re.compile(r"^/$|^/subscriptions/[^/]+(/[^/]+)*/?$|^/providers/[^/]+(/[^/]+)+/?$", re.IGNORECASE)


LIGHTHOUSE_MARKER = "/providers/microsoft.managedservices/registrationassignments/"


def scope_level(key: str, vault_keys=None) -> str:
    """``root``, ``managementGroup``, ``subscription``, ``resourceGroup``, ``vault``, ``object`` or ``resource``."""
    if key == "/":
        return "root"
    if key.startswith(MG_PREFIX):
        return "managementGroup"
    parts = key.split("/")
    # "", "subscriptions", id, "resourcegroups", name, "providers", ...
    if len(parts) == 3 and parts[1] == "subscriptions":
        return "subscription"
    if len(parts) == 5 and parts[1] == "subscriptions" and parts[3] == "resourcegroups":
        return "resourceGroup"
    if vault_keys is not None:
        if key in vault_keys:
            return "vault"
        for prefix in prefixes(key):
            if prefix in vault_keys:
                return "object"
    if VAULT_SEGMENT in key:  # also a vault (or an object in one) that is not in the snapshot
        tail = key.split(VAULT_SEGMENT, 1)[1]
        return "object" if "/" in tail else "vault"
    return "resource"
