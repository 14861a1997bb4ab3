"""The estate model: typed, immutable, normalized once from raw Resource Graph rows.

Ids are kept as Azure spells them (for display and reports) and lower-cased in ``key`` fields
(for matching). Every casing and missing-property trap of ARG rows is handled here, so rules
never see raw JSON. A row that cannot be understood raises :class:`RowError`; the loader turns
that into a gap naming the file and line.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from dataclasses import dataclass, field, replace
from functools import lru_cache

from audit_function import permissions as perms
from audit_function.vocabulary import Gap  # noqa: F401  (the estate's gaps)

AUTHORIZATION_MARKER = "/providers/microsoft.authorization/"
MG_PREFIX = "/providers/microsoft.management/managementgroups/"
VAULT_SEGMENT = "/providers/microsoft.keyvault/vaults/"


class RowError(ValueError):
    """A row that cannot be understood (the message says why)."""


# ---------------------------------------------------------------------------------------------
# small readers: tolerant of casing, null and missing


def get_ci(mapping: dict | None, key: str, default=None):
    """``mapping[key]`` with a case-insensitive key; ``None`` counts as missing."""
    if not isinstance(mapping, dict):
        return default
    value = mapping.get(key)
    if value is None:
        lower = key.lower()
        for k, v in mapping.items():
            if k.lower() == lower:
                value = v
                break
    return default if value is None else value


def _str(value, what: str, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise RowError(f"{what} is missing")
        return None
    if not isinstance(value, str):
        raise RowError(f"{what} must be a string, got {type(value).__name__}")
    return value


def _bool(value, what: str) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    raise RowError(f"{what} must be true, false or null, got {value!r}")


def _list(value, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RowError(f"{what} must be an array, got {type(value).__name__}")
    return value


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


# ---------------------------------------------------------------------------------------------
# Vaults


@dataclass(frozen=True, slots=True)
class PolicyEntry:
    index: int
    tenant_id: str
    object_id: str
    application_id: str | None
    permissions: dict            # category -> tuple of names as written
    data: int                    # data-action mask the entry grants
    broad: tuple[str, ...]       # "secrets: all", "keys: purge", ... (for full-access-policy)
    unknown: tuple[str, ...]     # permission names no mapping knows
    object_key: str = ""         # lower-cased object id (filled by the loader)
    occurrence: int = 0          # n-th earlier entry of the vault with the same identity (duplicates)

    @property
    def identity(self) -> str:
        return f"{self.tenant_id.lower()}/{self.object_key}/{(self.application_id or '').lower()}"

    @property
    def subject(self) -> str:
        """One subject per entry: its identity, and for a repeated identity its occurrence."""
        return f"policy:{self.identity}" + (f"#{self.occurrence}" if self.occurrence else "")

    def evidence(self) -> dict:
        """The entry as evidence, as it stands in the vault."""
        return {"tenantId": self.tenant_id or None, "objectId": self.object_id, "applicationId": self.application_id,
                "permissions": self.permissions}


@dataclass(frozen=True, slots=True)
class Vault:
    id: str
    key: str
    name: str
    subscription_id: str | None
    resource_group: str | None
    location: str | None
    row_tenant_id: str | None        # the row's tenantId: the subscription's tenant
    tenant_id: str | None            # properties.tenantId: the tenant the vault authenticates against
    model: str                       # "rbac" | "accessPolicy"
    rbac_setting: bool | None        # enableRbacAuthorization as found (None: missing or null)
    public_network_access: str | None
    public_disabled: bool
    acl_default_action: str          # "Allow" | "Deny" (missing networkAcls/defaultAction = Allow)
    ip_rules: tuple[str, ...]
    bad_ip_rules: tuple[str, ...]
    private_endpoints: tuple[tuple[str, str], ...]   # (private endpoint id, status)
    soft_delete: bool | None
    purge_protection: bool | None
    template_deployment: bool        # enabledForTemplateDeployment is JSON true
    access_policies: tuple[PolicyEntry, ...]
    tags: dict = field(hash=False, compare=False)
    unreadable: tuple[tuple[str, str], ...] = ()   # (property, why): rules reading it are not evaluated
    kind: str = "vault"                  # "vault" | "managedHsm" (a Managed HSM pool, snapshot table managed_hsms)
    objects: tuple | None = None         # deep.VaultObject of the vault (None: vault_objects not read for it)
    diagnostics: tuple | None = None     # deep.DiagnosticSetting of the resource (None: not read for it)
    perimeters: tuple | None = None      # perimeters.Association naming it (None: perimeter_associations not read)

    @property
    def subscription_key(self) -> str | None:
        return self.subscription_id.lower() if self.subscription_id else None

    @property
    def approved_private_endpoints(self) -> int:
        return sum(1 for _, status in self.private_endpoints if status.lower() == "approved")

    @property
    def is_rbac(self) -> bool:
        return self.model == "rbac"

    @property
    def exposure(self) -> str:
        """``disabled``, ``perimeter`` (SecuredByPerimeter: a perimeter governs public traffic) or ``public``."""
        pna = (self.public_network_access or "").lower()
        return "disabled" if pna == "disabled" else "perimeter" if pna == "securedbyperimeter" else "public"

    def entry_cross_tenant(self, entry: "PolicyEntry") -> bool:
        """An entry whose tenant differs from the vault's: it can never match a token the vault accepts."""
        return bool(self.tenant_id and entry.tenant_id) and entry.tenant_id.lower() != self.tenant_id.lower()


