"""self-grant-path: a principal that can write the vault can give itself any data access."""

from __future__ import annotations

from rules.base import RuleMeta, finding

META = RuleMeta(
    id="self-grant-path",
    title="Principal can grant itself data access through the vault's access policies",
    severity="high",
    applies_to="vault",
    models=("accessPolicy",),
    uses_rbac=True,
    subject="(vault, principal)",
    rationale=(
        "On a vault that uses access policies, the policies are part of the vault resource. Anyone allowed "
        "Microsoft.KeyVault/vaults/write or Microsoft.KeyVault/vaults/accessPolicies/write (Owner, Contributor, "
        "Key Vault Contributor, custom roles) at the vault or above can add an access policy for itself and then "
        "read every secret, key and certificate. Azure RBAC closes this path: there, granting data access needs "
        "Microsoft.Authorization/roleAssignments/write."
    ),
    remediation=(
        "Move the vault to Azure RBAC (plan with `kv-audit plan --vault {vault_id}`, then "
        "`az keyvault update --name {vault_name} --resource-group {resource_group} --enable-rbac-authorization true`), "
        "or remove the control-plane assignments the principal does not need: `az role assignment delete --ids {assignment_ids}`"
    ),
    references=("CIS Microsoft Azure Foundations 8.3.6",
                "https://learn.microsoft.com/azure/key-vault/general/rbac-access-policy",
                "https://learn.microsoft.com/azure/key-vault/general/security-features"),
)


def evaluate(vault, access, ctx):
    for principal, grants in sorted(access.self_granters().items()):
        grants = sorted(grants, key=lambda g: g.assignment.key)
        actions = sorted({action for g in grants for action in g.role.self_grant})
        first = grants[0].assignment
        via = "; ".join(f"{g.role.name} at {g.level} scope {g.assignment.scope}" for g in grants)
        yield finding(
            META, ctx, vault=vault, subject=f"principal:{principal}", principal_id=first.principal_id,
            principal_type=first.principal_type, assignment_ids=" ".join(g.assignment.id for g in grants),
            message=(f"{first.principal_type or 'Principal'} {first.principal_id} can write access policies on vault "
                     f"{vault.name} ({', '.join(actions)}) through {via}: it can grant itself any data access, "
                     f"including reading every secret."),
            evidence={"principalId": first.principal_id, "principalType": first.principal_type,
                      "controlActions": actions, "assignmentCount": len(grants),
                      "assignments": [{**g.evidence(), "grants": list(g.role.self_grant),
                                       "conditional": g.assignment.conditional} for g in grants],
                      "groups": "one finding per assignee; a group assignee stands for every member"},
        )
