"""inert-role-assignment: a Key Vault data role at (or inside) an access-policy vault does nothing yet."""

from __future__ import annotations

from audit_function import permissions as perms
from rules.base import RuleMeta, capped, finding

META = RuleMeta(
    id="inert-role-assignment",
    title="Role assignment with no effect on an access-policy vault",
    severity="medium",
    applies_to="vault",
    models=("accessPolicy",),
    uses_rbac=True,
    subject="grant",
    rationale=(
        "A vault that uses access policies ignores Azure RBAC for data access. This assignment grants Key Vault "
        "data actions at the vault (or on a secret, key or certificate in it), so it grants nothing today and "
        "takes effect, unreviewed, the moment the vault is switched to RBAC. It may be staged on purpose for a "
        "migration or be left over from one that was rolled back."
    ),
    remediation=(
        "If it is staged for the move to RBAC, check it against `kv-audit plan --vault {vault_id}`; "
        "otherwise remove it: `az role assignment delete --ids {assignment_id}`"
    ),
    references=("https://learn.microsoft.com/azure/key-vault/general/rbac-migration",
                "https://learn.microsoft.com/azure/key-vault/general/rbac-guide"),
)


def evaluate(vault, access, ctx):
    for grants in (*access.grants.values(), *access.object_grants.values()):
        for grant in grants:
            if not grant.data or grant.level not in ("vault", "object"):
                continue
            a = grant.assignment
            where = "the vault" if grant.level == "vault" else f"object {a.scope}"
            yield finding(
                META, ctx, vault=vault, assignment=a, role=grant.role, affected_vaults=[vault],
                message=(f"{grant.role.name} {'made eligible for' if grant.eligible else 'assigned to'} "
                         f"{a.principal_type or 'principal'} {ctx.named(a.principal_id)} on {where} "
                         f"has no effect: vault {vault.name} uses access policies. It grants "
                         f"{perms.describe(grant.data)} as soon as the vault is switched to RBAC"
                         + (" (the assignment has a condition)." if a.conditional else ".")),
                evidence={**grant.evidence(), "objectScoped": grant.level == "object",
                          "conditional": a.conditional, "eligible": grant.eligible,
                          "permissionModel": vault.model, "roles": [a.role_definition_id],
                          **capped([vault.id], "vaultIds"),
                          "dataActionsInWords": perms.describe(grant.data),
                          "dataActionCount": len(perms.names(grant.data))},
            )
