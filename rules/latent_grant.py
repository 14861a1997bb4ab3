"""latent-grant: role assignments that would widen a principal's access when the vault moves to RBAC."""

from __future__ import annotations

from audit_function import permissions as perms
from rules.base import RuleMeta, capped, finding, groups_note

META = RuleMeta(
    id="latent-grant",
    title="Switching to RBAC would widen a principal's data access",
    severity="medium",
    applies_to="vault",
    models=("accessPolicy",),
    uses_rbac=True,
    subject="vault",
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
    gainers = access.gainers()
    if not gainers:
        return
    items = []
    assignment_ids = []
    for gainer in gainers:
        who = ctx.who(gainer.assignment.principal_id)
        items.append({
            "principalId": gainer.assignment.principal_id, "principalName": who["principalName"],
            "principalType": gainer.assignment.principal_type or who["principalType"], "userType": who["userType"],
            **ctx.deleted_flag(gainer.assignment.principal_id),
            # actions in words (report 2: evidence stays compact); the grants name their roles (``roles``)
            "widenedDataActionsInWords": perms.describe(gainer.widened),
            "widenedDataActionsCount": gainer.widened.bit_count(),
            "withoutAccessPolicyEquivalent": perms.names(gainer.widened & ~perms.POLICY_UNIVERSE),
            "accessPolicyDataActionsInWords": perms.describe(gainer.policy),
            **capped([g.ref(gainer.assignment.principal_id) for g in gainer.grants], "grants"),   # roles by id: ``roles``
        })
        assignment_ids.extend(g.assignment.id for g in gainer.grants)
    assignment_ids = list(dict.fromkeys(assignment_ids))
    yield finding(
        META, ctx, vault=vault, principal_id=gainers[0].assignment.principal_id,
        assignment_ids=" ".join(assignment_ids[:20]),
        message=(f"Switching vault {vault.name} to RBAC would widen the data access of {len(gainers)} "
                 f"principal{'' if len(gainers) == 1 else 's'} beyond what the access policies give "
                 f"{'it' if len(gainers) == 1 else 'them'} today, through {len(assignment_ids)} grant"
                 f"{'' if len(assignment_ids) == 1 else 's'} that do nothing now."),
        evidence={**capped(items, "principals"), "grantCount": len(assignment_ids), "groups": groups_note(ctx)},
    )
