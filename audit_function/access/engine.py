"""The access engine: who can reach each vault's data, in each permission model.

For every vault it gathers the role assignments whose scope covers the vault (the vault itself,
its resource group and subscription, every management-group ancestor of the subscription, and
``/``) and those scoped to objects inside it, and combines them per principal as data-action
bitmasks (see :mod:`audit_function.permissions`). ``notDataActions`` were already applied per
permission block when the role was compiled, so they never act as denies across roles.

Lookups are by scope key in dictionaries built once, so the cost per vault is the number of its
ancestor scopes plus the number of grants that reach it, never the size of the estate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from audit_function.access.grants import Gainer, Grant
from audit_function.estate.model import Estate, PolicyEntry, RoleAssignment, RoleDefinition, Vault
from audit_function.estate.scopes import MG_PREFIX, VAULT_SEGMENT, prefixes, scope_level


def _tenant_ok(tenant: str | None, vault: Vault) -> bool:
    """``/`` and management-group scopes belong to one tenant (either id missing: it covers)."""
    return tenant is None or vault.row_tenant_id is None or tenant.lower() == vault.row_tenant_id.lower()


@dataclass
class VaultAccess:
    """Effective access to one vault. Built by :meth:`AccessIndex.vault_access`; read by rules.

    Standing access (role assignments) is what coverage rules compare policies with; exposure
    (``eligible=True``) adds PIM-eligible grants. Deny assignments that apply to the vault are
    subtracted from every answer.
    """

    vault: Vault
    grants: dict[str, list[Grant]]            # principal key -> grants at the vault or above
    object_grants: dict[str, list[Grant]]     # principal key -> grants on objects inside the vault
    unknown_roles: list[RoleAssignment]       # grants reaching the vault whose role is unknown
    member_of: dict                           # principal key -> group keys (empty without directory data)
    groups_expanded: bool
    denies: tuple = ()                        # deny assignments whose scope covers the vault
    _policy: dict[str, int] = field(default_factory=dict)
    _cache: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        vault = self.vault
        for entry in vault.access_policies:
            if entry.application_id or vault.entry_cross_tenant(entry):
                continue  # compound and cross-tenant entries are not the principal's own access
            self._policy[entry.object_key] = self._policy.get(entry.object_key, 0) | entry.data

    # -- who ---------------------------------------------------------------------------------
    def ids(self, principal: str) -> tuple[str, ...]:
        groups = self.member_of.get(principal)
        return (principal, *groups) if groups else (principal,)

    def denied(self, principal: str) -> tuple[int, int]:
        """(data, control) actions the deny assignments applying here remove from ``principal``."""
        if not self.denies:
            return 0, 0
        key = ("deny", principal)
        hit = self._cache.get(key)
        if hit is None:
            ids = self.ids(principal)
            data = control = 0
            for deny in self.denies:
                if deny.applies_to(ids):
                    data |= deny.data
                    control |= deny.control
            hit = self._cache[key] = (data, control)
        return hit

    # -- RBAC side -------------------------------------------------------------------------
    def _data_grants(self, principal: str, objects: bool, eligible: bool) -> tuple[list[Grant], int]:
        key = (principal, objects, eligible)
        hit = self._cache.get(key)
        if hit is None:
            found: list[Grant] = []
            source = self.object_grants if objects else self.grants
            for who in self.ids(principal):
                for grant in source.get(who, ()):
                    if grant.data and (eligible or not grant.eligible):
                        found.append(grant)
            mask = 0
            for grant in found:
                mask |= grant.data
            hit = self._cache[key] = (found, mask & ~self.denied(principal)[0])
        return hit

    def rbac_grants(self, principal: str, *, objects: bool = False, eligible: bool = False) -> list[Grant]:
        """Grants giving ``principal`` Key Vault data access (directly or through its groups)."""
        return self._data_grants(principal, objects, eligible)[0]

    def rbac_data(self, principal: str, *, objects: bool = False, eligible: bool = False) -> int:
        """Effective RBAC data access at vault level, after denies (object grants, eligible ones when asked)."""
        mask = self._data_grants(principal, False, eligible)[1]
        if objects:
            mask |= self._data_grants(principal, True, eligible)[1]
        return mask

    def data_principals(self) -> list[str]:
        """Principals granted a role with Key Vault data actions here (vault level, above, or objects)."""
        hit = self._cache.get("principals")
        if hit is None:
            keys = {p for p, gs in self.grants.items() for g in gs if g.data}
            keys.update(p for p, gs in self.object_grants.items() for g in gs if g.data)
            hit = self._cache["principals"] = sorted(keys)
        return hit

    def control(self, principal: str) -> tuple[int, list[Grant]]:
        """Effective control access (catalog control actions) at the vault or above, eligible grants included."""
        found = [g for who in self.ids(principal) for g in self.grants.get(who, ()) if g.control]
        mask = 0
        for grant in found:
            mask |= grant.control
        return mask & ~self.denied(principal)[1], found

    def holders(self, action_bit: int) -> dict[str, list[Grant]]:
        """Principals whose effective control access includes ``action_bit``, with the grants giving it."""
        out: dict[str, list[Grant]] = {}
        for principal in sorted(p for p, gs in self.grants.items() if any(g.control & action_bit for g in gs)):
            mask, grants = self.control(principal)
            if mask & action_bit:
                out[principal] = sorted((g for g in grants if g.control & action_bit), key=lambda g: g.assignment.key)
        return out

    def gainers(self) -> list[Gainer]:
        """Who would gain data access if the vault switched to RBAC (the ``latent-grant`` test).

        For every principal granted a data role that reaches the vault (at it, above it, or on an
        object inside it; eligible grants included): its RBAC data access after denies minus what
        its own access-policy entries give it (its groups' too; cross-tenant and compound entries
        excluded), with the grants that cause the difference. Worked out once per vault (the
        ``latent-grant`` rule and the migration plan both ask).
        """
        hit = self._cache.get("gainers")
        if hit is None:
            hit = self._cache["gainers"] = self._gainers()
        return list(hit)

    def _gainers(self) -> list[Gainer]:
        out = []
        for principal in self.data_principals():
            policy = self.policy_data(principal)
            widened = self.rbac_data(principal, objects=True, eligible=True) & ~policy
            if not widened:
                continue
            grants = [g for g in self.rbac_grants(principal, eligible=True)
                      + self.rbac_grants(principal, objects=True, eligible=True) if g.data & widened]
            grants.sort(key=lambda g: g.assignment.key)
            # the principal as spelled in one of its own grants (widening grants may be its groups')
            first = (self.grants.get(principal) or self.object_grants[principal])[0].assignment
            out.append(Gainer(principal, first, widened, policy, grants))
        return out

    # -- access-policy side -----------------------------------------------------------------
    def policy_data(self, principal: str) -> int:
        """What the vault's access policies grant ``principal`` as its own access (its entries and its groups')."""
        mask = 0
        for key in self.ids(principal):
            mask |= self._policy.get(key, 0)
        return mask

    def coverage(self, entry: PolicyEntry) -> int:
        """Data actions of a policy entry that the principal's standing vault-level RBAC does *not* cover.

        A cross-tenant entry grants nothing, so nothing of it is missing (dead, never stranded).
        """
        if self.vault.entry_cross_tenant(entry):
            return 0
        return entry.data & ~self.rbac_data(entry.object_key)


class AccessIndex:
    """Grants and deny assignments indexed by scope, built once per estate.

    Every grant that can matter becomes one :class:`Grant` (or, when its role is unknown, an
    entry in the unknown lists) stored under its scope key; a vault's access is assembled from
    the lists of its ancestor scopes, shared between all vaults they reach.
    """

    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.vault_keys = {v.key: v for v in estate.vaults}   # key -> vault (also a set of keys)
        self._grants: dict[str, list[Grant]] = {}
        self._unknown: dict[str, list[RoleAssignment]] = {}
        self._in_vault: dict[str, list[Grant]] = {}
        self._in_vault_unknown: dict[str, list[RoleAssignment]] = {}
        self._denies: dict[str, list] = {}
        self.member_of: dict[str, tuple[str, ...]] = {}
        if estate.principals is not None:
            self.member_of = {k: p.member_of for k, p in estate.principals.items() if p.member_of}
        definitions = estate.role_definitions
        directory = estate.principals or {}

        def name_of(assignment: RoleAssignment) -> str | None:
            principal = directory.get(assignment.principal_key)
            if principal is not None:
                return principal.display_name
            return assignment.description if assignment.managed_by_tenant else None

        #: any grant (known role or not, any tenant) at management-group scope: empty chains are then unknown ancestry
        self.has_inherited = estate.grants_at_management_groups or any(
            a.scope_key.startswith(MG_PREFIX) for a in estate.assignments)
        for assignment in estate.assignments:
            key = assignment.scope_key
            role = definitions.get(assignment.role_guid)
            inside = self.vault_containing(key)
            if inside is None and key not in self.vault_keys and VAULT_SEGMENT in key:
                continue  # inside a vault the snapshot does not hold: it reaches none of ours
            if role is None:
                (self._in_vault_unknown if inside else self._unknown).setdefault(inside or key, []).append(assignment)
            elif inside:
                if role.data:
                    self._in_vault.setdefault(inside, []).append(Grant(assignment, role, "object", name_of(assignment)))
            elif role.relevant:
                level = "vault" if key in self.vault_keys else scope_level(key)
                self._grants.setdefault(key, []).append(Grant(assignment, role, level, name_of(assignment)))
        for deny in estate.denies:
            if deny.data or deny.control:
                self._denies.setdefault(deny.scope_key, []).append(deny)
        self._inherited: dict[tuple, tuple[list[Grant], list[RoleAssignment], list]] = {}
        self.has_denies = bool(self._denies)
        self._by_scope: dict[str, list[Vault]] | None = None   # built on first use (grant-level rules)
        self._tenant_bound: dict[tuple, list[Vault]] = {}       # (MG or / scope key, tenant) -> its vaults

    def vault_containing(self, key: str) -> str | None:
        """The snapshot vault a scope lies strictly inside (an object scope), else None."""
        if key in self.vault_keys or VAULT_SEGMENT not in key:
            return None
        for prefix in prefixes(key):
            if prefix in self.vault_keys and prefix != key:
                return prefix
        return None

    def role(self, assignment: RoleAssignment) -> RoleDefinition | None:
        return self.estate.role_definitions.get(assignment.role_guid)

    def unknown_ancestry(self, vault: Vault) -> bool:
        """No usable management-group chain while grants exist at management groups (catalog 2)."""
        if not self.has_inherited:
            return False
        sub = self.estate.subscription_of(vault)
        return sub is None or not sub.management_groups

    def above_keys(self, vault: Vault) -> list[str]:
        """The vault's tenant-bound ancestor scopes: its management groups (when known) and ``/``."""
        keys = [] if self.unknown_ancestry(vault) else [MG_PREFIX + mg for mg in self.estate.management_groups_of(vault)]
        keys.append("/")
        return list(dict.fromkeys(keys))

    def _above_subscription(self, vault: Vault) -> tuple[list[Grant], list[RoleAssignment], list]:
        """Grants, unknown-role grants and denies at the vault's management groups and ``/`` (cached
        per subscription and tenant)."""
        cache_key = (vault.subscription_key or "", (vault.row_tenant_id or "").lower())
        cached = self._inherited.get(cache_key)
        if cached is None:
            grants: list[Grant] = []
            unknown: list[RoleAssignment] = []
            denies: list = []
            for key in self.above_keys(vault):
                grants.extend(g for g in self._grants.get(key, ()) if _tenant_ok(g.assignment.tenant_id, vault))
                unknown.extend(a for a in self._unknown.get(key, ()) if _tenant_ok(a.tenant_id, vault))
                denies.extend(d for d in self._denies.get(key, ()) if _tenant_ok(d.tenant_id, vault) and d.children)
            cached = self._inherited[cache_key] = (grants, unknown, denies)
        return cached

    def covering(self, vault: Vault) -> list[Grant]:
        """Grants whose scope covers the whole vault (known, relevant roles only)."""
        found: list[Grant] = []
        for key in prefixes(vault.key):
            at = self._grants.get(key)
            if at:
                found.extend(at)
        found.extend(self._above_subscription(vault)[0])
        return found

    def denies_for(self, vault: Vault) -> tuple:
        """Deny assignments that apply to the vault's scope (one inside the vault never does)."""
        if not self._denies:
            return ()
        found = []
        for key in prefixes(vault.key):
            for deny in self._denies.get(key, ()):
                if deny.children or key == vault.key:
                    found.append(deny)
        found.extend(self._above_subscription(vault)[2])
        return tuple(found)

    def vault_access(self, vault: Vault) -> VaultAccess:
        grants: dict[str, list[Grant]] = {}
        for grant in self.covering(vault):
            at = grants.get(grant.principal)
            if at is None:
                grants[grant.principal] = [grant]
            else:
                at.append(grant)
        object_grants: dict[str, list[Grant]] = {}
        for grant in self._in_vault.get(vault.key, ()):
            object_grants.setdefault(grant.principal, []).append(grant)
        unknown: list[RoleAssignment] = []
        for key in prefixes(vault.key):
            unknown.extend(self._unknown.get(key, ()))
        unknown.extend(self._above_subscription(vault)[1])
        unknown.extend(self._in_vault_unknown.get(vault.key, ()))
        return VaultAccess(vault, grants, object_grants, unknown, self.member_of, self.estate.directory_data,
                           self.denies_for(vault))

    # -- grant-level views -----------------------------------------------------------------------
    def vaults_by_scope(self) -> dict[str, list[Vault]]:
        """Scope key -> the snapshot vaults it covers (vault, resource group, subscription, management
        groups, ``/``), in vault-key order; built once, used by the grant-level rules. Tenant binding is
        the caller's."""
        hit = self._by_scope
        if hit is None:
            hit = {}
            for vault in sorted(self.estate.vaults, key=lambda v: v.key):   # each list in vault-key order
                for key in (*prefixes(vault.key), *self.above_keys(vault)):
                    at = hit.get(key)
                    if at is None:
                        hit[key] = [vault]
                    elif at[-1] is not vault:
                        at.append(vault)
            self._by_scope = hit
        return hit

    def covered_vaults(self, grant) -> list[Vault]:
        """The snapshot vaults a grant (or any object with ``scope_key`` and ``tenant_id``) covers."""
        key = grant.scope_key
        vaults = self.vaults_by_scope().get(key, ())
        if key == "/" or key.startswith(MG_PREFIX):   # tenant-bound: filtered once per scope and tenant
            tenant = (grant.tenant_id or "").lower() or None
            hit = self._tenant_bound.get((key, tenant))
            if hit is None:
                hit = self._tenant_bound[(key, tenant)] = [v for v in vaults if _tenant_ok(tenant, v)]
            return list(hit)
        return list(vaults)

    def denied_on(self, principal: str, vault: Vault) -> tuple[int, int]:
        """(data, control) the deny assignments applying to ``principal`` on ``vault`` remove."""
        if not self._denies:
            return 0, 0
        ids = (principal, *self.member_of.get(principal, ()))
        data = control = 0
        for deny in self.denies_for(vault):
            if deny.applies_to(ids):
                data |= deny.data
                control |= deny.control
        return data, control

    def vaults_under(self, scope_keys: set[str]) -> dict[str, list[int]]:
        """For each scope key: [vaults it covers, of which rbac] (tenant binding not applied)."""
        by_scope = self.vaults_by_scope()
        counts = {}
        for key in scope_keys:
            vaults = by_scope.get(key, ())
            counts[key] = [len(vaults), sum(1 for v in vaults if v.is_rbac)]
        return counts