#: publicNetworkAccess values meaning "public access disabled" (SecuredByPerimeter: a perimeter governs it)
PUBLIC_OFF = ("disabled", "securedbyperimeter")


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
    permissions, data, broad, unknown = _permission_set(tuple(key))
    object_id = sys.intern(object_id)   # principals recur across vaults: one string each
    lower = object_id.lower()
    return PolicyEntry(index, sys.intern(tenant), object_id, app, permissions, data, broad, unknown,
                       object_id if lower == object_id else sys.intern(lower))


_PERMISSION_SETS: dict[tuple, tuple] = {}


def _permission_set(key: tuple) -> tuple[dict, int, tuple[str, ...], tuple[str, ...]]:
    """(permissions by category, data mask, broad grants, unknown names) of one permissions object.

    Estates repeat a handful of permission sets across thousands of entries: each distinct set
    is mapped once and shared (treat the returned dict as read-only).
    """
    hit = _PERMISSION_SETS.get(key)
    if hit is not None:
        return hit
    data = 0
    permissions: dict[str, tuple[str, ...]] = {}
    broad: list[str] = []
    unknown: list[str] = []
    for category, names in key:
        cat = category.lower()
        if cat not in perms.CATEGORIES:
            unknown.extend(f"{category}: {n}" for n in names)
            continue
        permissions[cat] = permissions.get(cat, ()) + names
        for name in names:
            mask = perms.permission_mask(cat, name)
            if mask is None:
                unknown.append(f"{cat}: {name}")
                continue
            data |= mask
            if name.lower() in ("all", "purge"):
                broad.append(f"{cat}: {name.lower()}")
    hit = (permissions, data, tuple(dict.fromkeys(broad)), tuple(unknown))
    if len(_PERMISSION_SETS) < 100_000:
        _PERMISSION_SETS[key] = hit
    return hit


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


# ---------------------------------------------------------------------------------------------
# Subscriptions and management groups


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    subscription_id: str
    name: str | None
    tenant_id: str | None
    state: str | None
    management_groups: tuple[str, ...]      # MG names (lower), direct parent first, tenant root last
    tags: dict = field(default_factory=dict, hash=False, compare=False)   # owner tags (audit_function/estate/owners.py)

    @property
    def key(self) -> str:
        return self.subscription_id.lower()


