"""broad-data-role: a Key Vault data role assigned above the vault, reaching every vault beneath."""

from __future__ import annotations

from audit_function import permissions as perms
from audit_function.estate import scope_level
from rules.base import NotEvaluated, RuleMeta, finding

BROAD = {"root": "high", "managementGroup": "high", "subscription": "high", "resourceGroup": "medium"}

META = RuleMeta(
    id="broad-data-role",
    title="Key Vault data role assigned at a broad scope",
    severity="high",
    applies_to="estate",
    subject="role assignment",
    rationale=(
        "A role with Key Vault data actions assigned at a management group, the tenant root, a subscription "
        "or a resource group applies to every vault beneath it, now and in future: new vaults inherit it "
        "silently, and access-policy vaults gain it the moment they switch to RBAC. Data access should be "
        "granted per vault (or per secret, key or certificate). High at /, management group or subscription "
        "scope; medium at resource group."
    ),
    remediation=(
        "Replace it with vault-scoped assignments: `az role assignment create --assignee-object-id {principal_id} "
        "--role \"{role_name}\" --scope <vault id>` for each vault that needs it, then "
        "`az role assignment delete --ids {assignment_id}`"
    ),
    references=("Microsoft cloud security benchmark PA-7 (least privilege)",
                "https://learn.microsoft.com/azure/key-vault/general/rbac-guide#best-practices-for-individual-keys-secrets-and-certificates-role-assignments"),
)


def evaluate(estate, index, ctx):
    broad = []
    for assignment in estate.assignments:
        level = scope_level(assignment.scope_key)
        if level not in BROAD:
            continue
        role = index.role(assignment)
        if role is None:
            yield NotEvaluated(META.id, None, f"role definition {assignment.role_definition_id} of assignment "
                               f"{assignment.id} is unknown", scope=assignment.scope)
        elif role.data:
            broad.append((assignment, role, level))
    counts = index.vaults_under({a.scope_key for a, _, _ in broad})
    for assignment, role, level in broad:
        total, rbac = counts[assignment.scope_key]
        yield finding(
            META, ctx, assignment=assignment, role=role, subject="assignment", severity=BROAD[level],
            principal_id=assignment.principal_id, principal_type=assignment.principal_type,
            message=(f"{role.name} is assigned to {assignment.principal_id} at {level} scope {assignment.scope}: "
                     f"it reaches {total} vault(s) in the snapshot ({rbac} using RBAC, where it is effective now) "
                     f"and every vault created beneath later."),
            evidence={"roleName": role.name, "roleDefinitionId": role.id, "scope": assignment.scope,
                      "scopeLevel": level, "vaultsCovered": total, "rbacVaultsCovered": rbac,
                      "dataActions": perms.names(role.data), "conditional": assignment.conditional},
        )
