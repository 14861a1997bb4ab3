"""no-private-endpoint: the vault has no approved private endpoint connection."""

from __future__ import annotations

from rules.base import RuleMeta, capped, finding, hsm_remediation, label

META = RuleMeta(
    id="no-private-endpoint",
    title="Vault has no approved private endpoint",
    severity="low",
    applies_to="vault",
    reads=('privateEndpointConnections',),
    subject="vault",
    resource_types=("vault", "managedHsm"),   # Managed HSM pools have the same property (rules.md)
    rationale=(
        "Without an approved private endpoint connection, clients can reach the vault only through its public "
        "endpoint, so public network access cannot be disabled without cutting them off. Connections in state "
        "Pending, Rejected or Disconnected carry no traffic."
    ),
    remediation=(
        "`az network private-endpoint create --resource-group <network resource group> --name pe-{vault_name} "
        "--vnet-name <vnet> --subnet <subnet> --private-connection-resource-id {vault_id} --group-id vault "
        "--connection-name pe-{vault_name}` (link the privatelink.vaultcore.azure.net private DNS zone); a Pending "
        "connection is approved with `az keyvault private-endpoint-connection approve --vault-name {vault_name} "
        "--resource-group {resource_group} --name <connection name>`"
    ),
    references=("CIS Microsoft Azure Foundations 8.3.8",
                "https://learn.microsoft.com/azure/key-vault/general/private-link-service"),
)


#: the remediation on a Managed HSM pool (Update-AzKeyVaultManagedHsm; az keyvault update targets vaults)
HSM_REMEDIATION = (
    "`az network private-endpoint create --resource-group <network resource group> --name pe-{vault_name} --vnet-name <vnet> --subnet <subnet> --private-connection-resource-id {vault_id} --group-id managedhsm --connection-name pe-{vault_name}` (link the privatelink.managedhsm.azure.net private DNS zone)"
)


def evaluate(vault, access, ctx):
    if vault.approved_private_endpoints:
        return
    connections = [{"privateEndpoint": endpoint, "status": status or "missing"}
                   for endpoint, status in vault.private_endpoints]
    if connections:
        states = ", ".join(sorted({c["status"] for c in connections}))
        detail = f"its {len(connections)} private endpoint connection(s) are {states}, none Approved"
    else:
        detail = "it has no private endpoint connection"
    yield finding(
        META, ctx, vault=vault, remediation=hsm_remediation(vault, HSM_REMEDIATION),
        message=f"{label(vault)} {vault.name} is reachable only through its public endpoint: {detail}.",
        evidence={**capped(connections, "privateEndpointConnections"), "approvedPrivateEndpoints": 0,
                  "publicNetworkAccess": vault.public_network_access or "missing"},
    )