def subscription_from_row(row: dict) -> Subscription:
    if not isinstance(row, dict):
        raise RowError("row is not a JSON object")
    sub_id = _str(row.get("subscriptionId"), "subscriptionId")
    row_id = _str(row.get("id"), "id")
    if not sub_id and row_id:
        sub_id = row_id.rstrip("/").rsplit("/", 1)[-1]
    if not sub_id:
        raise RowError("subscriptionId is missing")
    props = row.get("properties") or {}
    if not isinstance(props, dict):
        raise RowError("properties must be an object")
    chain = []
    for i, item in enumerate(_list(get_ci(props, "managementGroupAncestorsChain"), "properties.managementGroupAncestorsChain")):
        name = get_ci(item, "name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            raise RowError(f"properties.managementGroupAncestorsChain[{i}].name is missing")
        chain.append(name.lower())
    return Subscription(
        id=row_id or f"/subscriptions/{sub_id}",
        subscription_id=sub_id,
        name=_str(row.get("name"), "name"),
        tenant_id=_str(row.get("tenantId"), "tenantId"),
        state=_str(get_ci(props, "state"), "properties.state"),
        management_groups=tuple(chain),
        tags=row["tags"] if isinstance(row.get("tags"), dict) else {},
    )


@dataclass(frozen=True, slots=True)
class ManagementGroup:
    name: str
    display_name: str | None
    ancestors: tuple[str, ...]


def management_group_from_row(row: dict) -> ManagementGroup:
    if not isinstance(row, dict):
        raise RowError("row is not a JSON object")
    name = _str(row.get("name"), "name", required=True)
    props = row.get("properties") or {}
    details = get_ci(props, "details") or {}
    chain = [get_ci(i, "name") for i in _list(get_ci(details, "managementGroupAncestorsChain"), "ancestors") if isinstance(i, dict)]
    return ManagementGroup(name.lower(), _str(get_ci(props, "displayName"), "properties.displayName"),
                           tuple(str(c).lower() for c in chain if c))


# ---------------------------------------------------------------------------------------------
# Role definitions (compiled once to data-action masks and control flags)


@dataclass(frozen=True, slots=True)
class PermissionBlock:
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    data_actions: tuple[str, ...]
    not_data_actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RoleDefinition:
    id: str
    guid: str
    name: str
    custom: bool
    blocks: tuple[PermissionBlock, ...]
    data: int                         # Key Vault data actions granted (per block: dataActions - notDataActions)
    control: int                      # catalog control actions granted (permissions.CONTROL_ACTIONS bits)
    wildcards: tuple[str, ...] = ()   # '*' patterns matching Key Vault data actions or a self-grant action
    builtin_fallback: bool = False    # known to the tool, absent from the snapshot

    @property
    def relevant(self) -> bool:
        """Whether an assignment of this role can matter to any Key Vault rule."""
        return bool(self.data or self.control or self.wildcards)

    @property
    def self_grant(self) -> tuple[str, ...]:
        """The self-grant control actions it grants, as names."""
        return tuple(perms.control_names(self.control & perms.SELF_GRANT_ACCESS_POLICY))


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
    data = control = 0
    wildcards: list[str] = []
    for block in blocks:
        data |= perms.patterns_mask(block.data_actions) & ~perms.patterns_mask(block.not_data_actions)
        control |= perms.control_mask(block.actions, block.not_actions)
        wildcards.extend(p for p in block.data_actions if "*" in p and perms.pattern_mask(p))
        wildcards.extend(p for p in block.actions if "*" in p
                         and any(perms.matches(p, a) for a in perms.SELF_GRANT_ACTIONS))
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
        wildcards=tuple(dict.fromkeys(wildcards)),
        builtin_fallback=builtin_fallback,
    )


