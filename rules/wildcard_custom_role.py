"""wildcard-custom-role: a custom role whose '*' patterns reach Key Vault data or vaults/write."""

from __future__ import annotations

from audit_function import permissions as perms
from audit_function.estate.scopes import VAULT_SEGMENT, scope_level
from rules.base import NotEvaluated, RuleMeta, capped, finding

LEVELS = ("root", "managementGroup", "subscription", "resourceGroup", "vault", "object")

META = RuleMeta(
    id="wildcard-custom-role",
    title="Custom role grants Key Vault access through a wildcard",
    severity="medium",
    applies_to="estate",
    subject="roleDefinition",
    rationale=(
        "A '*' in a custom role's dataActions (for example *, Microsoft.KeyVault/*, Microsoft.KeyVault/vaults/* or "
        "Microsoft.KeyVault/vaults/secrets/*) matches every Key Vault data action that exists now and every one "
        "Microsoft adds later; a '*' in actions that matches Microsoft.KeyVault/vaults/write lets the holder "
        "rewrite vaults, including their access policies. notDataActions and notActions do not make this safe: "
        "they only remove actions known when the role was written."
    ),
    remediation=(
        "List the exact actions the role needs instead of the wildcard: "
        "`az role definition list --name \"{role_name}\" --query \"[0]\" > role.json`, replace the '*' patterns in "
        "dataActions/actions, then `az role definition update --role-definition role.json`"
    ),
    references=("https://learn.microsoft.com/azure/role-based-access-control/custom-roles",
                "https://learn.microsoft.com/azure/role-based-access-control/role-definitions#dataactions",
                "https://learn.microsoft.com/azure/key-vault/general/rbac-guide"),
)


def evaluate(estate, index, ctx):
    by_role: dict[str, list] = {}
    for assignment in estate.assignments:
        key = assignment.scope_key
        level = scope_level(key, index.vault_keys)
        if level not in LEVELS and VAULT_SEGMENT not in key:
            continue
        role = index.role(assignment)
        if role is None:
            yield NotEvaluated(META.id, None, f"role definition {assignment.role_definition_id} of grant "
                               f"{assignment.id} is unknown", scope=assignment.scope)
            continue
        if role.custom and role.wildcards:
            by_role.setdefault(role.guid, []).append(assignment)
    for guid in sorted(by_role):
        grants = sorted(by_role[guid], key=lambda a: a.key)
        role = estate.role_definitions[guid]
        data_patterns, action_patterns = _wildcards(role)
        matched = perms.patterns_mask(data_patterns)
        what = []
        if data_patterns:
            what.append(f"dataActions {', '.join(data_patterns)} (matching {len(perms.names(matched))} Key Vault "
                        f"data actions)")
        if action_patterns:
            what.append(f"actions {', '.join(action_patterns)} (matching "
                        f"{', '.join(perms.control_names(perms.control_patterns_mask(action_patterns) & perms.SELF_GRANT_ACCESS_POLICY))})")
        vaults = {}
        for a in grants:
            for v in index.covered_vaults(a):
                vaults[v.key] = v
            inside = index.vault_containing(a.scope_key)
            if inside:
                vaults[inside] = index.vault_keys[inside]
        yield finding(
            META, ctx, role=role, affected_vaults=vaults.values(),
            message=(f"Custom role {role.name}, granted {len(grants)} time(s), reaches Key Vault through "
                     f"wildcards: {'; '.join(what)}."),
            evidence={"roleName": role.name, "roleDefinitionId": role.id,
                      "dataActionWildcards": data_patterns, "actionWildcards": action_patterns,
                      "matchedDataActions": perms.names(matched),
                      "matchedDataActionsInWords": perms.describe(matched),
                      **capped(sorted({p for b in role.blocks for p in b.not_data_actions}), "notDataActions"),
                      **capped(sorted({p for b in role.blocks for p in b.not_actions}), "notActions"),
                      **capped([{"assignmentId": a.id, "principalId": a.principal_id, "scope": a.scope,
                                 "scopeLevel": scope_level(a.scope_key, index.vault_keys),
                                 "eligible": a.eligible, "conditional": a.conditional} for a in grants], "grants"),
                      **capped(sorted(v.id for v in vaults.values()), "vaultIds")},
        )


def _wildcards(role) -> tuple[list[str], list[str]]:
    """The role's '*' patterns, split into data patterns and control patterns (see ``role.wildcards``)."""
    data = [p for p in role.wildcards if any(p in b.data_actions for b in role.blocks) and perms.pattern_mask(p)]
    control = [p for p in role.wildcards if any(p in b.actions for b in role.blocks)
               and perms.control_patterns_mask([p]) & perms.SELF_GRANT_ACCESS_POLICY]
    return data, control
