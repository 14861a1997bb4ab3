"""The demo's deeper tables (what ``collect --deep`` adds): key and secret metadata, diagnostic settings,
Defender plans and two Managed HSM pools. Used by make_demo.py.

Every vault gets one key that expires and rotates, one secret that expires and a diagnostic setting
sending AuditEvent to the central workspace, except where :data:`DESIGN` names a finding:

- ``kv-crm-dev``: a signing key without expiry whose rotation policy only notifies, a database password
  without expiry (plus a disabled key without expiry and a secret that expired in 2024: neither counts);
- ``kv-legacy-2016``: its only diagnostic setting has no destination; ``kv-lab-scratch``: none at all;
  ``kv-web-shared`` sends ``allLogs`` only (that includes AuditEvent: no finding);
- the sandbox subscription has Defender for Key Vault on the Free tier;
- ``hsm-payments-prod`` is a clean Managed HSM pool; ``hsm-lab`` is public, without purge protection or logs;
- network security perimeter ``nsp-contoso``: ``kv-perimeter-data`` is in its ``data-platform`` profile in
  Enforced mode (an office /24 and the Corp Production subscription: no finding); ``kv-web-shared`` was
  added to its ``web-partners`` profile in Learning mode, whose two rules ``0.0.0.0/1`` and ``128.0.0.0/1``
  together admit every IPv4 address (``perimeter-allows-public``).
"""

from __future__ import annotations

EXPIRES = 1830297600    # 2028-01-01
EXPIRED = 1704067200    # 2024-01-01
CREATED = 1685606400    # 2023-06-01

#: vault or HSM name -> designed findings of the deeper tables (appended to the vault's design list)
DESIGN = {
    "kv-crm-dev": [("key-expiry-missing",), ("secret-expiry-missing",), ("key-rotation-missing",)],
    "kv-legacy-2016": [("audit-logging-missing",)],
    "kv-lab-scratch": [("audit-logging-missing",)],
    "kv-web-shared": [("perimeter-allows-public",)],
}
#: subscription key -> its KeyVaults pricing tier (every other subscription: Standard)
DEFENDER_TIERS = {"sandbox": "Free"}
SUBSCRIPTION_DESIGN = [("defender-for-key-vault-off", "sandbox")]

#: (name, subscription key, resource group, story, properties, designed findings)
HSMS = [
    ("hsm-payments-prod", "corp-prod", "rg-payments-prod", "Payments HSM pool: private, purge-protected, logged.",
     {"publicNetworkAccess": "Disabled", "networkAcls": {"bypass": "AzureServices", "defaultAction": "Deny",
                                                         "ipRules": [], "virtualNetworkRules": []},
      "enablePurgeProtection": True, "private": True}, []),
    ("hsm-lab", "sandbox", "rg-sandbox-lab", "Lab HSM pool created for a proof of concept and forgotten.",
     {"publicNetworkAccess": "Enabled", "enablePurgeProtection": False, "logs": False},
     [("public-network-open",), ("no-private-endpoint",), ("purge-protection-disabled",), ("audit-logging-missing",)]),
]


def _key(vault_id: str, name: str, *, exp=EXPIRES, actions=("Rotate",), enabled=True) -> dict:
    attrs = {"enabled": enabled, "exp": exp, "nbf": None, "created": CREATED, "updated": CREATED}
    props = {"attributes": attrs, "kty": "RSA", "contentType": None,
             "rotationPolicy": None if actions is None else {
                 "attributes": {"expiryTime": "P1Y"},
                 "lifetimeActions": [{"trigger": {"timeBeforeExpiry": "P30D" if a.lower() == "notify" else None,
                                                  "timeAfterCreate": "P11M" if a.lower() == "rotate" else None},
                                      "action": {"type": a}} for a in actions]}}
    return {"id": f"{vault_id}/keys/{name}", "name": name, "type": "Microsoft.KeyVault/vaults/keys",
            "properties": props}


