"""The estate model: typed, immutable records of what the snapshot holds (parsed by rows.py).

Ids are kept as Azure spells them (for display and reports) and lower-cased in ``key`` fields
(for matching). Every casing and missing-property trap of ARG rows is handled here, so rules
never see raw JSON. A row that cannot be understood raises :class:`RowError`; the loader turns
that into a gap naming the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from audit_function import permissions as perms
from audit_function.vocabulary import Gap  # noqa: F401  (the estate's gaps)


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


@dataclass(frozen=True, slots=True)
class ManagementGroup:
    name: str
    display_name: str | None
    ancestors: tuple[str, ...]


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


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    type: str | None
    display_name: str | None
    member_of: tuple[str, ...]     # lower-cased group object ids (transitive)
    user_type: str | None = None   # users: Member | Guest
    app_id: str | None = None      # service principals


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