# ---------------------------------------------------------------------------------------------
# Role assignments


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    id: str
    scope: str                  # as spelled
    scope_key: str              # lower-cased, interned
    role_definition_id: str
    role_guid: str
    principal_id: str
    principal_key: str
    principal_type: str | None
    conditional: bool
    description: str | None
    key: str = ""               # lower-cased id
    tenant_id: str | None = None   # the row's tenantId (binds / and management-group scopes to a tenant)
    eligible: bool = False      # a PIM-eligible assignment (role_eligibilities): exposure, never coverage
    managed_by_tenant: str | None = None   # an Azure Lighthouse authorization: the managing tenant


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


# ---------------------------------------------------------------------------------------------
# Deny assignments (ARM; they take precedence over every grant)

EVERYONE = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True, slots=True)
class DenyAssignment:
    id: str
    key: str
    name: str | None
    scope: str
    scope_key: str
    tenant_id: str | None
    data: int                        # denied Key Vault data actions (per block: dataActions - notDataActions)
    control: int                     # denied catalog control actions (per block: actions - notActions)
    principals: frozenset[str]       # lower-cased object ids (EVERYONE: everyone)
    excluded: frozenset[str]
    children: bool                   # False: doNotApplyToChildScopes (applies at its own scope only)

    def applies_to(self, ids: tuple[str, ...]) -> bool:
        """Whether it applies to a principal known by ``ids`` (its object id, then its groups)."""
        if self.excluded and any(i in self.excluded for i in ids):
            return False
        return EVERYONE in self.principals or any(i in self.principals for i in ids)


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


# ---------------------------------------------------------------------------------------------
# Principals (directory data, optional)


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    type: str | None
    display_name: str | None
    member_of: tuple[str, ...]     # lower-cased group object ids (transitive)
    user_type: str | None = None   # users: Member | Guest
    app_id: str | None = None      # service principals


def principal_from_row(row: dict) -> Principal:
    if not isinstance(row, dict):
        raise RowError("row is not a JSON object")
    pid = _str(row.get("id"), "id", required=True)
    groups = tuple(sys.intern(str(g).lower()) for g in _list(row.get("memberOf"), "memberOf") if g)
    return Principal(pid, _str(row.get("type"), "type"), _str(row.get("displayName"), "displayName"), groups,
                     _str(row.get("userType"), "userType"), _str(row.get("appId"), "appId"))


# ---------------------------------------------------------------------------------------------
# The estate


@dataclass
class Estate:
    vaults: list[Vault]
    subscriptions: dict[str, Subscription]           # key: lower subscription GUID
    management_groups: dict[str, ManagementGroup]    # key: lower MG name
    role_definitions: dict[str, RoleDefinition]      # key: lower GUID
    assignments: list[RoleAssignment]                # grants that can matter: role assignments, then eligible ones
    principals: dict[str, Principal] | None          # None when no directory data was provided
    denies: list[DenyAssignment] = field(default_factory=list)
    grants_at_management_groups: bool = False        # any grant row (kept or not) at management-group scope
    collected: dict[str, bool] = field(default_factory=dict)   # optional table -> was it in the snapshot
    resource_groups: dict[str, dict] = field(default_factory=dict)  # /subscriptions/<s>/resourcegroups/<n> -> tags
    hsms: list[Vault] = field(default_factory=list)  # Managed HSM pools (kind "managedHsm"): no access model
    defender: dict | None = None          # lower subscription id -> deep.DefenderPlan (None: not collected)
    gaps: list[Gap] = field(default_factory=list)
    manifest: dict | None = None
    counts: dict = field(default_factory=dict)       # rows read / kept per table

    @property
    def directory_data(self) -> bool:
        return self.principals is not None

    def subscription_of(self, vault: Vault) -> Subscription | None:
        return self.subscriptions.get(vault.subscription_key or "")

    def management_groups_of(self, vault: Vault) -> tuple[str, ...]:
        sub = self.subscription_of(vault)
        return sub.management_groups if sub else ()

    def principal(self, object_id: str | None) -> Principal | None:
        if not object_id or self.principals is None:
            return None
        return self.principals.get(object_id.lower())
