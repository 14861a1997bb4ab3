"""Synthetic estates shaped like Resource Graph rows (deterministic for a seed).

Management groups: tenant root (named after the tenant id) > platform, landing-zones > corp, online.
Subscriptions hang under the leaf groups; vaults sit in resource groups. Role assignments are spread
over '/', management groups, subscriptions, resource groups, vaults, objects inside vaults, and
(most of them) other resources such as storage accounts and VMs.
"""

from __future__ import annotations

import random

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ROLE_GUIDS = {
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Reader": "acdd72a7-3385-47ef-bd2e-6a2e1e8b6c1e",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Key Vault Administrator": "00482a5a-887f-4fb3-b363-3b7fe8e74483",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
}
MG_TREE = {  # name -> parent
    TENANT: None, "platform": TENANT, "landing-zones": TENANT, "corp": "landing-zones", "online": "landing-zones",
}
OTHER_TYPES = ("Microsoft.Storage/storageAccounts", "Microsoft.Compute/virtualMachines",
               "Microsoft.Web/sites", "Microsoft.Network/virtualNetworks", "Microsoft.Sql/servers")


def _guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _chain(mg: str) -> list[dict]:
    out, cur = [], MG_TREE[mg]
    while cur is not None:
        out.append({"name": cur, "displayName": "Tenant Root Group" if cur == TENANT else cur.title()})
        cur = MG_TREE[cur]
    return out


def management_groups() -> list[dict]:
    return [{"id": f"/providers/Microsoft.Management/managementGroups/{name}", "name": name,
             "type": "microsoft.management/managementgroups", "tenantId": TENANT,
             "properties": {"displayName": "Tenant Root Group" if name == TENANT else name.title(),
                            "details": {"managementGroupAncestorsChain": _chain(name)}}}
            for name in MG_TREE]


def subscription_row(sub: str, index: int, parent: str) -> dict:
    return {"id": f"/subscriptions/{sub}", "name": f"sub-{index:04d}", "type": "microsoft.resources/subscriptions",
            "tenantId": TENANT, "kind": "", "location": "", "resourceGroup": "", "subscriptionId": sub,
            "managedBy": "", "sku": None, "plan": None, "tags": {"env": "prod" if index % 2 else "dev"},
            "identity": None, "zones": None, "extendedLocation": None,
            "properties": {"state": "Enabled", "subscriptionPolicies": {"quotaId": "EnterpriseAgreement_2014-09-01"},
                           "managementGroupAncestorsChain": [{"name": parent, "displayName": parent.title()}]
                           + _chain(parent)}}


def resource_group_row(sub: str, rg: str, tags: dict) -> dict:
    return {"id": f"/subscriptions/{sub}/resourceGroups/{rg}", "name": rg,
            "type": "microsoft.resources/subscriptions/resourcegroups", "tenantId": TENANT, "location": "westeurope",
            "subscriptionId": sub, "resourceGroup": rg, "managedBy": "", "tags": tags,
            "properties": {"provisioningState": "Succeeded"}}


def vault_row(sub: str, rg: str, name: str, rng: random.Random, policies: int = 1) -> dict:
    rbac = rng.random() < 0.5
    return {"id": f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}",
            "name": name, "type": "microsoft.keyvault/vaults", "tenantId": TENANT, "kind": "",
            "location": "westeurope", "resourceGroup": rg, "subscriptionId": sub, "managedBy": "",
            "sku": None, "plan": None, "tags": {"owner": "team-a"}, "identity": None, "zones": None,
            "extendedLocation": None,
            "properties": {
                "tenantId": TENANT, "sku": {"family": "A", "name": "standard"},
                "vaultUri": f"https://{name}.vault.azure.net/", "enableRbacAuthorization": rbac,
                "enableSoftDelete": True, "softDeleteRetentionInDays": 90, "enablePurgeProtection": rng.random() < 0.5,
                "publicNetworkAccess": "Enabled", "provisioningState": "Succeeded",
                "networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow", "ipRules": [],
                                "virtualNetworkRules": []},
                "accessPolicies": [] if rbac else [
                    {"tenantId": TENANT, "objectId": _guid(rng),
                     "permissions": {"secrets": ["get", "list"], "keys": ["get"], "certificates": []}}
                    for _ in range(policies)]}}


