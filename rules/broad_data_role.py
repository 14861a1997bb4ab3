"""broad-data-role: a Key Vault data role assigned above the vault, reaching every vault beneath."""

from __future__ import annotations

from audit_function.estate.scopes import scope_level
from rules.base import NotEvaluated, RuleMeta, capped, finding

BROAD = {"root": "high", "managementGroup": "high", "subscription": "high", "resourceGroup": "medium"}

META = RuleMeta(
    id="broad-data-role",
    title="Key Vault data role assigned at a broad scope",
    severity="high",
    applies_to="estate",
    subject="grant",
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
    for assignment in estate.assignments:
        level = scope_level(assignment.scope_key)
        if level not in BROAD:
            continue
        role = index.role(assignment)
        if role is None:
            yield NotEvaluated(META.id, None, f"role definition {assignment.role_definition_id} of grant "
                               f"{assignment.id} is unknown", scope=assignment.scope)
            continue
        if not role.data:
            continue
        covered = index.covered_vaults(assignment)
        rbac = sum(1 for v in covered if v.is_rbac)
        yield finding(
            META, ctx, assignment=assignment, role=role, severity=BROAD[level],
            principal_id=assignment.principal_id,   # fills {principal_id} in the remediation
            affected_vaults=covered,
            message=(f"{role.name} is {'made eligible for' if assignment.eligible else 'assigned to'} "
                     f"{ctx.named(assignment.principal_id)} at {level} scope {assignment.scope}: it covers {len(covered)} "
                     f"vault(s) in the snapshot ({rbac} using RBAC, where it is effective now) and every vault "
                     f"created beneath later."),
            evidence={"roleName": role.name, "scope": assignment.scope, "scopeLevel": level,
                      "vaultsCovered": len(covered), "rbacVaultsCovered": rbac, "roles": [assignment.role_definition_id],
                      "conditional": assignment.conditional, "eligible": assignment.eligible,
                      **capped(sorted(v.id for v in covered), "vaultIds")},
        )
