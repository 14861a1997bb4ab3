"""cross-tenant-access-policy: an access-policy entry names a tenant other than the vault's."""

from __future__ import annotations

from audit_function import permissions as perms
from rules.base import NotEvaluated, RuleMeta, capped, entry_item, finding

META = RuleMeta(
    id="cross-tenant-access-policy",
    title="Access-policy entry from another tenant",
    severity="medium",
    applies_to="vault",
    reads=('tenantId',),
    models=("accessPolicy",),
    subject="vault",
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
    foreign = [entry for entry in vault.access_policies if vault.entry_cross_tenant(entry)]
    if not foreign:
        return
    items = [entry_item(entry, ctx, entryTenantId=entry.tenant_id, dataActionsInWords=perms.describe(entry.data))
             for entry in foreign]
    first = foreign[0]
    yield finding(
        META, ctx, vault=vault, principal_id=first.object_id, vault_tenant=vault.tenant_id,
        message=(f"{len(foreign)} access-policy entr{'y' if len(foreign) == 1 else 'ies'} on vault {vault.name} "
                 f"name{'s' if len(foreign) == 1 else ''} another tenant than the one the vault authenticates "
                 f"against ({vault.tenant_id}): they can never match a token the vault accepts."),
        evidence={**capped(items, "entries"), "vaultTenantId": vault.tenant_id,
                  "subscriptionTenantId": vault.row_tenant_id},
    )

