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

from audit_function import permissions as perms
from audit_function.estate import MG_PREFIX, VAULT_SEGMENT, Estate, PolicyEntry, RoleAssignment, RoleDefinition, Vault, prefixes, scope_level


class Grant:
    """One role assignment with its compiled role; built once and shared by every vault it reaches."""

    __slots__ = ("assignment", "role", "level", "principal", "data", "_evidence")

    def __init__(self, assignment: RoleAssignment, role: RoleDefinition, level: str) -> None:
        self.assignment = assignment
        self.role = role
        self.level = level            # root | managementGroup | subscription | resourceGroup | vault | object
        self.principal = assignment.principal_key
        self.data = role.data
        self._evidence: dict | None = None

    def evidence(self) -> dict:
        """The assignment as evidence (one shared dict per assignment: treat it as read-only)."""
        if self._evidence is None:
            out = {
                "assignmentId": self.assignment.id,
                "principalId": self.assignment.principal_id,
                "roleDefinitionId": self.role.id,
                "roleName": self.role.name,
                "scope": self.assignment.scope,
                "scopeLevel": self.level,
            }
            if self.assignment.conditional:
                out["conditional"] = True
            self._evidence = out
        return self._evidence


@dataclass(frozen=True, slots=True)
class Gainer:
    """A principal whose data access would widen on a switch to RBAC."""

    key: str                     # lower-cased object id
    assignment: RoleAssignment   # one of its own assignments (for its id and type as Azure spells them)
    widened: int                 # data actions it would gain
    policy: int                  # data actions its access policies give it today
    grants: list                 # the grants that cause the widening


@dataclass
class VaultAccess:
    """Effective access to one vault. Built by :meth:`AccessIndex.vault_access`; read by rules."""

    vault: Vault
    grants: dict[str, list[Grant]]            # principal key -> grants at the vault or above
    object_grants: dict[str, list[Grant]]     # principal key -> grants on objects inside the vault
    unknown_roles: list[RoleAssignment]       # assignments reaching the vault whose role is unknown
    member_of: dict                           # principal key -> group keys (empty without directory data)
    groups_expanded: bool
    _policy: dict[str, int] = field(default_factory=dict)
    _cache: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for entry in self.vault.access_policies:
            self._policy[entry.object_key] = self._policy.get(entry.object_key, 0) | entry.data

    # -- RBAC side -------------------------------------------------------------------------
    def _with_groups(self, principal: str) -> tuple[str, ...]:
        groups = self.member_of.get(principal)
        return (principal, *groups) if groups else (principal,)

    def _data_grants(self, principal: str, objects: bool) -> tuple[list[Grant], int]:
        key = (principal, objects)
        hit = self._cache.get(key)
        if hit is None:
            found: list[Grant] = []
            source = self.object_grants if objects else self.grants
            for who in self._with_groups(principal):
                for grant in source.get(who, ()):
                    if grant.data:
                        found.append(grant)
            mask = 0
            for grant in found:
                mask |= grant.data
            hit = self._cache[key] = (found, mask)
        return hit

    def rbac_grants(self, principal: str, *, objects: bool = False) -> list[Grant]:
        """Grants giving ``principal`` Key Vault data access (directly or through its groups)."""
        return self._data_grants(principal, objects)[0]

    def rbac_data(self, principal: str, *, objects: bool = False) -> int:
        """Effective RBAC data access at vault level (object-scoped grants only when asked)."""
        mask = self._data_grants(principal, False)[1]
        if objects:
            mask |= self._data_grants(principal, True)[1]
        return mask

    def data_principals(self) -> list[str]:
        """Principals assigned a role with Key Vault data actions here (vault level, above, or objects)."""
        hit = self._cache.get("principals")
        if hit is None:
            keys = {p for p, gs in self.grants.items() for g in gs if g.data}
            keys.update(p for p, gs in self.object_grants.items() for g in gs if g.data)
            hit = self._cache["principals"] = sorted(keys)
        return hit

    def self_granters(self) -> dict[str, list[Grant]]:
        """Principals whose control access at the vault or above includes a self-grant action."""
        out: dict[str, list[Grant]] = {}
        for principal, grants in self.grants.items():
            found = [g for g in grants if g.role.self_grant]
            if found:
                out[principal] = found
        return out

    def gainers(self) -> list[Gainer]:
        """Who would gain data access if the vault switched to RBAC (the ``latent-grant`` test).

        For every principal assigned a data role that reaches the vault (at it, above it, or on an
        object inside it): its RBAC data access minus what the access policies give it (its own
        entries and its groups'), with the grants that cause the difference.
        """
        out = []
        for principal in self.data_principals():
            policy = self.policy_data(principal)
            widened = self.rbac_data(principal, objects=True) & ~policy
            if not widened:
                continue
            grants = [g for g in self.rbac_grants(principal) + self.rbac_grants(principal, objects=True)
                      if g.data & widened]
            grants.sort(key=lambda g: g.assignment.key)
            # the principal as spelled in one of its own assignments (widening grants may be its groups')
            first = (self.grants.get(principal) or self.object_grants[principal])[0].assignment
            out.append(Gainer(principal, first, widened, policy, grants))
        return out

    # -- access-policy side -----------------------------------------------------------------
    def policy_data(self, principal: str) -> int:
        """What the vault's access policies grant ``principal`` (all its entries and its groups')."""
        mask = 0
        for key in self._with_groups(principal):
            mask |= self._policy.get(key, 0)
        return mask

    def coverage(self, entry: PolicyEntry) -> int:
        """Data actions of a policy entry that the principal's vault-level RBAC does *not* cover."""
        return entry.data & ~self.rbac_data(entry.object_key)