def _secret(vault_id: str, name: str, *, exp=EXPIRES, enabled=True) -> dict:
    attrs = {"enabled": enabled, "exp": exp, "nbf": None, "created": CREATED, "updated": CREATED}
    return {"id": f"{vault_id}/secrets/{name}", "name": name, "type": "Microsoft.KeyVault/vaults/secrets",
            "properties": {"attributes": attrs, "rotationPolicy": None, "kty": None, "contentType": "text/plain"}}


def vault_object_rows(vaults) -> list[dict]:
    rows = []
    for v in vaults:
        if v.name == "kv-crm-dev":
            rows += [_key(v.id, "crm-token-signing", exp=None, actions=("Notify",)),
                     _key(v.id, "crm-old-key", exp=None, actions=None, enabled=False),
                     _secret(v.id, "crm-db-password", exp=None),
                     _secret(v.id, "crm-api-key", exp=EXPIRED)]
        else:
            rows += [_key(v.id, f"{v.name}-cmk"), _secret(v.id, f"{v.name}-app-secret")]
    return sorted(rows, key=lambda r: r["id"].lower())


def _setting(resource_id: str, name: str, workspace: str | None, logs: list[dict]) -> dict:
    return {"id": f"{resource_id}/providers/microsoft.insights/diagnosticSettings/{name}", "name": name,
            "type": "Microsoft.Insights/diagnosticSettings",
            "properties": {"logs": logs, "workspaceId": workspace, "storageAccountId": None,
                           "eventHubAuthorizationRuleId": None, "marketplacePartnerId": None}}


def diagnostic_rows(resources, workspace: str) -> list[dict]:
    """``resources``: (name, id) of every vault and HSM."""
    audit = [{"category": "AuditEvent", "categoryGroup": None, "enabled": True}]
    rows = []
    for name, rid in resources:
        if name == "kv-lab-scratch" or name == "hsm-lab":
            continue
        if name == "kv-legacy-2016":
            rows.append(_setting(rid, "legacy-diag", None, audit))
        elif name == "kv-web-shared":
            rows.append(_setting(rid, "all-logs", workspace, [{"category": None, "categoryGroup": "allLogs",
                                                               "enabled": True}]))
        else:
            rows.append(_setting(rid, "to-central-law", workspace, audit))
    return sorted(rows, key=lambda r: r["id"].lower())


def defender_rows(subs, tenant: str) -> list[dict]:
    rows = []
    for key, sub in subs.items():
        tier = DEFENDER_TIERS.get(key, "Standard")
        for plan, plan_tier in (("KeyVaults", tier), ("VirtualMachines", "Standard")):
            rows.append({"id": f"/subscriptions/{sub.id}/providers/Microsoft.Security/pricings/{plan}",
                         "name": plan, "type": "microsoft.security/pricings", "subscriptionId": sub.id,
                         "tenantId": tenant, "properties": {"pricingTier": plan_tier,
                                                            "subPlan": "PerTransaction" if plan_tier == "Standard"
                                                            and plan == "KeyVaults" else None}})
    return sorted(rows, key=lambda r: r["id"].lower())


def hsm_id(subs, name: str, sub: str, rg: str) -> str:
    return f"{subs[sub].rg(rg)}/providers/Microsoft.KeyVault/managedHSMs/{name}"


