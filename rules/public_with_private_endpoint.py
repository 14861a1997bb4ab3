"""public-with-private-endpoint: a vault with an approved private endpoint still answers publicly."""

from __future__ import annotations

from rules.base import RuleMeta, capped, finding

META = RuleMeta(
    id="public-with-private-endpoint",
    title="Vault with a private endpoint still allows public network access",
    severity="medium",
    applies_to="vault",
    reads=('publicNetworkAccess', 'privateEndpointConnections'),
    subject="vault",
    rationale=(
        "An approved private endpoint gives clients a private path to the vault, but as long as "
        "publicNetworkAccess is not Disabled (a missing value means Enabled) the public endpoint keeps answering "
        "as well, subject only to the firewall; the private endpoint alone does not remove the internet exposure."
    ),
    remediation=(
        "Once every client uses the private endpoint: "
        "`az keyvault update --name {vault_name} --resource-group {resource_group} --public-network-access Disabled`"
    ),
    references=("CIS Microsoft Azure Foundations v4.0.0 9.3.7",
                "Azure Policy: Azure Key Vault should disable public network access",
                "https://learn.microsoft.com/azure/key-vault/general/private-link-service"),
)


def evaluate(vault, access, ctx):
    approved = [endpoint for endpoint, status in vault.private_endpoints if status.lower() == "approved"]
    if not approved or vault.public_disabled:
        return
    pna = vault.public_network_access
    pna_text = f"publicNetworkAccess is {pna!r}" if pna else "publicNetworkAccess is missing (means Enabled)"
    yield finding(
        META, ctx, vault=vault,
        message=(f"Vault {vault.name} has {len(approved)} approved private endpoint(s) but {pna_text}: the public "
                 f"endpoint still answers (firewall default action {vault.acl_default_action}, "
                 f"{len(vault.ip_rules)} IP rule(s))."),
        evidence={"publicNetworkAccess": pna if pna else "missing",
                  **capped(approved, "approvedPrivateEndpoints"),
                  "networkDefaultAction": vault.acl_default_action,
                  **capped(vault.ip_rules, "ipRules")},
    )