def assignment_row(scope: str, role: str, rng: random.Random, sub: str | None = None) -> dict:
    guid = _guid(rng)
    base = "" if scope == "/" else scope
    role_id = (f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{ROLE_GUIDS[role]}"
               if sub else f"/providers/Microsoft.Authorization/roleDefinitions/{ROLE_GUIDS[role]}")
    return {"id": f"{base}/providers/Microsoft.Authorization/roleAssignments/{guid}", "name": guid,
            "type": "microsoft.authorization/roleassignments", "tenantId": TENANT, "kind": "", "location": "",
            "resourceGroup": "", "subscriptionId": sub or "", "managedBy": "", "sku": None, "plan": None,
            "tags": None, "identity": None, "zones": None, "extendedLocation": None,
            "properties": {"roleDefinitionId": role_id, "principalId": _guid(rng),
                           "principalType": rng.choice(["User", "Group", "ServicePrincipal"]), "scope": scope,
                           "createdOn": "2024-05-01T10:00:00.0000000Z", "updatedOn": "2024-05-01T10:00:00.0000000Z",
                           "createdBy": _guid(rng), "condition": None, "conditionVersion": None}}


def role_definitions(custom_sub: str | None = None) -> list[dict]:
    rows = [{"id": f"/providers/Microsoft.Authorization/RoleDefinitions/{guid}", "name": guid,
             "type": "microsoft.authorization/roledefinitions", "tenantId": "",
             "properties": {"roleName": name, "type": "BuiltInRole", "assignableScopes": ["/"],
                            "permissions": [{"actions": ["*"] if name in ("Owner", "Contributor") else [],
                                             "notActions": [], "dataActions": [], "notDataActions": []}]}}
            for name, guid in ROLE_GUIDS.items()]
    if custom_sub:
        rows.append({"id": f"/subscriptions/{custom_sub}/providers/Microsoft.Authorization/roleDefinitions/"
                           "11111111-2222-3333-4444-555555555555", "name": "11111111-2222-3333-4444-555555555555",
                     "type": "microsoft.authorization/roledefinitions", "tenantId": TENANT,
                     "properties": {"roleName": "Vault Reader (custom)", "type": "CustomRole",
                                    "assignableScopes": [f"/subscriptions/{custom_sub}"],
                                    "permissions": [{"Actions": ["Microsoft.KeyVault/vaults/read"],
                                                     "DataActions": ["Microsoft.KeyVault/vaults/secrets/getSecret/action"]}]}})
    return rows


