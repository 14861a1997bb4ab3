"""self-grant-path: a grant whose holder can give itself any data access on the vaults it covers."""

from __future__ import annotations

from audit_function import permissions as perms
from rules.base import NotEvaluated, RuleMeta, capped, finding

META = RuleMeta(
    id="self-grant-path",
    title="Grant lets its holder give itself data access to vaults",
    severity="high",
    applies_to="estate",
    subject="grant",
    rationale=(
        "A principal that can change who has access can give itself any data access, including reading every "
        "secret. On access-policy vaults the policies are part of the vault resource, so "
        "Microsoft.KeyVault/vaults/write or vaults/accessPolicies/write (Owner, Contributor, Key Vault "
        "Contributor) writes a policy directly; Microsoft.Authorization/roleAssignments/write (Owner, User Access "
        "Administrator, Role Based Access Control Administrator, Key Vault Data Access Administrator) assigns a "
        "role that can, in two steps. On RBAC vaults roleAssignments/write assigns a Key Vault data role "
        "directly. Deny assignments that apply to the holder on a vault close the path there; an eligible (PIM) "
        "grant counts, since its holder can activate it."
    ),
    remediation=(
        "Remove or narrow the grant: `az role assignment delete --ids {assignment_id}`; where the holder needs it, "
        "constrain it (an ABAC condition limiting which roles it may assign, or a PIM eligible assignment with "
        "approval), and move access-policy vaults to Azure RBAC"
    ),
    references=("CIS Microsoft Azure Foundations 8.3.6",
                "https://learn.microsoft.com/azure/key-vault/general/rbac-access-policy",
                "https://learn.microsoft.com/azure/role-based-access-control/delegate-role-assignments-overview",
                "https://learn.microsoft.com/azure/key-vault/general/security-features"),
)


def evaluate(estate, index, ctx):
    for assignment in estate.assignments:
        if index.vault_containing(assignment.scope_key) is not None:
            continue  # object-scoped control grants do not count
        role = index.role(assignment)
        if role is None:
            # grants nothing; the vaults it would cover are not fully evaluated (catalog conventions)
            yield NotEvaluated(META.id, None, f"role definition {assignment.role_definition_id} of grant "
                               f"{assignment.id} is unknown", scope=assignment.scope)
            continue
        if not role.control & perms.SELF_GRANT_ACCESS_POLICY:
            continue
        hits, paths, actions = _openings(index, assignment, role.control)
        if not hits:
            continue
        yield finding(
            META, ctx, assignment=assignment, role=role, affected_vaults=hits,
            message=(f"{role.name} {'made eligible for' if assignment.eligible else 'assigned to'} "
                     f"{assignment.principal_type or 'principal'} "
                     f"{ctx.named(assignment.principal_id, assignment.managed_by_tenant and assignment.description)} "
                     f"at {assignment.scope} "
                     f"lets it give itself data access to {len(hits)} vault(s) ({', '.join(sorted(paths))})."),
            evidence={"paths": sorted(paths), "controlActions": perms.control_names(actions),
                      "eligible": assignment.eligible, "conditional": assignment.conditional,
                      "roles": [assignment.role_definition_id], **capped([v.id for v in hits], "vaultIds")},
        )


def _openings(index, assignment, control: int) -> tuple[list, set[str], int]:
    """The vaults where the grant opens a self-grant path (in key order), the paths, and the
    self-grant actions that open them, after the deny assignments that apply to its holder."""
    vaults = index.covered_vaults(assignment)
    if not index.has_denies:   # the grant opens the same paths on every vault of one model
        rbac, policy = control & perms.SELF_GRANT_RBAC, control & perms.SELF_GRANT_ACCESS_POLICY
        hits = [v for v in vaults if (rbac if v.is_rbac else policy)]
        models = {v.is_rbac for v in hits}
        paths = {p for model in models for p in perms.self_grant_paths(control, model)}
        return hits, paths, (rbac if True in models else 0) | (policy if False in models else 0)
    hits, paths, actions = [], set(), 0
    principal = assignment.principal_key
    for vault in vaults:
        allowed = control & ~index.denied_on(principal, vault)[1]
        opening = allowed & (perms.SELF_GRANT_RBAC if vault.is_rbac else perms.SELF_GRANT_ACCESS_POLICY)
        if opening:
            hits.append(vault)
            actions |= opening
            paths.update(perms.self_grant_paths(allowed, vault.is_rbac))
    return hits, paths, actions
