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


@dataclass(frozen=True, slots=True)
class Grant:
    """One role assignment that reaches a vault, with its compiled role."""

    assignment: RoleAssignment
    role: RoleDefinition
    level: str            # root | managementGroup | subscription | resourceGroup | vault | object

    @property
    def data(self) -> int:
        return self.role.data

    def evidence(self) -> dict:
        out = {
            "assignmentId": self.assignment.id,
            "roleDefinitionId": self.role.id,
            "roleName": self.role.name,
            "scope": self.assignment.scope,
            "scopeLevel": self.level,
        }
        if self.assignment.conditional:
            out["conditional"] = True
        return out


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

    def __post_init__(self) -> None:
        for entry in self.vault.access_policies:
            self._policy[entry.object_key] = self._policy.get(entry.object_key, 0) | entry.data

    # -- RBAC side -------------------------------------------------------------------------
    def _with_groups(self, principal: str) -> tuple[str, ...]:
        return (principal, *self.member_of.get(principal, ()))

    def rbac_grants(self, principal: str, *, objects: bool = False) -> list[Grant]:
        """Grants giving ``principal`` Key Vault data access (directly or through its groups)."""
        found: list[Grant] = []
        source = self.object_grants if objects else self.grants
        for key in self._with_groups(principal):
            found.extend(g for g in source.get(key, ()) if g.data)
        return found

    def rbac_data(self, principal: str, *, objects: bool = False) -> int:
        """Effective RBAC data access at vault level (object-scoped grants only when asked)."""
        mask = 0
        for grant in self.rbac_grants(principal):
            mask |= grant.data
        if objects:
            for grant in self.rbac_grants(principal, objects=True):
                mask |= grant.data
        return mask

    def data_principals(self) -> list[str]:
        """Principals assigned a role with Key Vault data actions here (vault level, above, or objects)."""
        keys = {p for p, gs in self.grants.items() if any(g.data for g in gs)}
        keys.update(p for p, gs in self.object_grants.items() if any(g.data for g in gs))
        return sorted(keys)

    def self_granters(self) -> dict[str, list[Grant]]:
        """Principals whose control access at the vault or above includes a self-grant action."""
        return {p: [g for g in gs if g.role.self_grant] for p, gs in self.grants.items() if any(g.role.self_grant for g in gs)}

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
    """Role assignments indexed by scope, built once per estate."""

    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.vault_keys = {v.key for v in estate.vaults}
        self.by_scope: dict[str, list[RoleAssignment]] = {}
        self.in_vault: dict[str, list[tuple[RoleAssignment, str]]] = {}
        self.member_of: dict[str, tuple[str, ...]] = {}
        if estate.principals is not None:
            self.member_of = {k: p.member_of for k, p in estate.principals.items() if p.member_of}
        for assignment in estate.assignments:
            key = assignment.scope_key
            if key not in self.vault_keys and VAULT_SEGMENT in key:
                for prefix in prefixes(key):
                    if prefix in self.vault_keys and prefix != key:
                        self.in_vault.setdefault(prefix, []).append((assignment, key))
                        break
                continue
            self.by_scope.setdefault(key, []).append(assignment)
        self._inherited: dict[str, list[tuple[RoleAssignment, str]]] = {}

    def role(self, assignment: RoleAssignment) -> RoleDefinition | None:
        return self.estate.role_definitions.get(assignment.role_guid)

    def _above_subscription(self, vault: Vault) -> list[tuple[RoleAssignment, str]]:
        """Assignments at the vault's management-group ancestors and ``/`` (cached per subscription)."""
        sub = vault.subscription_key or ""
        cached = self._inherited.get(sub)
        if cached is None:
            cached = []
            for mg in self.estate.management_groups_of(vault):
                cached.extend((a, "managementGroup") for a in self.by_scope.get(MG_PREFIX + mg, ()))
            cached.extend((a, "root") for a in self.by_scope.get("/", ()))
            self._inherited[sub] = cached
        return cached

    def covering(self, vault: Vault) -> list[tuple[RoleAssignment, str]]:
        """Assignments whose scope covers the whole vault, with their scope level."""
        found: list[tuple[RoleAssignment, str]] = []
        for key in prefixes(vault.key):
            at = self.by_scope.get(key)
            if at:
                level = "vault" if key == vault.key else scope_level(key)
                found.extend((a, level) for a in at)
        found.extend(self._above_subscription(vault))
        return found

    def vault_access(self, vault: Vault) -> VaultAccess:
        grants: dict[str, list[Grant]] = {}
        object_grants: dict[str, list[Grant]] = {}
        unknown: list[RoleAssignment] = []
        for assignment, level in self.covering(vault):
            role = self.role(assignment)
            if role is None:
                unknown.append(assignment)
            elif role.relevant:
                grants.setdefault(assignment.principal_key, []).append(Grant(assignment, role, level))
        for assignment, _key in self.in_vault.get(vault.key, ()):
            role = self.role(assignment)
            if role is None:
                unknown.append(assignment)
            elif role.data:
                object_grants.setdefault(assignment.principal_key, []).append(Grant(assignment, role, "object"))
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