def synthetic_estate(subscriptions: int = 4, vaults: int = 12, assignments: int = 200, *, seed: int = 1,
                     vault_share: float = 0.05, container_share: float = 0.02, root_assignments: int = 3,
                     assignments_per_management_group: int = 4) -> dict[str, list]:
    """An estate with the given counts. ``root_assignments`` sit at '/' and
    ``assignments_per_management_group`` on each management group; of the rest about
    ``vault_share`` sit on vaults or inside them, ``container_share`` on subscriptions and resource
    groups, and the remainder on other resources (which the collector's filter drops)."""
    rng = random.Random(seed)
    leaves = ["platform", "corp", "online"]
    subs = [_guid(rng) for _ in range(subscriptions)]
    tables: dict[str, list] = {
        "management_groups": management_groups(),
        "subscriptions": [subscription_row(s, i, leaves[i % len(leaves)]) for i, s in enumerate(subs)],
        "role_definitions": role_definitions(subs[0] if subs else None),
        "vaults": [], "role_assignments": [],
        # every resource group the vaults and assignments use; even-numbered ones name an owner
        "resource_groups": [resource_group_row(s, f"rg-{j}", {"owner": f"rg-owner-{j}"} if j % 2 == 0 else {})
                            for s in subs for j in range(7)],
    }
    vault_ids = []
    for i in range(vaults):
        sub = subs[i % len(subs)]
        row = vault_row(sub, f"rg-{i % 7}", f"kv-{i:06d}", rng)
        tables["vaults"].append(row)
        vault_ids.append((sub, row["id"]))
    roles = list(ROLE_GUIDS)
    ras = tables["role_assignments"]
    ras += [assignment_row("/", rng.choice(roles), rng) for _ in range(min(root_assignments, assignments))]
    for mg in MG_TREE:
        for _ in range(assignments_per_management_group):
            if len(ras) < assignments:
                ras.append(assignment_row(f"/providers/Microsoft.Management/managementGroups/{mg}",
                                          rng.choice(roles), rng))
    while len(ras) < assignments and subs:
        x = rng.random()
        if x < vault_share and vault_ids:
            sub, vid = vault_ids[rng.randrange(len(vault_ids))]
            scope = vid if rng.random() < 0.8 else f"{vid}/secrets/s{rng.randrange(9)}"
        elif x < vault_share + container_share:
            sub = subs[rng.randrange(len(subs))]
            scope = (f"/subscriptions/{sub}" if rng.random() < 0.3
                     else f"/subscriptions/{sub}/resourceGroups/rg-{rng.randrange(7)}")
        else:
            sub = subs[rng.randrange(len(subs))]
            scope = (f"/subscriptions/{sub}/resourceGroups/rg-{rng.randrange(7)}/providers/"
                     f"{rng.choice(OTHER_TYPES)}/res{rng.randrange(100000)}")
        ras.append(assignment_row(scope, rng.choice(roles), rng, sub))
    return tables


