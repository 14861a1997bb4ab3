"""vault-tenant-mismatch: the vault authenticates against a tenant other than its subscription's."""

from __future__ import annotations

from rules.base import NotEvaluated, RuleMeta, finding

META = RuleMeta(
    id="vault-tenant-mismatch",
    title="Vault tenant differs from its subscription's tenant",
    severity="high",
    applies_to="vault",
    reads=('tenantId',),
    subject="vault",
    rationale=(
        "A vault accepts tokens only from the tenant in properties.tenantId. When that differs from the tenant of "
        "the vault's subscription (typically after the subscription moved tenants), no user, group or managed "
        "identity of the subscription's tenant can authenticate to it, and its access policies and role "
        "assignments refer to principals of the old tenant. Vaults created through Azure Lighthouse are tied to "
        "the managing tenant by design."
    ),
    remediation=(
        "Unless the vault is managed through Azure Lighthouse: "
        "`az keyvault update --name {vault_name} --resource-group {resource_group} "
        "--set Properties.tenantId={subscription_tenant}`; on access-policy vaults first remove the old tenant's "
        "entries (`az keyvault update --name {vault_name} --resource-group {resource_group} "
        "--remove Properties.accessPolicies`), then re-grant access to principals of the new tenant "
        "(`az keyvault set-policy` or `az role assignment create`)"
    ),
    references=("https://learn.microsoft.com/azure/key-vault/general/move-subscription",),
)


def evaluate(vault, access, ctx):
    if not vault.tenant_id:
        yield NotEvaluated(META.id, vault.id, "properties.tenantId is missing")
        return
    if not vault.row_tenant_id:
        yield NotEvaluated(META.id, vault.id, "the tenant of the vault's subscription is unknown (the row has no "
                                              "tenantId and the subscription is not in the snapshot)")
        return
    if vault.tenant_id.lower() == vault.row_tenant_id.lower():
        return
    yield finding(
        META, ctx, vault=vault, subscription_tenant=vault.row_tenant_id,
        message=(f"Vault {vault.name} authenticates against tenant {vault.tenant_id} (properties.tenantId), but its "
                 f"subscription {vault.subscription_id} belongs to tenant {vault.row_tenant_id}: principals of "
                 f"tenant {vault.row_tenant_id} cannot authenticate to it."),
        evidence={"vaultTenantId": vault.tenant_id, "subscriptionTenantId": vault.row_tenant_id,
                  "accessPolicyCount": len(vault.access_policies), "permissionModel": vault.model},
    )
