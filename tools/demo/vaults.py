"""The demo's vaults, each with its story (tags) and its designed findings (``design=``)."""

from __future__ import annotations


from tools.demo import deep_demo
from tools.demo.identities import FABRIKAM_TENANT
from tools.demo.vault_shapes import ALL_CERTS, ALL_KEYS, ALL_SECRETS, Entry, PE, Vault, allow, deny, tags


VAULTS = [
    # ---- corp-prod: the well-run subscription (no data roles at subscription, corp,
    #      landing-zones, contoso or root scope) ----------------------------------------------
    Vault("kv-payments-prod", "corp-prod", "rg-payments-prod",
          "Payments API secrets and the payments SQL TDE key. The reference vault.",
          tags("prod", "payments-team@contoso.com", "payments", costCenter="CC-4410"),
          rbac=True, public="Disabled", acls=deny(), pes=[PE("pe-kv-payments-prod", "Approved")],
          soft_delete=True, purge_protection=True, sku="premium", design=[]),
    Vault("kv-crm-prod", "corp-prod", "rg-crm-prod",
          "CRM API secrets. Deployed by an old template that writes `publicNetworkAccess: disabled`.",
          tags("prod", "crm-team@contoso.com", "crm"),
          rbac=True, public="disabled", acls=deny(action="deny"), pes=[PE("pe-kv-crm-prod", "Approved")],
          soft_delete=True, purge_protection=True, design=[]),
    Vault("kv-hr-prod", "corp-prod", "rg-hr-prod",
          "HR portal secrets; a second private endpoint from another team was rejected.",
          tags("prod", "hr-it@contoso.com", "hr-portal"),
          rbac=True, public="Disabled", pes=[PE("pe-kv-hr-prod", "Approved"),
                                            PE("pe-kv-hr-analytics", "Rejected", "rg-network-analytics")],
          soft_delete=True, purge_protection=True, design=[]),
    Vault("kv-corp-shared", "corp-prod", "rg-corp-shared-prod",
          "Intranet secrets and the shared SQL TDE key. Still on access policies, but every entry "
          "already has an exactly matching vault-scope role assignment: ready to flip.",
          tags("prod", "corp-platform@contoso.com", "intranet", migration="wave-1"),
          rbac=False, public="Disabled", acls=deny(), pes=[PE("pe-kv-corp-shared", "Approved")],
          soft_delete=True, purge_protection=True,
          policies=[
              # read-only secrets template (Terraform casing)
              Entry("sp-corp-legacy-app", secrets=["Get", "List"]),
              # SQL Server Connector template
              Entry("mi-corp-sql", keys=["Get", "List", "WrapKey", "UnwrapKey"]),
          ],
          verdict="ready",
          design=[("access-policy-model",),
                  ("inert-role-assignment", "@corp-shared-secrets-user"),
                  ("inert-role-assignment", "@corp-shared-cseu")]),
    # ---- corp-dev: developers hold Secrets Officer on the whole subscription -----------------
    Vault("kv-crm-dev", "corp-dev", "rg-crm-dev",
          "Half-migrated: flipped to RBAC, old access policies left behind. The developers' entry is "
          "covered by their subscription-wide Secrets Officer; the retired CI pipeline's is not.",
          tags("dev", "crm-team@contoso.com", "crm"),
          rbac=True, public="Enabled", soft_delete=True,
          policies=[
              Entry("grp-corp-developers", secrets=["Get", "List", "Set", "Delete"]),
              Entry("sp-crm-ci-legacy", keys=["get", "list", "create"]),
              Entry("henry"),  # every permission list emptied by hand: grants nothing
          ],
          design=[("public-network-open",), ("no-private-endpoint",), ("purge-protection-disabled",),
                  ("dead-access-policy", "grp-corp-developers"),
                  ("dead-access-policy", "henry"),
                  ("stranded-access-policy", "sp-crm-ci-legacy")]),
    Vault("kv-payments-dev", "corp-dev", "rg-payments-dev",
          "Dev payments vault. Someone added 0.0.0.0/0 to the firewall 'temporarily'; the private "
          "endpoint request was never approved.",
          tags("dev", "payments-team@contoso.com", "payments"),
          rbac=True, public="Enabled", acls=deny("10.0.0.0/8", "1.2.3.4", "0.0.0.0/0", action="deny"),
          pes=[PE("pe-kv-payments-dev", "Pending")], soft_delete=True, purge_protection=True,
          design=[("firewall-allows-any",), ("no-private-endpoint",)]),
    # ---- online-prod ------------------------------------------------------------------------
    Vault("kv-web-shared", "online-prod", "rg-web-shared",
          "Shared web secrets, keys and certificates. Has an approved private endpoint but public "
          "access was never switched off (firewall allows one office IP). Added to perimeter "
          "nsp-contoso in Learning mode, whose partner rules 0.0.0.0/1 and 128.0.0.0/1 admit everyone.",
          tags("prod", "web-platform@contoso.com", "web-shared"),
          rbac=True, public="Enabled", acls=deny("203.0.113.10/32"),
          pes=[PE("pe-kv-web-shared", "Approved")], soft_delete=True, purge_protection=True,
          design=[("public-with-private-endpoint",)]),
    Vault("kv-web-certs", "online-prod", "rg-web-shared",
          "App Service certificates (the portal's App Service certificate import still needs access "
          "policies). The web deploy pipeline's RG-wide Secrets Officer would widen on a flip.",
          tags("prod", None, "web-certificates"),
          rbac=False, public="Enabled", acls=deny("203.0.113.10/32"),
          pes=[PE("pe-kv-web-certs", "Pending")], soft_delete=True,
          policies=[
              Entry("grp-web-ops", certificates=["all"]),  # certificate management template
              Entry("sp-app-service", secrets=["get"], certificates=["get"]),
          ],
          verdict="review-latent-grants",
          design=[("access-policy-model",), ("no-private-endpoint",), ("purge-protection-disabled",),
                  ("full-access-policy", "grp-web-ops"),
                  ("migration-gap", "grp-web-ops"), ("migration-gap", "sp-app-service"),
                  ("latent-grant", "sp-web-deploy")]),
    Vault("kv-checkout-prod", "online-prod", "rg-checkout-prod",
          "Checkout API secrets. Clean.",
          tags("prod", "checkout-team@contoso.com", "checkout"),
          rbac=True, public="Disabled", acls=deny(),
          pes=[PE("pe-kv-checkout-prod", "Approved", "rg-network-online")],
          soft_delete=True, purge_protection=True, location="northeurope", design=[]),
    Vault("kv-online-frontend", "online-prod", "rg-web-frontend",
          "Frontend config and TLS certs, shared with the Fabrikam CDN partner's app registration "
          "(an entry in the partner's tenant). Web ops lead has Key Vault Contributor on it.",
          tags("prod", "@frontend-team", "frontend"),
          rbac=False, acls=allow(), soft_delete=True, purge_protection=True, location="northeurope",
          policies=[
              Entry("mi-frontend", secrets=["get", "list"]),
              Entry("fabrikam-cdn", secrets=["Get"], certificates=["Get", "List"]),
          ],
          verdict="blocked",
          design=[("access-policy-model",), ("public-network-open",), ("no-private-endpoint",),
                  ("cross-tenant-access-policy", "fabrikam-cdn"),
                  # the partner's entry names another tenant: it grants nothing, so no migration gap
                  ("migration-gap", "mi-frontend")]),
    # ---- platform / identity ----------------------------------------------------------------
    Vault("kv-identity-shared", "identity", "rg-identity-shared",
          "Created in 2017 and never touched: no soft delete, no network settings. Alice has the "
          "full 'Key, Secret & Certificate Management' template including purge.",
          tags("prod", "identity-team@contoso.com", "identity"),
          policies=[
              Entry("alice", keys=ALL_KEYS, secrets=ALL_SECRETS, certificates=ALL_CERTS),
              Entry("sp-adconnect", secrets=["get", "list"]),  # read-only secrets
          ],
          verdict="review-latent-grants",
          design=[("access-policy-model",), ("public-network-open",), ("no-private-endpoint",),
                  ("soft-delete-disabled",), ("purge-protection-disabled",),
                  ("full-access-policy", "alice"),
                  ("migration-gap", "alice"), ("migration-gap", "sp-adconnect"),
                  ("latent-grant", "grp-platform-eng")]),
    Vault("kv-adds-dsc", "identity", "rg-adds",
          "Domain controller DSC configuration. Bob's entry is a compound identity (only via the DSC "
          "pull server app). Public access disabled but the private endpoint is still pending.",
          tags("prod", "identity-team@contoso.com", "adds-dsc"),
          rbac=False, public="Disabled", pes=[PE("pe-kv-adds-dsc", "Pending")],
          soft_delete=True, purge_protection=True,
          policies=[
              Entry("grp-identity-admins", keys=["all"]),  # key management template
              Entry("bob", secrets=["get"], application="sp-dsc-pull"),
          ],
          verdict="blocked",
          design=[("access-policy-model",), ("no-private-endpoint",),
                  ("full-access-policy", "grp-identity-admins"),
                  ("compound-identity-policy", "bob"),
                  ("migration-gap", "grp-identity-admins"), ("migration-gap", "bob"),
                  ("latent-grant", "grp-platform-eng")]),
    # ---- platform / management --------------------------------------------------------------
    Vault("kv-backup-mgmt", "management", "rg-backup",
          "Keys for Azure Backup of encrypted VMs and the AIP tenant key (BYOK). Backup's entry is "
          "matched by the narrow custom role; the BYOK entry has no RBAC yet.",
          tags("prod", "platform-ops@contoso.com", "backup"),
          rbac=False, public="Disabled", acls=deny(), pes=[PE("pe-kv-backup-mgmt", "Approved")],
          soft_delete=True, purge_protection=True, sku="premium",
          policies=[
              Entry("sp-backup", keys=["get", "list", "backup"], secrets=["get", "list", "backup"]),
              Entry("sp-aip", keys=["get", "decrypt", "sign"]),  # Azure Information BYOK template
          ],
          verdict="review-latent-grants",
          design=[("access-policy-model",),
                  ("inert-role-assignment", "@backup-custom"),
                  ("migration-gap", "sp-aip"),
                  ("latent-grant", "grp-platform-eng")]),
    Vault("kv-automation", "management", "rg-automation",
          "Automation account runbook secrets. Flipped to RBAC but the runbook identity only got "
          "Secrets User (it used to set secrets). Soft delete explicitly off (2019 template).",
          tags("prod", None, "automation"),
          rbac=True, public="Enabled", acls=allow("198.51.100.0/24"),
          pes=[PE("pe-kv-automation", "Approved")], soft_delete=False,
          policies=[
              Entry("mi-automation", secrets=["get", "list", "set"]),
              Entry("grp-platform-eng", keys=["all"]),
          ],
          design=[("public-network-open",), ("public-with-private-endpoint",),
                  ("soft-delete-disabled",), ("purge-protection-disabled",),
                  ("stranded-access-policy", "mi-automation"),
                  ("dead-access-policy", "grp-platform-eng")]),
    Vault("kv-grafana-mgmt", "management", "rg-monitoring-grafana",
          "Grafana admin secret; the Grafana identity can read one secret only (object scope). No "
          "vault findings, but the platform MG's Key Vault Administrator reaches it.",
          tags("prod", None, "grafana"),
          rbac=True, public="Disabled", acls=deny(), pes=[PE("pe-kv-grafana-mgmt", "Approved")],
          soft_delete=True, purge_protection=True, design=[]),
    # ---- sandbox ----------------------------------------------------------------------------
    Vault("kv-legacy-2016", "sandbox", "rg-sandbox-legacy",
          "The oldest vault in the estate (2016). A guest contractor and a departed admin hold "
          "'all' permissions.",
          tags("legacy", "unknown", "legacy-webapp"),
          location="eastus",
          policies=[
              Entry("jordan-guest", secrets=["all"]),  # secret management template
              Entry("henry", keys=["All"], secrets=["All"], certificates=["All"]),
              Entry("sp-legacy-webapp", secrets=["Get", "List"]),
          ],
          verdict="needs-assignments",
          design=[("access-policy-model",), ("public-network-open",), ("no-private-endpoint",),
                  ("soft-delete-disabled",), ("purge-protection-disabled",),
                  ("full-access-policy", "jordan-guest"), ("full-access-policy", "henry"),
                  ("migration-gap", "jordan-guest"), ("migration-gap", "henry"),
                  ("migration-gap", "sp-legacy-webapp")]),
    Vault("kv-fabrikam-erp", "sandbox", "rg-fabrikam-migrated",
          "Came with the Fabrikam acquisition: the subscription was transferred into Contoso's "
          "tenant, the vault is still bound to Fabrikam's tenant.",
          tags("prod", "erp@fabrikam.example", "fabrikam-erp"),
          location="eastus", tenant=FABRIKAM_TENANT, rbac=False, public="Enabled",
          policies=[
              Entry("fabrikam-erp", secrets=["get", "list"]),
              Entry("fabrikam-erp-admin", secrets=["get", "list", "set", "delete"]),
          ],
          verdict="blocked",
          design=[("vault-tenant-mismatch",), ("access-policy-model",), ("public-network-open",),
                  ("no-private-endpoint",), ("soft-delete-disabled",), ("purge-protection-disabled",),
                  ("migration-gap", "fabrikam-erp"), ("migration-gap", "fabrikam-erp-admin")]),
    Vault("kv-lab-scratch", "sandbox", "rg-sandbox-lab",
          "Lab scratch vault under the custom 'Key Vault Operator' role granted on the whole lab RG. "
          "A lab function can read one secret via an object-scoped assignment that does nothing today.",
          tags("sandbox", "dave.lee@contoso.com", "lab"),
          rbac=False, public="Enabled", acls={}, soft_delete=True, purge_protection=True,
          policies=[
              Entry("dave", secrets=["get", "list", "set"]),
              Entry("ivan", keys=[], secrets=[], certificates=[]),  # grants nothing
          ],
          verdict="review-latent-grants",
          design=[("access-policy-model",), ("public-network-open",), ("no-private-endpoint",),
                  ("inert-role-assignment", "@lab-func-secret"),
                  ("inert-role-assignment", "@lab-dave-secrets-officer"), ("latent-grant", "dave"),
                  ("migration-gap", "dave"),
                  ("latent-grant", "sp-lab-automation"), ("latent-grant", "mi-func-lab")]),
    Vault("kv-lab-rbac", "sandbox", "rg-sandbox-lab",
          "RBAC lab vault. The firewall 'blocks' everything except 0.0.0.0/1 and 128.0.0.0/1.",
          tags("sandbox", None, "lab"),
          rbac=True, public="Enabled", acls=deny("0.0.0.0/1", "128.0.0.0/1", "10.20.0.0/16"),
          soft_delete=True,
          design=[("firewall-allows-any",),
                  ("no-private-endpoint",), ("purge-protection-disabled",)]),
]
VAULTS += [
    # ---- catalog 2 -------------------------------------------------------------------------
    Vault("kv-release-templates", "online-prod", "rg-release",
          "Secrets that release templates reference (enabledForTemplateDeployment). Owners and an "
          "eligible Contributor can have Resource Manager read them; a deployment stack's deny "
          "assignment stops anyone but break-glass from assigning roles on it.",
          tags("prod", "release-eng@contoso.com", "release"),
          rbac=True, public="Disabled", acls=deny(), pes=[PE("pe-kv-release-templates", "Approved")],
          soft_delete=True, purge_protection=True, template=True,
          design=[("template-deployment-path", "grp-online-owners"), ("template-deployment-path", "erin")]),
    Vault("kv-perimeter-data", "corp-prod", "rg-data-platform",
          "Data platform secrets behind a network security perimeter (SecuredByPerimeter): its own "
          "firewall says Allow, but perimeter nsp-contoso (Enforced; an office /24 and the Corp "
          "Production subscription) governs public traffic.",
          tags("prod", "data-platform@contoso.com", "data-platform"),
          rbac=True, public="SecuredByPerimeter", acls=allow(), soft_delete=True, purge_protection=True,
          design=[("no-private-endpoint",)]),
    Vault("kv-poc-unplaced", "poc-unplaced", "rg-poc",
          "Proof-of-concept vault in a subscription Resource Graph shows under no management group. "
          "The platform grants at management groups cannot be matched to it, so the rules that need its "
          "whole RBAC picture are listed as not evaluated rather than passed.",
          tags("poc", "poc-team@contoso.com", "poc"),
          rbac=True, public="Disabled", acls=deny(), pes=[PE("pe-kv-poc-unplaced", "Approved")],
          soft_delete=True, purge_protection=True,
          policies=[Entry("dave", secrets=["get", "list"])],  # left from before its flip
          design=[]),
]
VAULTS_BY_NAME = {v.name: v for v in VAULTS}
for _vault in VAULTS:  # findings of the deeper tables (deep_demo.py)
    _vault.design.extend(deep_demo.DESIGN.get(_vault.name, []))
CLEAN_VAULTS = ("kv-payments-prod", "kv-crm-prod", "kv-hr-prod", "kv-checkout-prod")

# --------------------------------------------------------------------------------------------
# Role assignments
# --------------------------------------------------------------------------------------------