def add_deep_tables(tables: dict[str, list], *, seed: int = 11, hsms: int = 2) -> dict[str, list]:
    """The deeper tables for a synthetic estate (rows as the collector writes them): two keys and two
    secrets per vault (every third vault a key without expiry whose policy only notifies, every fourth a
    secret without expiry; secret rows carry a ``value`` the collector must drop), a diagnostic setting
    on four vaults in five, ``hsms`` Managed HSM pools, and Defender Standard everywhere but the first
    subscription."""
    rng = random.Random(seed)
    subs = [r["subscriptionId"] for r in tables["subscriptions"]]
    law = f"/subscriptions/{subs[0]}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law"
    objects, settings = [], []

    def key(vid, name, exp, action):
        return {"id": f"{vid}/keys/{name}", "name": name, "type": "Microsoft.KeyVault/vaults/keys",
                "properties": {"attributes": {"enabled": True, "exp": exp, "nbf": None, "created": 1700000000,
                                              "updated": 1700000000}, "kty": "RSA", "contentType": None,
                               "rotationPolicy": {"attributes": {"expiryTime": "P1Y"}, "lifetimeActions": [
                                   {"trigger": {"timeAfterCreate": "P90D", "timeBeforeExpiry": None},
                                    "action": {"type": action}}]}}}

    def secret(vid, name, exp):
        return {"id": f"{vid}/secrets/{name}", "name": name, "type": "Microsoft.KeyVault/vaults/secrets",
                "properties": {"attributes": {"enabled": True, "exp": exp, "nbf": None, "created": 1700000000,
                                              "updated": 1700000000}, "rotationPolicy": None, "kty": None,
                               "contentType": "text/plain", "value": f"s3cr3t-{rng.random()}"}}

    def setting(rid):
        return {"id": f"{rid}/providers/microsoft.insights/diagnosticSettings/to-law", "name": "to-law",
                "type": "Microsoft.Insights/diagnosticSettings",
                "properties": {"logs": [{"category": None, "categoryGroup": "audit", "enabled": True}],
                               "workspaceId": law, "storageAccountId": None, "eventHubAuthorizationRuleId": None,
                               "marketplacePartnerId": None}}

    for i, vault in enumerate(tables["vaults"]):
        vid = vault["id"]
        objects += [key(vid, "k-main", 1900000000, "Rotate"),
                    key(vid, "k-legacy", None if i % 3 == 0 else 1900000000, "Notify" if i % 3 == 0 else "Rotate"),
                    secret(vid, "s-main", 1900000000), secret(vid, "s-legacy", None if i % 4 == 0 else 1900000000)]
        if i % 5:
            settings.append(setting(vid))
    tables["managed_hsms"] = []
    for n in range(hsms):
        sub = subs[n % len(subs)]
        rid = f"/subscriptions/{sub}/resourceGroups/rg-hsm/providers/Microsoft.KeyVault/managedHSMs/hsm-{n:03d}"
        tables["managed_hsms"].append({
            "id": rid, "name": f"hsm-{n:03d}", "type": "microsoft.keyvault/managedhsms", "tenantId": TENANT,
            "location": "westeurope", "resourceGroup": "rg-hsm", "subscriptionId": sub, "tags": {},
            "sku": {"family": "B", "name": "Standard_B1"},
            "properties": {"tenantId": TENANT, "enableSoftDelete": True, "enablePurgeProtection": n % 2 == 0,
                           "publicNetworkAccess": "Enabled" if n % 2 else "Disabled", "privateEndpointConnections": []}})
        if n % 2 == 0:
            settings.append(setting(rid))
    tables["vault_objects"] = objects
    tables["diagnostic_settings"] = settings
    tables["defender_plans"] = [
        {"id": f"/subscriptions/{s}/providers/Microsoft.Security/pricings/KeyVaults", "name": "KeyVaults",
         "type": "microsoft.security/pricings", "subscriptionId": s, "tenantId": TENANT,
         "properties": {"pricingTier": "Free" if i == 0 else "Standard", "subPlan": None}}
        for i, s in enumerate(subs)]
    tables["perimeter_associations"] = perimeter_rows(subs[0], [v["id"] for v in tables["vaults"][:2]])
    return tables


def perimeter_rows(sub: str, members: list[str]) -> list[dict]:
    """A network security perimeter in ``sub`` with one profile (an inbound /24 and an inbound subscription
    rule: narrow, no finding) and ``members`` associated with it (the first Enforced, the others Learning)."""
    nsp = f"/subscriptions/{sub}/resourceGroups/rg-nsp/providers/Microsoft.Network/networkSecurityPerimeters/nsp-core"
    profile = f"{nsp}/profiles/default"
    base = "microsoft.network/networksecurityperimeters"
    rows = [{"id": profile, "name": "default", "type": f"{base}/profiles", "subscriptionId": sub,
             "resourceGroup": "rg-nsp", "location": "westeurope", "tenantId": TENANT, "properties": {}}]
    for name, props in (("office", {"addressPrefixes": ["198.51.100.0/24"]}),
                        ("platform", {"subscriptions": [{"id": f"/subscriptions/{sub}"}]})):
        rows.append({"id": f"{profile}/accessRules/{name}", "name": name, "type": f"{base}/profiles/accessrules",
                     "subscriptionId": sub, "resourceGroup": "rg-nsp", "location": "westeurope", "tenantId": TENANT,
                     "properties": {"direction": "Inbound", **props}})
    for n, member in enumerate(members):
        rows.append({"id": f"{nsp}/resourceAssociations/member-{n}", "name": f"member-{n}",
                     "type": f"{base}/resourceassociations", "subscriptionId": sub, "resourceGroup": "rg-nsp",
                     "location": "westeurope", "tenantId": TENANT,
                     "properties": {"privateLinkResource": {"id": member}, "profile": {"id": profile},
                                    "accessMode": "Enforced" if n == 0 else "Learning"}})
    return rows