class AccessIndex:
    """Role assignments indexed by scope, built once per estate.

    Every assignment that can matter becomes one :class:`Grant` (or, when its role is unknown,
    an entry in the unknown lists) stored under its scope key; a vault's access is assembled
    from the lists of its ancestor scopes, shared between all vaults they reach.
    """

    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.vault_keys = {v.key for v in estate.vaults}
        self._grants: dict[str, list[Grant]] = {}
        self._unknown: dict[str, list[RoleAssignment]] = {}
        self._in_vault: dict[str, list[Grant]] = {}
        self._in_vault_unknown: dict[str, list[RoleAssignment]] = {}
        self.member_of: dict[str, tuple[str, ...]] = {}
        if estate.principals is not None:
            self.member_of = {k: p.member_of for k, p in estate.principals.items() if p.member_of}
        definitions = estate.role_definitions
        for assignment in estate.assignments:
            key = assignment.scope_key
            role = definitions.get(assignment.role_guid)
            inside = None
            if key not in self.vault_keys and VAULT_SEGMENT in key:
                for prefix in prefixes(key):
                    if prefix in self.vault_keys and prefix != key:
                        inside = prefix
                        break
                if inside is None:
                    continue  # inside a vault the snapshot does not hold: it reaches none of ours
            if role is None:
                (self._in_vault_unknown if inside else self._unknown).setdefault(inside or key, []).append(assignment)
            elif inside:
                if role.data:
                    self._in_vault.setdefault(inside, []).append(Grant(assignment, role, "object"))
            elif role.relevant:
                level = "vault" if key in self.vault_keys else scope_level(key)
                self._grants.setdefault(key, []).append(Grant(assignment, role, level))
        self._inherited: dict[str, tuple[list[Grant], list[RoleAssignment]]] = {}
        #: whether anything is assigned at a management group (else unknown ancestry loses nothing)
        self.has_inherited = any(k.startswith(MG_PREFIX) for k in (*self._grants, *self._unknown))

    def role(self, assignment: RoleAssignment) -> RoleDefinition | None:
        return self.estate.role_definitions.get(assignment.role_guid)

    def _above_subscription(self, vault: Vault) -> tuple[list[Grant], list[RoleAssignment]]:
        """Grants at the vault's management-group ancestors and ``/`` (cached per subscription)."""
        sub = vault.subscription_key or ""
        cached = self._inherited.get(sub)
        if cached is None:
            grants: list[Grant] = []
            unknown: list[RoleAssignment] = []
            keys = [MG_PREFIX + mg for mg in self.estate.management_groups_of(vault)]
            keys.append("/")
            for key in dict.fromkeys(keys):
                grants.extend(self._grants.get(key, ()))
                unknown.extend(self._unknown.get(key, ()))
            cached = self._inherited[sub] = (grants, unknown)
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
        return VaultAccess(vault, grants, object_grants, unknown, self.member_of, self.estate.directory_data)

    def vaults_under(self, scope_keys: set[str]) -> dict[str, list[int]]:
        """For each scope key: [vaults it covers, of which rbac]. One pass over the vaults."""
        counts = {key: [0, 0] for key in scope_keys}
        for vault in self.estate.vaults:
            seen = set()
            ancestors = list(prefixes(vault.key))
            ancestors.extend(MG_PREFIX + mg for mg in self.estate.management_groups_of(vault))
            ancestors.append("/")
            for key in ancestors:
                if key in counts and key not in seen:
                    seen.add(key)
                    counts[key][0] += 1
                    counts[key][1] += vault.is_rbac
        return counts


def access_rows(index: AccessIndex, access: VaultAccess) -> list[dict]:
    """One row per (vault, principal, source) with Key Vault data access in either model."""
    vault = access.vault
    sub = vault.subscription_id
    base = {"vaultId": vault.id, "vaultName": vault.name, "subscriptionId": sub,
            "resourceGroup": vault.resource_group, "permissionModel": vault.model}
    principals = index.estate.principals or {}
    rows = []
    for entry in vault.access_policies:
        principal = principals.get(entry.object_key)
        rows.append({**base, "principalId": entry.object_id, "principalType": principal.type if principal else None,
                     "principalName": principal.display_name if principal else None,
                     "source": "accessPolicy", "assignmentId": None, "roleDefinitionId": None, "roleName": None,
                     "scope": None, "scopeLevel": None, "objectScoped": False, "conditional": False,
                     "effective": not vault.is_rbac, "dataActions": perms.names(entry.data),
                     "permissions": _policy_words(entry)})
    for source in (access.grants, access.object_grants):
        for key, grants in source.items():
            for grant in grants:
                if not grant.data:
                    continue
                a = grant.assignment
                principal = principals.get(key)
                rows.append({**base, "principalId": a.principal_id,
                             "principalType": a.principal_type or (principal.type if principal else None),
                             "principalName": principal.display_name if principal else None,
                             "source": "roleAssignment", "assignmentId": a.id, "roleDefinitionId": grant.role.id,
                             "roleName": grant.role.name, "scope": a.scope, "scopeLevel": grant.level,
                             "objectScoped": grant.level == "object", "conditional": a.conditional,
                             "effective": vault.is_rbac, "dataActions": perms.names(grant.data),
                             "permissions": perms.describe(grant.data)})
    return rows


def _policy_words(entry: PolicyEntry) -> str:
    parts = [f"{cat}: {', '.join(names)}" for cat, names in entry.permissions.items() if names]
    return "; ".join(parts)
