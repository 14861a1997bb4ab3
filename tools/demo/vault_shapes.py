"""How a demo vault is written down: access-policy entries, private endpoints, the Vault record and
its row, network-rule and tag helpers."""

from __future__ import annotations

from dataclasses import dataclass, field

from tools.demo.identities import CONTOSO_TENANT, FABRIKAM_TENANT, FOREIGN, PRINCIPALS, SUBS, Sub, gid, pid


# --------------------------------------------------------------------------------------------
# Vaults
# --------------------------------------------------------------------------------------------

ALL_KEYS = ["encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify", "get", "list", "create",
            "update", "import", "delete", "backup", "restore", "recover", "purge"]
ALL_SECRETS = ["get", "list", "set", "delete", "backup", "restore", "recover", "purge"]
ALL_CERTS = ["get", "list", "delete", "create", "import", "update", "managecontacts", "getissuers",
             "listissuers", "setissuers", "deleteissuers", "manageissuers", "recover", "purge"]


@dataclass
class Entry:
    """One access policy entry."""

    principal: str  # principal key
    keys: list = field(default_factory=list)
    secrets: list = field(default_factory=list)
    certificates: list = field(default_factory=list)
    storage: list | None = None
    tenant: str | None = None  # default: the principal's home tenant
    application: str | None = None  # principal key of the app in a compound identity

    def row(self) -> dict:
        tenant = self.tenant or (FABRIKAM_TENANT if self.principal in FOREIGN else CONTOSO_TENANT)
        out = {"tenantId": tenant, "objectId": pid(self.principal)}
        if self.application:
            out["applicationId"] = PRINCIPALS[self.application].app_id
        perms = {"keys": list(self.keys), "secrets": list(self.secrets),
                 "certificates": list(self.certificates)}
        if self.storage is not None:
            perms["storage"] = list(self.storage)
        out["permissions"] = perms
        return out


@dataclass
class PE:
    name: str
    status: str  # Approved | Pending | Rejected | Disconnected
    network_rg: str = "rg-network-hub"


@dataclass
class Vault:
    name: str
    sub: str
    rg: str
    story: str
    tags: dict
    location: str = "westeurope"
    rbac: bool | None = None  # None: property missing
    public: str | None = None  # publicNetworkAccess; None: missing
    acls: dict | None = None  # networkAcls; None: missing
    pes: list = field(default_factory=list)
    soft_delete: bool | None = None
    purge_protection: bool | None = None
    tenant: str = CONTOSO_TENANT  # properties.tenantId
    policies: list = field(default_factory=list)
    sku: str = "standard"
    template: bool = False  # enabledForTemplateDeployment
    design: list = field(default_factory=list)  # designed findings, see module docstring
    verdict: str | None = None  # designed migration readiness (access-policy vaults)

    @property
    def subscription(self) -> Sub:
        return SUBS[self.sub]

    @property
    def id(self) -> str:
        return f"{self.subscription.rg(self.rg)}/providers/Microsoft.KeyVault/vaults/{self.name}"

    def row(self) -> dict:
        props: dict = {"sku": {"family": "A", "name": self.sku}, "tenantId": self.tenant,
                       "accessPolicies": [e.row() for e in self.policies]}
        props["enabledForDeployment"] = False
        props["enabledForDiskEncryption"] = False
        props["enabledForTemplateDeployment"] = self.template
        if self.soft_delete is not None:
            props["enableSoftDelete"] = self.soft_delete
            props["softDeleteRetentionInDays"] = 90
        if self.rbac is not None:
            props["enableRbacAuthorization"] = self.rbac
        if self.purge_protection is not None:
            props["enablePurgeProtection"] = self.purge_protection
        if self.acls is not None:
            props["networkAcls"] = self.acls
        props["vaultUri"] = f"https://{self.name}.vault.azure.net/"
        props["provisioningState"] = "Succeeded"
        if self.pes:
            props["privateEndpointConnections"] = [self._pe_row(pe) for pe in self.pes]
        if self.public is not None:
            props["publicNetworkAccess"] = self.public
        return {
            "id": self.id,
            "name": self.name,
            "type": "microsoft.keyvault/vaults",
            "tenantId": CONTOSO_TENANT,  # the subscription's tenant
            "kind": "",
            "location": self.location,
            "resourceGroup": self.rg,
            "subscriptionId": self.subscription.id,
            "managedBy": "",
            "sku": None,
            "plan": None,
            "properties": props,
            "tags": dict(self.tags),
            "identity": None,
            "zones": None,
            "extendedLocation": None,
        }

    def _pe_row(self, pe: PE) -> dict:
        conn = f"{pe.name}.{gid('pec:' + self.name + pe.name)}"
        approved = pe.status.lower() == "approved"
        return {
            "id": f"{self.id}/privateEndpointConnections/{conn}",
            "etag": "",
            "properties": {
                "privateEndpoint": {
                    "id": f"{self.subscription.rg(pe.network_rg)}/providers/Microsoft.Network/privateEndpoints/{pe.name}",
                },
                "privateLinkServiceConnectionState": {
                    "status": pe.status,
                    "description": "Auto-Approved" if approved else "Requested by the app team",
                    "actionsRequired": "None",
                },
                "provisioningState": "Succeeded",
            },
        }


def deny(*ips, bypass="AzureServices", action="Deny"):
    return {"bypass": bypass, "defaultAction": action, "ipRules": [{"value": ip} for ip in ips],
            "virtualNetworkRules": []}


def allow(*ips):
    return deny(*ips, action="Allow")


def tags(env, owner, app, **more):
    """A vault's tags; ``owner=None``: no owner tag of its own (see owner_tags.py)."""
    return {"env": env, **({"owner": owner} if owner is not None else {}), "app": app, **more}
