"""full-access-policy: an access-policy entry grants `all` or `purge`."""

from __future__ import annotations

from audit_function import permissions as perms
from rules.base import RuleMeta, capped, entry_item, finding

#: access-policy category -> the `az keyvault set-policy` option that sets it
FLAGS = {"keys": "--key-permissions", "secrets": "--secret-permissions",
         "certificates": "--certificate-permissions", "storage": "--storage-permissions"}

META = RuleMeta(
    id="full-access-policy",
    title="Access-policy entry grants all permissions or purge",
    severity="medium",
    applies_to="vault",
    models=("accessPolicy",),
    subject="vault",
    rationale=(
        "`all` gives every permission of a category (every permission except purge), including delete, backup, "
        "restore and, for keys, decrypt and sign, and silently includes permissions Azure adds later. `purge` "
        "deletes soft-deleted objects for good, so they cannot be recovered. Few principals need either; least "
        "privilege means listing the permissions the workload uses."
    ),
    remediation=(
        "Set only the permissions the principal uses (set-policy replaces the categories it is given): "
        "`az keyvault set-policy --name {vault_name} --resource-group {resource_group} --object-id {principal_id}"
        "{application_option} {permission_options}`"
    ),
    references=("https://learn.microsoft.com/azure/key-vault/general/assign-access-policy",
                "https://learn.microsoft.com/azure/key-vault/general/security-features",
                "https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview"),
)


def evaluate(vault, access, ctx):
    broad = [entry for entry in vault.access_policies if entry.broad]
    if not broad:
        return
    items = [entry_item(entry, ctx, broadPermissions=list(entry.broad), dataActionCount=len(perms.names(entry.data)),
                        dataActionsInWords=perms.describe(entry.data)) for entry in broad]
    first = broad[0]
    yield finding(
        META, ctx, vault=vault, principal_id=first.object_id,
        application_option=f" --application-id {first.application_id}" if first.application_id else "",
        permission_options=_narrowed(first),
        message=(f"{len(broad)} access-policy entr{'y' if len(broad) == 1 else 'ies'} on vault {vault.name} "
                 f"grant{'s' if len(broad) == 1 else ''} 'all' or 'purge' "
                 f"({', '.join(sorted({b for e in broad for b in e.broad}))})."),
        evidence=capped(items, "entries"),
    )



def _narrowed(entry) -> str:
    """`set-policy` options for the broad categories: the named permissions kept, `all`/`purge` dropped."""
    options = []
    for category, names in entry.permissions.items():
        lowered = [n.lower() for n in names]
        if "all" not in lowered and "purge" not in lowered:
            continue
        kept = [n for n in names if n.lower() not in ("all", "purge")]
        if "all" in lowered or not kept:
            kept = ["<permissions it needs>"]
        options.append(f"{FLAGS[category]} {' '.join(kept)}")
    return " ".join(options)
