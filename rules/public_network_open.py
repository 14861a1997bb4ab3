"""public-network-open: the vault answers data-plane requests from any internet address."""

from __future__ import annotations

from rules.base import RuleMeta, finding, label, hsm_remediation

META = RuleMeta(
    id="public-network-open",
    title="Vault is reachable from any public network",
    severity="high",
    applies_to="vault",
    reads=('publicNetworkAccess', 'networkAcls'),
    subject="vault",
    resource_types=("vault", "managedHsm"),   # Managed HSM pools have the same property (rules.md)
    rationale=(
        "When publicNetworkAccess is not Disabled (a missing value means Enabled) and the firewall's default "
        "action is Allow (ARM's default when networkAcls or its defaultAction is missing), the vault's data-plane "
        "endpoint accepts requests from every internet address; only authentication stands between a leaked "
        "credential or token and the vault's secrets, keys and certificates."
    ),
    remediation=(
        "Disable the public endpoint (clients then connect through a private endpoint): "
        "`az keyvault update --name {vault_name} --resource-group {resource_group} --public-network-access Disabled`; "
        "or keep it but deny by default and allow only known ranges: "
        "`az keyvault update --name {vault_name} --resource-group {resource_group} --default-action Deny` and "
        "`az keyvault network-rule add --name {vault_name} --resource-group {resource_group} --ip-address <allowed CIDR>`"
    ),
    references=("Azure Policy: Azure Key Vault should disable public network access",
                "Azure Policy: Configure key vaults to enable firewall",
                "https://learn.microsoft.com/azure/key-vault/general/network-security"),
)


#: the remediation on a Managed HSM pool (Update-AzKeyVaultManagedHsm; az keyvault update targets vaults)
HSM_REMEDIATION = (
    "Disable the pool's public endpoint (clients then connect through a private endpoint): `Update-AzKeyVaultManagedHsm -Name {vault_name} -ResourceGroupName {resource_group} -PublicNetworkAccess Disabled`, or deny by default: `az resource update --ids {vault_id} --set properties.networkAcls.defaultAction=Deny`"
)


def evaluate(vault, access, ctx):
    if vault.public_disabled or vault.acl_default_action != "Allow":
        return
    pna = vault.public_network_access
    pna_text = f"publicNetworkAccess is {pna!r}" if pna else "publicNetworkAccess is missing (means Enabled)"
    yield finding(
        META, ctx, vault=vault, remediation=hsm_remediation(vault, HSM_REMEDIATION),
        message=(f"{label(vault)} {vault.name} accepts data-plane requests from any internet address: {pna_text} and the "
                 f"firewall's default action is Allow (networkAcls missing, empty or without defaultAction also "
                 f"means Allow)."),
        evidence={"publicNetworkAccess": pna if pna else "missing",
                  "networkDefaultAction": vault.acl_default_action,
                  "ipRuleCount": len(vault.ip_rules) + len(vault.bad_ip_rules),
                  "approvedPrivateEndpoints": vault.approved_private_endpoints},
    )
