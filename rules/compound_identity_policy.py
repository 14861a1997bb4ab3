"""compound-identity-policy: an access-policy entry for an application acting on behalf of a user."""

from __future__ import annotations

from audit_function import permissions as perms
from rules.base import RuleMeta, finding

META = RuleMeta(
    id="compound-identity-policy",
    title="Access-policy entry uses a compound identity (applicationId)",
    severity="low",
    applies_to="vault",
    models=("accessPolicy",),
    subject="access-policy entry",
    rationale=(
        "An entry with an applicationId (compound identity) grants access only when that application acts on "
        "behalf of that principal. Azure RBAC has no equivalent, so this entry cannot be migrated as is and "
        "blocks a clean switch of the vault to RBAC; it has to be redesigned (grant the application's own "
        "identity, or the user, through a role assignment)."
    ),
    remediation=(
        "Grant the access through a role assignment to the application's service principal or to the user "
        "(`kv-audit plan --vault {vault_id}`), then remove the entry: `az keyvault delete-policy --name {vault_name} "
        "--resource-group {resource_group} --object-id {principal_id} --application-id {application_id}`"
    ),
    references=("https://learn.microsoft.com/azure/key-vault/general/security-features",
                "https://learn.microsoft.com/azure/key-vault/general/rbac-migration"),
)


def evaluate(vault, access, ctx):
    for entry in vault.access_policies:
        if not entry.application_id:
            continue
        yield finding(
            META, ctx, vault=vault, subject=entry.subject, principal_id=entry.object_id,
            application_id=entry.application_id,
            message=(f"Access-policy entry on vault {vault.name} grants {perms.describe(entry.data) or 'no data action'} "
                     f"to {entry.object_id} only through application {entry.application_id} (compound identity); "
                     f"Azure RBAC has no equivalent."),
            evidence={"policyEntry": entry.evidence(),
                      "applicationId": entry.application_id,
                      "dataActions": perms.names(entry.data), "dataActionsInWords": perms.describe(entry.data)},
        )
