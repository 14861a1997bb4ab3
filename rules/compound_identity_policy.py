"""compound-identity-policy: an access-policy entry for an application acting on behalf of a user."""

from __future__ import annotations

from audit_function import permissions as perms
from rules.base import RuleMeta, capped, entry_item, finding

META = RuleMeta(
    id="compound-identity-policy",
    title="Access-policy entry uses a compound identity (applicationId)",
    severity="low",
    applies_to="vault",
    models=("accessPolicy",),
    subject="vault",
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
    compound = [entry for entry in vault.access_policies if entry.application_id]
    if not compound:
        return
    items = [entry_item(entry, ctx, dataActionsInWords=perms.describe(entry.data)) for entry in compound]
    first = compound[0]
    yield finding(
        META, ctx, vault=vault, principal_id=first.object_id, application_id=first.application_id,
        message=(f"{len(compound)} access-policy entr{'y' if len(compound) == 1 else 'ies'} on vault {vault.name} "
                 f"grant{'s' if len(compound) == 1 else ''} access only through an application acting for the "
                 f"principal (compound identity); Azure RBAC has no equivalent."),
        evidence=capped(items, "entries"),
    )

