"""latent-grant: role assignments that would widen a principal's access when the vault moves to RBAC."""

from __future__ import annotations

from audit_function import permissions as perms
from rules.base import RuleMeta, finding, groups_note

META = RuleMeta(
    id="latent-grant",
    title="Switching to RBAC would widen a principal's data access",
    severity="medium",
    applies_to="vault",
    models=("accessPolicy",),
    uses_rbac=True,
    subject="(vault, principal)",
    rationale=(
        "Role assignments that reach an access-policy vault (at the vault, a secret, key or certificate in it, or "
        "its resource group, subscription, management groups or /) do nothing today, so nobody reviews them. "
        "They take effect the moment the vault is switched to RBAC: this principal would then get data actions "
        "its access policy does not give it. Data actions no access-policy permission can express (such as "
        "certificates/release) always count as new access."
    ),
    remediation=(
        "Before switching {vault_name} to RBAC, remove or narrow the assignments that grant more than the access "
        "policy (`az role assignment delete --ids {assignment_ids}`, then re-create a narrower role at the vault if "
        "needed), or record that the wider access is intended"
    ),
    references=("https://learn.microsoft.com/azure/key-vault/general/rbac-migration",
                "https://learn.microsoft.com/azure/key-vault/general/rbac-guide"),
)


def evaluate(vault, access, ctx):
    for gainer in access.gainers():
        principal, first, widened, policy, grants = (gainer.key, gainer.assignment, gainer.widened, gainer.policy,
                                                      gainer.grants)
        via = "; ".join(f"{g.role.name} at {g.level} scope {g.assignment.scope}"
                        + (" (conditional)" if g.assignment.conditional else "") for g in grants)
        now = "has no access-policy entry" if not policy else f"has only {perms.describe(policy)} by access policy"
        yield finding(
            META, ctx, vault=vault, subject=f"principal:{principal}", principal_id=first.principal_id,
            principal_type=first.principal_type, assignment_ids=" ".join(g.assignment.id for g in grants),
            message=(f"Switching vault {vault.name} to RBAC would give {first.principal_id} "
                     f"{perms.describe(widened)} through {via}; today it {now}."),
            evidence={"principalId": first.principal_id, "principalType": first.principal_type,
                      "widenedDataActions": perms.names(widened),
                      "widenedDataActionsInWords": perms.describe(widened),
                      "widenedDataActionCount": len(perms.names(widened)),
                      "withoutAccessPolicyEquivalent": perms.names(widened & ~perms.POLICY_UNIVERSE),
                      "accessPolicyDataActions": perms.names(policy),
                      "accessPolicyEntries": sum(1 for e in vault.access_policies if e.object_key == principal),
                      "assignments": [{**g.evidence(), "principalId": g.assignment.principal_id,
                                       "conditional": g.assignment.conditional,
                                       "widenedDataActions": perms.names(g.data & widened)} for g in grants],
                      "groups": groups_note(ctx)},
        )
