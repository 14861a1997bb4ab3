"""Which grant rows the estate keeps: most of an estate's role assignments cannot touch a vault.

:func:`assignment_can_matter` and :func:`at_management_group` are the definitions;
:class:`GrantFilter` applies both to the million rows of a load with per-load caches, with the
same answers (tests/snapshot/test_fast_rows.py compares them row by row).
"""

from __future__ import annotations

from audit_function.estate import model, scopes

#: fewest ``/`` in a scope that scopes.RESOURCE_SCOPE can match: /subscriptions/s/resourcegroups/g/providers/p/t/n
#: (fewer: not below any resource; lower-casing never adds or removes a ``/``)
RESOURCE_SLASHES = 8


def assignment_can_matter(row: dict, definitions: dict[str, model.RoleDefinition]) -> bool:
    """Cheap pre-check on the raw row: False only when the assignment provably cannot affect a vault.

    An assignment is dropped when its role is known and grants neither Key Vault data actions nor
    a self-grant control action, or when its scope is a resource that is not a vault (nothing
    below such a scope is a vault). Anything unusual is kept and normalized fully.
    """
    props = row.get("properties") if isinstance(row, dict) else None
    if not isinstance(props, dict):
        return True
    role_id = props.get("roleDefinitionId")
    if isinstance(role_id, str):
        role = definitions.get(scopes.trailing_guid(role_id))
        if role is not None and not role.relevant:
            return False
    scope = props.get("scope")
    if isinstance(scope, str) and scopes.below_non_vault_resource(scope):
        return False   # anything unusual (a malformed scope included) is kept and judged by the row parser
    return True


def at_management_group(row) -> bool:
    """Whether a grant row (kept or not) is at management-group scope."""
    props = row.get("properties") if isinstance(row, dict) else None
    scope = props.get("scope") if isinstance(props, dict) else None
    if not isinstance(scope, str) and isinstance(row, dict) and isinstance(row.get("id"), str):
        scope = row["id"]
    return isinstance(scope, str) and scope.lower().startswith(scopes.MG_PREFIX)


class GrantFilter:
    """``keep(row)`` for role assignment and eligibility rows: :func:`assignment_can_matter`, and
    ``management_group`` set once any row seen is :func:`at_management_group`.

    Built after the role definitions are complete (it reads them once: the GUIDs of the roles
    known to grant nothing that matters). A scope with too few segments to be below a resource
    skips the regular expressions. ``keep`` is a plain function, called once per row. (Caching
    per role id does not pay: an estate spells one role as many ids as it has subscriptions.)
    """

    def __init__(self, definitions: dict[str, model.RoleDefinition]):
        self.management_group = False
        self.keep = self._keep(definitions)

    def _keep(self, definitions):
        irrelevant = frozenset(guid for guid, role in definitions.items() if not role.relevant)
        below = scopes.below_non_vault_resource

        def keep(row) -> bool:
            if not self.management_group and at_management_group(row):
                self.management_group = True
            props = row.get("properties") if row.__class__ is dict else None
            if props.__class__ is not dict:
                return assignment_can_matter(row, definitions)
            role_id = props.get("roleDefinitionId")
            # scopes.trailing_guid: the GUID after the last "/", whatever the prefix and casing
            if isinstance(role_id, str) and role_id.rstrip("/").rpartition("/")[2].lower() in irrelevant:
                return False
            scope = props.get("scope")
            return not (isinstance(scope, str) and scope.count("/") >= RESOURCE_SLASHES and below(scope))

        return keep
