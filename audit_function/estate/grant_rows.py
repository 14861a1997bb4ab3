"""Authorization rows -> grants: role definitions (with the actions they grant, as bitmasks), role
assignments, PIM eligibilities, deny assignments and Azure Lighthouse delegations.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from audit_function import permissions as perms
from audit_function.estate.model import DenyAssignment, PermissionBlock, RoleAssignment, RoleDefinition
from audit_function.estate.rows import Fields, RowError, builder, _bool, _list, _str, get_ci
from audit_function.estate.scopes import LIGHTHOUSE_MARKER, scope_from_id, scope_key, trailing_guid


def _strings(value, what: str) -> tuple[str, ...]:
    items = _list(value, what)
    for i, v in enumerate(items):
        if not isinstance(v, str):
            raise RowError(f"{what}[{i}] must be a string, got {type(v).__name__}")
    return tuple(items)


def role_definition_from_row(row: dict, builtin_fallback: bool = False) -> RoleDefinition:
    if not isinstance(row, dict):
        raise RowError("row is not a JSON object")
    role_id = _str(row.get("id"), "id") or _str(row.get("name"), "name", required=True)
    props = row.get("properties")
    if props is None and "properties" not in row and get_ci(row, "permissions") is not None:
        props = row  # `az role definition list` shape: properties flattened
    if not isinstance(props, dict):
        raise RowError("properties is missing" if props is None else "properties must be an object")
    if get_ci(props, "permissions") is None:
        raise RowError("properties.permissions is missing: the role's grants are unknown")
    blocks = []
    for i, raw in enumerate(_list(get_ci(props, "permissions"), "properties.permissions")):
        if not isinstance(raw, dict):
            raise RowError(f"properties.permissions[{i}] must be an object")
        blocks.append(PermissionBlock(
            _strings(get_ci(raw, "actions"), "actions"),
            _strings(get_ci(raw, "notActions"), "notActions"),
            _strings(get_ci(raw, "dataActions"), "dataActions"),
            _strings(get_ci(raw, "notDataActions"), "notDataActions"),
        ))
    data, control, wildcards = perms.role_masks(blocks)
    # ARG rows carry the role type in properties.type; the flattened `az role definition list` shape
    # has it in roleType, and its `type` is the resource type (Microsoft.Authorization/roleDefinitions).
    role_type = str(get_ci(props, "roleType") or get_ci(props, "type") or "")
    return RoleDefinition(
        id=role_id,
        guid=trailing_guid(role_id),
        name=str(get_ci(props, "roleName") or role_id),
        custom=role_type.lower() == "customrole",
        blocks=tuple(blocks),
        data=data,
        control=control,
        wildcards=wildcards,
        builtin_fallback=builtin_fallback,
    )


def lighthouse_grants_from_row(row: dict) -> list[RoleAssignment]:
    """An Azure Lighthouse registration assignment as grants: one per authorization of its definition,
    held by a principal of the managing tenant at the assignment's scope (eligible authorizations
    are eligible grants). Delegated access is not a role assignment of the customer tenant."""
    if not isinstance(row, dict):
        raise RowError("row is not a JSON object")
    reg_id = _str(row.get("id"), "id", required=True)
    cut = reg_id.lower().rfind(LIGHTHOUSE_MARKER)
    if cut <= 0:
        raise RowError("id is not a .../providers/Microsoft.ManagedServices/registrationAssignments/... id")
    scope = reg_id[:cut]
    props = row.get("properties")
    definition = get_ci(get_ci(props, "registrationDefinition"), "properties") if isinstance(props, dict) else None
    if not isinstance(definition, dict):
        raise RowError("properties.registrationDefinition.properties is missing")
    tenant = _str(get_ci(definition, "managedByTenantId"), "managedByTenantId")
    out = []
    for kind, eligible in (("authorizations", False), ("eligibleAuthorizations", True)):
        for i, auth in enumerate(_list(get_ci(definition, kind), kind)):
            where = f"properties.registrationDefinition.properties.{kind}[{i}]"
            principal = _str(get_ci(auth, "principalId"), f"{where}.principalId", required=True)
            role_id = _str(get_ci(auth, "roleDefinitionId"), f"{where}.roleDefinitionId", required=True)
            grant_id = f"{reg_id}#{kind}/{principal}/{role_id}"
            out.append(RoleAssignment(
                id=grant_id, scope=scope, scope_key=sys.intern(scope_key(scope)),
                role_definition_id=role_id, role_guid=sys.intern(trailing_guid(role_id)),
                principal_id=principal, principal_key=sys.intern(principal.lower()),
                principal_type="ManagedServices", conditional=False,
                description=_str(get_ci(auth, "principalIdDisplayName"), f"{where}.principalIdDisplayName"),
                key=grant_id.lower(), tenant_id=tenant, eligible=eligible, managed_by_tenant=tenant))
    return out


def eligibility_from_row(row: dict) -> RoleAssignment:
    """A PIM-eligible assignment (roleEligibilityScheduleInstances row): a grant with ``eligible``."""
    return replace(assignment_from_row(row), eligible=True)


def _id_and_properties(row) -> tuple[str, dict]:
    """The ``id`` and ``properties`` object every authorization row needs (RowError without them)."""
    if not isinstance(row, dict):
        raise RowError("row is not a JSON object")
    row_id = _str(row.get("id"), "id", required=True)
    props = row.get("properties")
    if not isinstance(props, dict):
        raise RowError("properties is missing")
    return row_id, props


def assignment_from_row(row: dict) -> RoleAssignment:
    assignment_id, props = _id_and_properties(row)
    role_id = _str(get_ci(props, "roleDefinitionId"), "properties.roleDefinitionId", required=True)
    principal = _str(get_ci(props, "principalId"), "properties.principalId", required=True)
    scope = scope_from_id(assignment_id, _str(get_ci(props, "scope"), "properties.scope"))
    condition = _str(get_ci(props, "condition"), "properties.condition")
    return RoleAssignment(
        id=assignment_id,
        scope=scope,
        scope_key=sys.intern(scope_key(scope)),
        role_definition_id=role_id,
        role_guid=sys.intern(trailing_guid(role_id)),
        principal_id=principal,
        principal_key=sys.intern(principal.lower()),
        principal_type=_str(get_ci(props, "principalType"), "properties.principalType"),
        conditional=bool(condition),
        description=_str(get_ci(props, "description"), "properties.description"),
        key=assignment_id.lower(),
        tenant_id=_str(row.get("tenantId"), "tenantId"),
    )


_new_assignment = builder(RoleAssignment)
_ASSIGNMENT = Fields("roleDefinitionId", "principalId", "scope", "condition", "principalType", "description")


def subscription_scope(scope: str) -> bool:
    """True only for a scope that scopes.scope_from_id accepts: ``/subscriptions/`` spelled so,
    then segments that are not empty (one trailing ``/`` allowed). False: ask scope_from_id."""
    rest = scope[15:]
    return scope.startswith("/subscriptions/") and rest != "" and rest[0] != "/" and "//" not in rest


#: cached role ids and principal ids per reader (a bound, not a tuning knob)
READER_CACHE = 1 << 20


def assignment_reader():
    """:func:`assignment_from_row` for the million rows of one load, with the same results.

    A row of the usual shape (string or null values, no case-variant keys) is read with exact
    lookups, an ordinary subscription scope is validated without the regular expression, and role
    GUIDs and principal keys come from caches kept for this reader (a role and a principal recur
    across grants; a scope mostly does not); anything else, and every row that is an error, goes
    through :func:`assignment_from_row` itself.
    """
    guids: dict[str, str] = {}        # roleDefinitionId as spelled -> interned GUID
    principals: dict[str, str] = {}   # principalId as spelled -> interned lower-cased id
    plain, intern = _ASSIGNMENT.plain, sys.intern

    def read(row) -> RoleAssignment:
        if row.__class__ is not dict:
            return assignment_from_row(row)
        assignment_id, props, tenant = row.get("id"), row.get("properties"), row.get("tenantId")
        if not (assignment_id.__class__ is str and assignment_id and props.__class__ is dict
                and (tenant is None or tenant.__class__ is str) and plain(props)):
            return assignment_from_row(row)
        get = props.get
        role_id, principal, scope = get("roleDefinitionId"), get("principalId"), get("scope")
        condition, principal_type, description = get("condition"), get("principalType"), get("description")
        if not (role_id.__class__ is str and role_id and principal.__class__ is str and principal
                and (scope is None or scope.__class__ is str) and (condition is None or condition.__class__ is str)
                and (principal_type is None or principal_type.__class__ is str)
                and (description is None or description.__class__ is str)):
            return assignment_from_row(row)
        if not (scope and subscription_scope(scope)):
            try:
                scope = scope_from_id(assignment_id, scope or None)
            except RowError:
                return assignment_from_row(row)   # raises the reference's own error
        guid = guids.get(role_id)
        if guid is None:
            guid = intern(trailing_guid(role_id))
            if len(guids) < READER_CACHE:
                guids[role_id] = guid
        principal_key = principals.get(principal)
        if principal_key is None:
            principal_key = intern(principal.lower())
            if len(principals) < READER_CACHE:
                principals[principal] = principal_key
        return _new_assignment(assignment_id, scope, intern(scope_key(scope)), role_id, guid, principal, principal_key,
                               principal_type or None, bool(condition), description or None, assignment_id.lower(),
                               tenant or None)

    return read


def _principal_ids(value, what: str) -> frozenset[str]:
    out = set()
    for i, item in enumerate(_list(value, what)):
        pid = get_ci(item, "id") if isinstance(item, dict) else None
        if not isinstance(pid, str) or not pid:
            raise RowError(f"{what}[{i}].id is missing")
        out.add(pid.lower())
    return frozenset(out)


def deny_from_row(row: dict) -> DenyAssignment:
    deny_id, props = _id_and_properties(row)
    scope = scope_from_id(deny_id, _str(get_ci(props, "scope"), "properties.scope"))
    data = control = 0
    for i, raw in enumerate(_list(get_ci(props, "permissions"), "properties.permissions")):
        if not isinstance(raw, dict):
            raise RowError(f"properties.permissions[{i}] must be an object")
        data |= (perms.patterns_mask(_strings(get_ci(raw, "dataActions"), "dataActions"))
                 & ~perms.patterns_mask(_strings(get_ci(raw, "notDataActions"), "notDataActions")))
        control |= perms.control_mask(_strings(get_ci(raw, "actions"), "actions"),
                                      _strings(get_ci(raw, "notActions"), "notActions"))
    no_children = _bool(get_ci(props, "doNotApplyToChildScopes"), "properties.doNotApplyToChildScopes")
    return DenyAssignment(
        id=deny_id, key=deny_id.lower(), name=_str(get_ci(props, "denyAssignmentName"), "properties.denyAssignmentName"),
        scope=scope, scope_key=sys.intern(scope_key(scope)), tenant_id=_str(row.get("tenantId"), "tenantId"),
        data=data, control=control,
        principals=_principal_ids(get_ci(props, "principals"), "properties.principals"),
        excluded=_principal_ids(get_ci(props, "excludePrincipals"), "properties.excludePrincipals"),
        children=no_children is not True,
    )
