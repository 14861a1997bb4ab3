"""wildcard-custom-role: a custom role whose '*' patterns reach Key Vault data or vaults/write."""

from __future__ import annotations

from audit_function import permissions as perms
from audit_function.estate import prefixes, scope_level
from rules.base import NotEvaluated, RuleMeta, finding

LEVELS = ("root", "managementGroup", "subscription", "resourceGroup", "vault", "object")

META = RuleMeta(
    id="wildcard-custom-role",
    title="Custom role grants Key Vault access through a wildcard",
    severity="medium",
    applies_to="estate",
    subject="(role definition, assignment)",
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
    vaults = {v.key: v for v in estate.vaults}
    for assignment in estate.assignments:
        level = scope_level(assignment.scope_key, index.vault_keys)
        if level not in LEVELS:
            continue
        vault = _vault_of(assignment.scope_key, level, vaults)
        role = index.role(assignment)
        if role is None:
            yield NotEvaluated(META.id, vault.id if vault else None,
                               f"role definition {assignment.role_definition_id} of assignment {assignment.id} "
                               f"is unknown", scope=assignment.scope)
            continue
        if not (role.custom and role.wildcards):
            continue
        data_patterns, action_patterns = _wildcards(role)
        matched = perms.patterns_mask(data_patterns)
        what = []
        if data_patterns:
            what.append(f"dataActions {', '.join(data_patterns)} (matching {len(perms.names(matched))} Key Vault "
                        f"data actions)")
        if action_patterns:
            what.append(f"actions {', '.join(action_patterns)} (matching Microsoft.KeyVault/vaults/write)")
        yield finding(
            META, ctx, anchor=assignment.id, subject=f"role:{role.guid}", vault=vault, assignment=assignment,
            role=role, principal_id=assignment.principal_id, principal_type=assignment.principal_type,
            message=(f"Custom role {role.name}, assigned to {assignment.principal_id} at {level} scope "
                     f"{assignment.scope}, grants through wildcards: {'; '.join(what)}."),
            evidence={"roleName": role.name, "roleDefinitionId": role.id, "scope": assignment.scope,
                      "scopeLevel": level, "principalId": assignment.principal_id,
                      "conditional": assignment.conditional,
                      "dataActionWildcards": data_patterns, "actionWildcards": action_patterns,
                      "matchedDataActions": perms.names(matched),
                      "matchedDataActionsInWords": perms.describe(matched),
                      "effectiveDataActions": perms.names(role.data),
                      "notDataActions": sorted({p for b in role.blocks for p in b.not_data_actions}),
                      "notActions": sorted({p for b in role.blocks for p in b.not_actions})},
        )


def _wildcards(role) -> tuple[list[str], list[str]]:
    """The role's '*' patterns, split into data patterns and control patterns (see ``role.wildcards``)."""
    data = [p for p in role.wildcards if any(p in b.data_actions for b in role.blocks) and perms.pattern_mask(p)]
    control = [p for p in role.wildcards
               if any(p in b.actions for b in role.blocks) and perms.matches(p, perms.VAULT_WRITE)]
    return data, control


def _vault_of(key: str, level: str, vaults: dict):
    if level not in ("vault", "object"):
        return None
    return next((vaults[p] for p in prefixes(key) if p in vaults), None)
