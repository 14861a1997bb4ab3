"""full-access-policy: an access-policy entry grants `all` or `purge`."""

from __future__ import annotations

from audit_function import permissions as perms
from rules.base import RuleMeta, finding

#: access-policy category -> the `az keyvault set-policy` option that sets it
FLAGS = {"keys": "--key-permissions", "secrets": "--secret-permissions",
         "certificates": "--certificate-permissions", "storage": "--storage-permissions"}

META = RuleMeta(
    id="full-access-policy",
    title="Access-policy entry grants all permissions or purge",
    severity="medium",
    applies_to="vault",
    models=("accessPolicy",),
    subject="access-policy entry",
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
    for entry in vault.access_policies:
        if not entry.broad:
            continue
        yield finding(
            META, ctx, vault=vault, subject=entry.subject, principal_id=entry.object_id,
            application_option=f" --application-id {entry.application_id}" if entry.application_id else "",
            permission_options=_narrowed(entry),
            message=(f"Access-policy entry for {entry.object_id} on vault {vault.name} grants "
                     f"{', '.join(entry.broad)} ({len(perms.names(entry.data))} data actions: "
                     f"{perms.describe(entry.data)})."),
            evidence={"policyEntry": entry.evidence(),
                      "broadPermissions": list(entry.broad),
                      "dataActions": perms.names(entry.data), "dataActionsInWords": perms.describe(entry.data),
                      "dataActionCount": len(perms.names(entry.data))},
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
