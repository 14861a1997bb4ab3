"""dead-access-policy: an access-policy entry on an RBAC vault whose access RBAC already gives."""

from __future__ import annotations

from audit_function import permissions as perms
from rules.base import RuleMeta, finding, groups_note

META = RuleMeta(
    id="dead-access-policy",
    title="Inert access-policy entry on an RBAC vault",
    severity="low",
    applies_to="vault",
    models=("rbac",),
    uses_rbac=True,
    subject="access-policy entry",
    rationale=(
        "An RBAC vault ignores its access policies. This entry's principal already has every data action "
        "the entry grants through role assignments, so the entry is inert and safe to delete; left in place "
        "it misleads reviewers and becomes live again if the vault is switched back to access policies."
    ),
    remediation=(
        "az keyvault delete-policy --name {vault_name} --resource-group {resource_group} --object-id {principal_id}"
    ),
    references=("https://learn.microsoft.com/azure/key-vault/general/rbac-migration",),
)


def evaluate(vault, access, ctx):
    for entry in vault.access_policies:
        if access.coverage(entry):
            continue  # stranded-access-policy reports it
        grants = access.rbac_grants(entry.object_key)
        yield finding(
            META, ctx, vault=vault, subject=entry.subject, principal_id=entry.object_id,
            message=(f"Access-policy entry for {entry.object_id} on RBAC vault {vault.name} is inert: "
                     + ("it grants no data action." if not entry.data else
                        "role assignments already give the principal everything it grants.")),
            evidence={
                "policyEntry": entry.evidence(),
                "policyDataActions": perms.names(entry.data),
                "coveredBy": [g.evidence() for g in grants],
                "groups": groups_note(ctx),
            },
        )