def hsm_rows(subs, tenant: str, admin: str) -> list[dict]:
    rows = []
    for name, sub, rg, story, spec, _ in HSMS:
        rid = hsm_id(subs, name, sub, rg)
        props = {"tenantId": tenant, "initialAdminObjectIds": [admin], "hsmUri": f"https://{name}.managedhsm.azure.net/",
                 "enableSoftDelete": True, "softDeleteRetentionInDays": 90,
                 "enablePurgeProtection": spec["enablePurgeProtection"],
                 "publicNetworkAccess": spec["publicNetworkAccess"], "provisioningState": "Succeeded",
                 "statusMessage": "The Managed HSM is provisioned and ready to use.", "securityDomainProperties": {
                     "activationStatus": "Active"}}
        if "networkAcls" in spec:
            props["networkAcls"] = spec["networkAcls"]
        if spec.get("private"):
            pe = f"{subs[sub].rg('rg-network')}/providers/Microsoft.Network/privateEndpoints/pe-{name}"
            props["privateEndpointConnections"] = [{
                "id": f"{rid}/privateEndpointConnections/pe-{name}", "etag": "",
                "properties": {"privateEndpoint": {"id": pe}, "provisioningState": "Succeeded",
                               "privateLinkServiceConnectionState": {"status": "Approved", "description": "",
                                                                     "actionsRequired": "None"}}}]
        rows.append({"id": rid, "name": name, "type": "microsoft.keyvault/managedhsms", "tenantId": tenant,
                     "kind": "", "location": "westeurope", "resourceGroup": rg, "subscriptionId": subs[sub].id,
                     "sku": {"family": "B", "name": "Standard_B1"}, "tags": {"story": story},
                     "properties": props})
    return rows


#: profile -> (its inbound access rules: name -> properties, the vault associated with it, access mode)
PERIMETER_PROFILES = {
    "data-platform": ({"office": {"addressPrefixes": ["203.0.113.0/24"]},
                       "corp-prod-apps": {"subscriptions": ["corp-prod"]}}, "kv-perimeter-data", "Enforced"),
    "web-partners": ({"partners-low": {"addressPrefixes": ["0.0.0.0/1"]},
                      "partners-high": {"addressPrefixes": ["128.0.0.0/1"]}}, "kv-web-shared", "Learning"),
}


def perimeter_rows(subs, vault_ids: dict, tenant: str) -> list[dict]:
    """The ``perimeter_associations`` rows (networkresources) of perimeter ``nsp-contoso`` in Corp Production:
    its profiles, their inbound rules and one association per profile (``vault_ids``: vault name -> id), plus an
    outbound rule (never exposure)."""
    sub = subs["corp-prod"]
    nsp = f"{sub.rg('rg-network')}/providers/Microsoft.Network/networkSecurityPerimeters/nsp-contoso"
    base = "microsoft.network/networksecurityperimeters"

    def row(rid: str, name: str, kind: str, props: dict) -> dict:
        return {"id": rid, "name": name, "type": f"{base}/{kind}", "tenantId": tenant, "subscriptionId": sub.id,
                "resourceGroup": "rg-network", "location": "westeurope", "properties": props}

    rows = []
    for profile, (rules, vault, mode) in PERIMETER_PROFILES.items():
        pid = f"{nsp}/profiles/{profile}"
        rows.append(row(pid, profile, "profiles", {"accessRulesVersion": len(rules)}))
        for name, spec in rules.items():
            props = {"direction": "Inbound", "addressPrefixes": spec.get("addressPrefixes", []),
                     "subscriptions": [{"id": f"/subscriptions/{subs[k].id}"} for k in spec.get("subscriptions", ())],
                     "fullyQualifiedDomainNames": [], "networkSecurityPerimeters": [], "provisioningState": "Succeeded"}
            rows.append(row(f"{pid}/accessRules/{name}", name, "profiles/accessrules", props))
        rows.append(row(f"{nsp}/resourceAssociations/{vault}", vault, "resourceassociations", {
            "privateLinkResource": {"id": vault_ids[vault]}, "profile": {"id": pid}, "accessMode": mode,
            "provisioningState": "Succeeded", "hasProvisioningIssues": "no"}))
    rows.append(row(f"{nsp}/profiles/web-partners/accessRules/to-partner-api", "to-partner-api", "profiles/accessrules",
                    {"direction": "Outbound", "addressPrefixes": [], "subscriptions": [],
                     "fullyQualifiedDomainNames": ["api.partner.example"], "networkSecurityPerimeters": [],
                     "provisioningState": "Succeeded"}))
    return sorted(rows, key=lambda r: r["id"].lower())

