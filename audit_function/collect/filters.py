"""The one row filter pushed into a Resource Graph query, and its Python twin.

Role assignments: a row is dropped only when its lower-cased ``properties.scope`` is a resource
inside a resource group (``/subscriptions/*/resourcegroups/*/providers/<ns>/<type>/<name>...``)
and that resource is not a Key Vault vault. Nothing below such a scope is a vault, so no
assignment that can reach a vault is lost. Kept: ``/``, management groups, subscriptions,
resource groups, vaults and anything inside a vault, every other shape (subscription-level
extension resources, odd or malformed scopes), and rows whose scope is missing.

``role_assignments.kql`` carries the same two regular expressions (a test checks the text);
the test endpoint applies :func:`keep_role_assignment` because it cannot run KQL.
"""

from __future__ import annotations

import json
import re

from audit_function.estate.scopes import RESOURCE_SCOPE, VAULT_SCOPE# the loader applies the same test

#: The clause as it appears in role_assignments.kql (after ``extend scopeKey = tolower(tostring(properties.scope))``).
KQL_WHERE = (f"| where not(scopeKey matches regex @'{RESOURCE_SCOPE}') "
             f"or scopeKey matches regex @'{VAULT_SCOPE}'")
KQL_EXTEND = "| extend scopeKey = tolower(tostring(properties.scope))"

_RESOURCE = re.compile(RESOURCE_SCOPE)
_VAULT = re.compile(VAULT_SCOPE)


def _kql_tostring(value) -> str:
    """KQL tostring() of a dynamic value: strings as is, null as '', anything else as JSON text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def keep_role_assignment(row: dict) -> bool:
    """Python twin of the role_assignments.kql filter: False only for non-vault resource scopes."""
    props = row.get("properties") if isinstance(row, dict) else None
    scope = props.get("scope") if isinstance(props, dict) else None
    key = _kql_tostring(scope).lower()
    return not _RESOURCE.search(key) or bool(_VAULT.search(key))


#: table -> (clause that must be in the query text, the Python twin).
TWINS = {"role_assignments": (KQL_WHERE, keep_role_assignment)}
