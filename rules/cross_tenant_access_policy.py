"""cross-tenant-access-policy: an access-policy entry names a tenant other than the vault's."""

from __future__ import annotations

from audit_function import permissions as perms
from rules.base import NotEvaluated, RuleMeta, finding

META = RuleMeta(
    id="cross-tenant-access-policy",
    title="Access-policy entry from another tenant",
    severity="medium",
    applies_to="vault",
    reads=('tenantId',),
    models=("accessPolicy",),
    subject="access-policy entry",
    rationale=(
        "A vault accepts only tokens issued by its own tenant (properties.tenantId). An entry whose tenantId is "
        "another tenant either never matches anyone, misleading reviewers about who has access, or records a "
        "principal the vault's tenant does not govern. Such entries are typically left behind when a "
        "subscription moves to another directory, after which the vault's access policies must be rebuilt."
    ),
    remediation=(
        "Remove the entry: `az keyvault delete-policy --name {vault_name} --resource-group {resource_group} "
        "--object-id {principal_id}`; if the access is still needed, grant it to a principal of tenant {vault_tenant}"
    ),
    references=("https://learn.microsoft.com/azure/key-vault/general/move-subscription",
                "https://learn.microsoft.com/azure/key-vault/general/assign-access-policy"),
)


def evaluate(vault, access, ctx):
    if not vault.access_policies:
        return
    if not vault.tenant_id:
        yield NotEvaluated(META.id, vault.id, "properties.tenantId is missing: the vault's tenant is unknown, "
                                              "so entry tenants cannot be compared with it")
        return
    for entry in vault.access_policies:
        if entry.tenant_id.lower() == vault.tenant_id.lower():
            continue
        yield finding(
            META, ctx, vault=vault, subject=entry.subject, principal_id=entry.object_id, vault_tenant=vault.tenant_id,
            message=(f"Access-policy entry for {entry.object_id} on vault {vault.name} names tenant "
                     f"{entry.tenant_id}, but the vault authenticates against tenant {vault.tenant_id}."),
            evidence={"policyEntry": entry.evidence(),
                      "entryTenantId": entry.tenant_id, "vaultTenantId": vault.tenant_id,
                      "subscriptionTenantId": vault.row_tenant_id,
                      "dataActions": perms.names(entry.data), "dataActionsInWords": perms.describe(entry.data)},
        )
