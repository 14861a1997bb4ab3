"""Access rows: one per vault x principal x source with Key Vault data access, in either model.

The rows of the spreadsheet's Access sheet and of the access export (``--format access``),
made once per vault by the access-rows pass (passes.py) from the vault's
:class:`~audit_function.access.engine.VaultAccess`.
"""

from __future__ import annotations

from audit_function import permissions as perms
from audit_function.access.engine import AccessIndex, VaultAccess
from audit_function.estate.model import PolicyEntry


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
                denied = grant.data & access.denied(key)[0]
                data = grant.data & ~denied
                rows.append({**base, "principalId": a.principal_id,
                             "principalType": a.principal_type or (principal.type if principal else None),
                             "principalName": principal.display_name if principal else None,
                             "source": "eligibleAssignment" if grant.eligible else "roleAssignment",
                             "assignmentId": a.id, "roleDefinitionId": a.role_definition_id,
                             "roleName": grant.role.name, "scope": a.scope, "scopeLevel": grant.level,
                             "objectScoped": grant.level == "object", "conditional": a.conditional,
                             "effective": vault.is_rbac and not grant.eligible and bool(data),
                             "dataActions": perms.names(data), "deniedDataActions": perms.names(denied),
                             "permissions": perms.describe(data)})
    return rows


def _policy_words(entry: PolicyEntry) -> str:
    parts = [f"{cat}: {', '.join(names)}" for cat, names in entry.permissions.items() if names]
    return "; ".join(parts)
