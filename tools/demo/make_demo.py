"""Build the embedded demo estate (``kv-audit audit --demo``).

Run ``python -m tools.demo.make_demo`` from the repository root: it rewrites the
snapshot files next to this script (``vaults.jsonl``, ``subscriptions.jsonl``, ...,
``manifest.json``) and the design table in ``README.md`` (between the ``design-table`` markers).
The output is a pure function of this file and ``audit_function/data/builtin_roles.json``:
no clock, no randomness, so ``tests/tools/test_demo_estate.py`` can check that the committed files
equal what the script produces.

The estate is Contoso: one tenant with a nested management-group tree (tenant root -> contoso ->
platform / landing-zones -> corp / online, plus a sandbox MG), six subscriptions and 19 vaults.
Each vault has a story (its tags say what it is) and a designed list of findings (``design=``),
which the README table and the engine test read. Rows are shaped exactly like Azure Resource
Graph rows (``resultFormat: objectArray``): ``type`` lower-cased, ids in ARM casing, properties
nested as ARM returns them, old vaults missing properties, odd casings where real estates have
them.

Subjects in ``design`` lists:
  ``(rule,)``                     vault-level finding
  ``(rule, "<principal key>")``   policy-entry or (vault, principal) finding for that principal
  ``(rule, "@<assignment key>")`` finding whose subject is that role assignment
  ``(rule, "ip:<value>")``        firewall-allows-any for that ipRules value
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from tools.demo import DEMO_DIR
from tools.demo.owner_tags import SUBSCRIPTION_TAGS, resource_group_rows
from tools.demo import deep_demo

HERE = DEMO_DIR   # where the generated snapshot is written (embedded in the package as data)
BUILTIN_ROLES = Path(str(resources.files("audit_function.data").joinpath("builtin_roles.json")))

FORMAT = "kv-audit-snapshot/1"
COLLECTED_AT = "2025-06-02T06:00:00Z"

# Deterministic GUIDs: uuid5 of a readable label under a fixed namespace.
_NS = uuid.UUID("6f1c2d8e-7b3a-4c59-9e0d-1a2b3c4d5e6f")


def gid(label: str) -> str:
    return str(uuid.uuid5(_NS, label))


CONTOSO_TENANT = gid("tenant:contoso")
FABRIKAM_TENANT = gid("tenant:fabrikam")  # acquired company / partner: a foreign tenant

# Well-known first-party application ids (identical in every tenant).
APPID_APP_SERVICE = "abfa0a7c-a6b6-4736-8310-5855508787cd"  # Microsoft Azure App Service
APPID_BACKUP = "262044b1-e2ce-469f-a196-69ab7ada62d3"  # Backup Management Service
APPID_AIP = "00000012-0000-0000-c000-000000000000"  # Microsoft Rights Management Services

AUTHZ = "/providers/Microsoft.Authorization"

# --------------------------------------------------------------------------------------------
# Management groups and subscriptions
# --------------------------------------------------------------------------------------------

ROOT_MG = CONTOSO_TENANT  # the tenant root group's name is the tenant id

#: name -> (displayName, parent name or None)
MANAGEMENT_GROUPS: dict[str, tuple[str, str | None]] = {
    ROOT_MG: ("Tenant Root Group", None),
    "contoso": ("Contoso", ROOT_MG),
    "platform": ("Platform", "contoso"),
    "landing-zones": ("Landing Zones", "contoso"),
    "corp": ("Corp", "landing-zones"),
    "online": ("Online", "landing-zones"),
    "sandbox": ("Sandbox", "contoso"),
}


@dataclass(frozen=True)
class Sub:
    key: str
    display_name: str
    mg: str

    @property
    def id(self) -> str:
        return gid(f"subscription:{self.key}")

    @property
    def scope(self) -> str:
        return f"/subscriptions/{self.id}"

    def rg(self, name: str) -> str:
        return f"{self.scope}/resourceGroups/{name}"


SUBS = {
    s.key: s
    for s in (
        Sub("identity", "Contoso Platform Identity", "platform"),
        Sub("management", "Contoso Platform Management", "platform"),
        Sub("corp-prod", "Contoso Corp Production", "corp"),
        Sub("corp-dev", "Contoso Corp Development", "corp"),
        Sub("online-prod", "Contoso Online Production", "online"),
        Sub("sandbox", "Contoso Sandbox (legacy)", "sandbox"),
        # created by a team outside the landing-zone process; Resource Graph returned no
        # management-group chain for it (catalog 2: unknown ancestry while grants sit at management groups)
        Sub("poc-unplaced", "Contoso PoC (not yet placed)", ""),
    )
}


def mg_chain(name: str) -> list[dict]:
    """Ancestors of MG ``name`` including itself, parent first, tenant root last."""
    chain = []
    cur: str | None = name
    while cur is not None:
        display, parent = MANAGEMENT_GROUPS[cur]
        chain.append({"name": cur, "displayName": display})
        cur = parent
    return chain


def mg_scope(name: str) -> str:
    return f"/providers/Microsoft.Management/managementGroups/{name}"


# --------------------------------------------------------------------------------------------
# Directory objects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    key: str
    type: str  # user | group | servicePrincipal
    display_name: str
    user_type: str | None = None
    app_id: str | None = None
    member_of: tuple[str, ...] = ()  # principal keys of groups, transitive
    in_directory: bool = True  # foreign-tenant objects are not in Contoso's directory

    @property
    def id(self) -> str:
        return gid(f"principal:{self.key}")

    @property
    def assignment_type(self) -> str:
        return {"user": "User", "group": "Group", "servicePrincipal": "ServicePrincipal"}[self.type]


def _user(key, name, *groups, guest=False, foreign=False):
    return Principal(key, "user", name, "Guest" if guest else "Member", None, tuple(groups),
                     in_directory=not foreign)


def _group(key, name, *groups):
    return Principal(key, "group", name, None, None, tuple(groups))


def _sp(key, name, app_id=None, *groups, foreign=False):
    return Principal(key, "servicePrincipal", name, None, app_id or gid(f"app:{key}"), tuple(groups),
                     in_directory=not foreign)


_PRINCIPALS = [
    # groups (nested: every engineering group is in grp-all-engineering)
    _group("grp-all-engineering", "All Engineering"),
    _group("grp-platform-eng", "Platform Engineering", "grp-all-engineering"),
    _group("grp-identity-admins", "Identity Administrators"),
    _group("grp-corp-developers", "Corp Developers", "grp-all-engineering"),
    _group("grp-corp-prod-owners", "Corp Production Owners"),
    _group("grp-online-owners", "Online Production Owners"),
    _group("grp-web-ops", "Web Operations", "grp-all-engineering"),
    _group("grp-sandbox-users", "Sandbox Users"),
    _group("grp-security-readers", "Security Readers"),
    # users
    _user("breakglass", "Break Glass Admin"),
    _user("alice", "Alice Nguyen", "grp-identity-admins"),
    _user("bob", "Bob Martin"),
    _user("erin", "Erin Garcia", "grp-web-ops", "grp-all-engineering"),
    _user("frank", "Frank Wu", "grp-platform-eng", "grp-all-engineering"),
    _user("grace", "Grace Kim", "grp-platform-eng", "grp-all-engineering"),
    _user("henry", "Henry Brown"),
    _user("dave", "Dave Lee"),
    _user("ivan", "Ivan Petrov"),
    _user("kim", "Kim Tanaka", "grp-sandbox-users"),
    _user("liam", "Liam O'Brien", "grp-sandbox-users"),
    _user("priya", "Priya Shah", "grp-security-readers"),
    _user("jordan-guest", "jordan_partner.example#EXT#", guest=True),
    # service principals and managed identities
    _sp("sp-platform-iac", "sp-platform-iac (Terraform)"),
    _sp("mi-payments-api", "id-payments-api-prod"),
    _sp("mi-payments-sql", "sql-payments-prod"),
    _sp("mi-crm-api", "id-crm-api-prod"),
    _sp("mi-hr-portal", "app-hr-portal-prod"),
    _sp("sp-corp-legacy-app", "Contoso Intranet (legacy)"),
    _sp("mi-corp-sql", "sql-corp-shared-prod"),
    _sp("sp-crm-ci-legacy", "crm-build-pipeline (retired)"),
    _sp("sp-analytics", "sp-analytics-ingest"),
    _sp("sp-web-deploy", "sp-online-web-deploy"),
    _sp("mi-web-func", "func-web-shared-prod"),
    _sp("sp-cert-automation", "sp-cert-automation"),
    _sp("sp-key-rotation", "sp-key-rotation"),
    _sp("sp-app-service", "Microsoft Azure App Service", APPID_APP_SERVICE),
    _sp("mi-checkout-api", "id-checkout-api-prod"),
    _sp("mi-frontend", "app-online-frontend-prod"),
    _sp("sp-adconnect", "Entra Connect Sync"),
    _sp("sp-dsc-pull", "Contoso DSC Pull Server"),
    _sp("sp-backup", "Backup Management Service", APPID_BACKUP),
    _sp("sp-aip", "Microsoft Rights Management Services", APPID_AIP),
    _sp("mi-automation", "aa-platform-automation"),
    _sp("mi-grafana", "amg-platform-grafana"),
    _sp("sp-legacy-webapp", "contoso-legacy-webapp"),
    _sp("sp-lab-automation", "sp-sandbox-lab-automation"),
    _sp("mi-func-lab", "func-sandbox-lab"),
    # foreign tenant: referenced by access policies, absent from Contoso's directory
    _sp("fabrikam-cdn", "Fabrikam CDN Partner", foreign=True),
    _sp("fabrikam-erp", "Fabrikam ERP", foreign=True),
    _user("fabrikam-erp-admin", "erp-admin@fabrikam.example", foreign=True),
    # Fabrikam Managed Services operates the management subscription through Azure Lighthouse
    Principal("msp-fabrikam-ops", "group", "Fabrikam MSP Operations", in_directory=False),
]
PRINCIPALS = {p.key: p for p in _PRINCIPALS}
FOREIGN = {p.key for p in _PRINCIPALS if not p.in_directory}  # homed in FABRIKAM_TENANT


def pid(key: str) -> str:
    return PRINCIPALS[key].id


# --------------------------------------------------------------------------------------------
# Role definitions
# --------------------------------------------------------------------------------------------

BUILTIN_NAMES = (
    "Owner", "Contributor", "Reader", "User Access Administrator",
    "Key Vault Administrator", "Key Vault Reader", "Key Vault Contributor",
    "Key Vault Secrets User", "Key Vault Secrets Officer",
    "Key Vault Crypto User", "Key Vault Crypto Officer", "Key Vault Crypto Service Encryption User",
    "Key Vault Certificates Officer", "Key Vault Certificate User",
    "Key Vault Data Access Administrator", "Storage Blob Data Reader",
)


def load_builtin_roles(path: Path = BUILTIN_ROLES) -> list[dict]:
    """The built-in role catalog (``az role definition list`` objects)."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)["roles"]


def role_definition_row(role: dict) -> dict:
    """``az role definition list`` object -> ARG ``authorizationresources`` row."""
    perms = []
    for p in role["permissions"]:
        block = {
            "actions": list(p.get("actions") or []),
            "notActions": list(p.get("notActions") or []),
            "dataActions": list(p.get("dataActions") or []),
            "notDataActions": list(p.get("notDataActions") or []),
        }
        if p.get("condition"):
            block["condition"] = p["condition"]
            block["conditionVersion"] = p.get("conditionVersion")
        perms.append(block)
    return {
        "id": role["id"],
        "name": role["name"],
        "type": "microsoft.authorization/roledefinitions",
        "properties": {
            "roleName": role["roleName"],
            "type": role.get("roleType") or role.get("type"),
            "description": role.get("description") or "",
            "permissions": perms,
            "assignableScopes": list(role.get("assignableScopes") or ["/"]),
        },
    }


_BUILTINS = {r["roleName"]: r for r in load_builtin_roles()}

CUSTOM_ROLES = [
    {
        # The anti-pattern: a home-grown "operator" role with vault wildcards on both planes.
        "id": f"{SUBS['sandbox'].scope}{AUTHZ}/roleDefinitions/{gid('role:kv-operator')}",
        "name": gid("role:kv-operator"),
        "roleName": "Contoso Key Vault Operator",
        "roleType": "CustomRole",
        "description": "Sandbox lab: manage vaults and everything in them (no purge).",
        "permissions": [{
            "actions": ["Microsoft.KeyVault/vaults/*", "Microsoft.Resources/subscriptions/resourceGroups/read"],
            "notActions": [],
            "dataActions": ["Microsoft.KeyVault/vaults/*"],
            "notDataActions": [
                "Microsoft.KeyVault/vaults/secrets/purge/action",
                "Microsoft.KeyVault/vaults/keys/purge/action",
                "Microsoft.KeyVault/vaults/certificates/purge/action",
            ],
        }],
        "assignableScopes": [SUBS["sandbox"].scope],
    },
    {
        # The narrow one: exactly the Azure Backup access-policy template (the migration guide
        # says "custom role required" for it).
        "id": f"{AUTHZ}/roleDefinitions/{gid('role:backup-reader')}",
        "name": gid("role:backup-reader"),
        "roleName": "Contoso Key Vault Backup Reader",
        "roleType": "CustomRole",
        "description": "Azure Backup: keys get/list/backup, secrets get/list/backup.",
        "permissions": [{
            "actions": ["Microsoft.KeyVault/vaults/read"],
            "notActions": [],
            "dataActions": [
                "Microsoft.KeyVault/vaults/keys/read",
                "Microsoft.KeyVault/vaults/keys/backup/action",
                "Microsoft.KeyVault/vaults/secrets/getSecret/action",
                "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
                "Microsoft.KeyVault/vaults/secrets/backup/action",
            ],
            "notDataActions": [],
        }],
        "assignableScopes": [mg_scope("contoso")],
    },
]
_CUSTOM = {r["roleName"]: r for r in CUSTOM_ROLES}


def role_guid(role_name: str) -> str:
    return (_BUILTINS.get(role_name) or _CUSTOM[role_name])["name"]


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


@dataclass
class Assignment:
    key: str
    role: str  # role name
    principal: str  # principal key
    scope: str
    created: str  # ISO date "YYYY-MM-DD"
    description: str = ""
    created_by: str = "breakglass"
    condition: str | None = None
    role_id_style: str = "auto"  # auto | root | upper
    design: list = field(default_factory=list)  # assignment-level findings
    eligible: bool = False  # a PIM-eligible assignment (role_eligibilities, read through ARM)
    tenant: str = CONTOSO_TENANT  # the row's tenantId (a multi-tenant snapshot holds other tenants' rows)

    @property
    def name(self) -> str:
        return gid(f"{'eligibility' if self.eligible else 'assignment'}:{self.key}")

    @property
    def id(self) -> str:
        base = "" if self.scope == "/" else self.scope
        kind = "roleEligibilityScheduleInstances" if self.eligible else "roleAssignments"
        return f"{base}{AUTHZ}/{kind}/{self.name}"

    def _sub_rg(self) -> tuple[str, str]:
        m = re.match(r"^/subscriptions/([^/]+)(?:/resourceGroups/([^/]+))?", self.scope, re.I)
        if not m:
            return "", ""
        return m.group(1), m.group(2) or ""

    def row(self) -> dict:
        sub, rg = self._sub_rg()
        guid = role_guid(self.role)
        if self.role_id_style == "upper":
            role_id = f"/subscriptions/{sub}{AUTHZ}/roleDefinitions/{guid.upper()}"
        elif sub and self.role_id_style == "auto":
            role_id = f"/subscriptions/{sub}{AUTHZ}/roleDefinitions/{guid}"
        else:
            role_id = f"{AUTHZ}/roleDefinitions/{guid}"
        stamp = f"{self.created}T09:{len(self.key) % 60:02d}:{sum(map(ord, self.key)) % 60:02d}.0000000Z"
        if self.eligible:  # ARM's roleEligibilityScheduleInstances shape, tenantId added by the collector
            return {
                "id": self.id, "name": self.name, "type": "Microsoft.Authorization/roleEligibilityScheduleInstances",
                "tenantId": CONTOSO_TENANT,
                "properties": {"roleDefinitionId": role_id, "principalId": pid(self.principal),
                               "principalType": PRINCIPALS[self.principal].assignment_type, "scope": self.scope,
                               "memberType": "Direct", "status": "Provisioned", "startDateTime": stamp,
                               "endDateTime": None, "condition": self.condition,
                               "roleEligibilityScheduleId": f"{self.scope}{AUTHZ}/roleEligibilitySchedules/"
                                                            f"{gid('schedule:' + self.key)}"},
            }
        return {
            "id": self.id,
            "name": self.name,
            "type": "microsoft.authorization/roleassignments",
            "tenantId": self.tenant,
            "subscriptionId": sub,
            "resourceGroup": rg,
            "properties": {
                "roleDefinitionId": role_id,
                "principalId": pid(self.principal),
                "principalType": PRINCIPALS[self.principal].assignment_type,
                "scope": self.scope,
                "condition": self.condition,
                "conditionVersion": "2.0" if self.condition else None,
                "createdOn": stamp,
                "updatedOn": stamp,
                "createdBy": pid(self.created_by),
                "description": self.description,
            },
        }


def vault_scope(name: str) -> str:
    return VAULTS_BY_NAME[name].id


S = SUBS
SECRET_NAME_CONDITION = (
    "((!(ActionMatches{'Microsoft.KeyVault/vaults/secrets/getSecret/action'})) OR "
    "(@Resource[Microsoft.KeyVault/vaults/secrets:name] StringStartsWith 'web-func-'))"
)

ASSIGNMENTS = [
    # -- tenant-wide and management groups
    Assignment("root-uaa-breakglass", "User Access Administrator", "breakglass", "/", "2019-05-06",
               "Elevated access for the break-glass account", design=[("self-grant-path",)]),
    # Fabrikam's own tenant root: the collector's identity also reads the acquired tenant, so its
    # rows are in the snapshot. '/' belongs to one tenant: this reaches none of Contoso's vaults.
    Assignment("fabrikam-root-uaa", "User Access Administrator", "fabrikam-erp-admin", "/", "2018-02-01",
               "Fabrikam tenant administrator", tenant=FABRIKAM_TENANT),
    Assignment("contoso-security-reader", "Reader", "grp-security-readers", mg_scope("contoso"),
               "2020-02-11", "Security team read access", created_by="priya"),
    Assignment("platform-kv-admin", "Key Vault Administrator", "grp-platform-eng", mg_scope("platform"),
               "2021-09-30", "Platform engineers administer all platform vaults", created_by="frank",
               design=[("broad-data-role",)]),
    Assignment("platform-iac-contributor", "Contributor", "sp-platform-iac", mg_scope("platform"),
               "2021-01-15", "Terraform for the platform landing zone", design=[("self-grant-path",)]),
    # -- subscriptions
    Assignment("corp-prod-owners", "Owner", "grp-corp-prod-owners", S["corp-prod"].scope, "2020-06-01",
               design=[("self-grant-path",)]),
    Assignment("corp-prod-analytics-blob", "Storage Blob Data Reader", "sp-analytics", S["corp-prod"].scope,
               "2022-03-08", "Analytics ingest reads exports (not a Key Vault role)"),
    Assignment("corp-dev-secrets-officer", "Key Vault Secrets Officer", "grp-corp-developers",
               S["corp-dev"].scope, "2022-11-21", "Developers manage secrets in dev",
               role_id_style="upper", design=[("broad-data-role",)]),
    Assignment("online-owners", "Owner", "grp-online-owners", S["online-prod"].scope, "2020-06-01",
               design=[("self-grant-path",)]),
    Assignment("sandbox-contributors", "Contributor", "grp-sandbox-users", S["sandbox"].scope, "2018-04-12",
               design=[("self-grant-path",)]),
    # -- resource groups
    Assignment("web-deploy-secrets-officer", "Key Vault Secrets Officer", "sp-web-deploy",
               S["online-prod"].rg("rg-web-shared"), "2023-02-14", "Pipeline writes app secrets",
               design=[("broad-data-role",)]),
    Assignment("monitoring-kv-reader", "Key Vault Reader", "grp-platform-eng",
               S["management"].rg("rg-monitoring"), "2023-07-03",
               "Dashboards list vault metadata (no vault in this RG today)",
               design=[("broad-data-role",)]),
    Assignment("lab-kv-operator", "Contoso Key Vault Operator", "sp-lab-automation",
               S["sandbox"].rg("rg-sandbox-lab"), "2021-10-19", "Lab automation",
               design=[("broad-data-role",), ("wildcard-custom-role",), ("self-grant-path",)]),
    # -- vault scope (and below)
    Assignment("payments-secrets-user", "Key Vault Secrets User", "mi-payments-api",
               vault_scope("kv-payments-prod"), "2023-04-02"),
    Assignment("payments-sql-cseu", "Key Vault Crypto Service Encryption User", "mi-payments-sql",
               vault_scope("kv-payments-prod"), "2023-04-02", "TDE customer-managed key"),
    Assignment("payments-backup-reader", "Contoso Key Vault Backup Reader", "sp-backup",
               vault_scope("kv-payments-prod"), "2023-04-03"),
    Assignment("crm-secrets-user", "Key Vault Secrets User", "mi-crm-api",
               vault_scope("kv-crm-prod"), "2022-08-17", role_id_style="root"),
    Assignment("hr-secrets-user", "Key Vault Secrets User", "mi-hr-portal",
               vault_scope("kv-hr-prod"), "2024-01-09"),
    Assignment("hr-kv-reader", "Key Vault Reader", "grp-security-readers",
               vault_scope("kv-hr-prod"), "2024-01-09", "Security review of HR vault metadata"),
    Assignment("checkout-secrets-user", "Key Vault Secrets User", "mi-checkout-api",
               vault_scope("kv-checkout-prod"), "2024-05-20"),
    Assignment("corp-shared-secrets-user", "Key Vault Secrets User", "sp-corp-legacy-app",
               vault_scope("kv-corp-shared"), "2025-04-28", "Migration wave 1 pre-staging"),
    Assignment("corp-shared-cseu", "Key Vault Crypto Service Encryption User", "mi-corp-sql",
               vault_scope("kv-corp-shared"), "2025-04-28", "Migration wave 1 pre-staging"),
    Assignment("web-func-secrets-user", "Key Vault Secrets User", "mi-web-func",
               vault_scope("kv-web-shared"), "2024-09-12", "Only web-func-* secrets",
               condition=SECRET_NAME_CONDITION),
    Assignment("web-cert-automation", "Key Vault Certificates Officer", "sp-cert-automation",
               vault_scope("kv-web-shared"), "2024-09-12"),
    Assignment("web-key-rotation", "Key Vault Crypto Officer", "sp-key-rotation",
               vault_scope("kv-web-shared"), "2024-09-12"),
    Assignment("frontend-kv-contributor", "Key Vault Contributor", "erin",
               vault_scope("kv-online-frontend"), "2022-05-05", "Web ops lead manages the vault",
               design=[("self-grant-path",)]),
    Assignment("automation-secrets-user", "Key Vault Secrets User", "mi-automation",
               vault_scope("kv-automation"), "2024-11-02", "RBAC flip"),
    Assignment("grafana-secret-user", "Key Vault Secrets User", "mi-grafana",
               vault_scope("kv-grafana-mgmt") + "/secrets/grafana-admin-password", "2024-02-27"),
    Assignment("backup-custom", "Contoso Key Vault Backup Reader", "sp-backup",
               vault_scope("kv-backup-mgmt"), "2025-03-10", "Pre-staged for the RBAC flip",
               role_id_style="root"),
    Assignment("lab-func-secret", "Key Vault Secrets User", "mi-func-lab",
               vault_scope("kv-lab-scratch") + "/secrets/lab-api-key", "2024-06-18"),
    Assignment("lab-rbac-operator", "Contoso Key Vault Operator", "ivan",
               vault_scope("kv-lab-rbac"), "2024-06-18", design=[("wildcard-custom-role",)]),
]

#: PIM-eligible assignments: not in Resource Graph, read through ARM (role_eligibilities.jsonl)
ELIGIBILITIES = [
    Assignment("release-erin-contributor", "Contributor", "erin", S["online-prod"].rg("rg-release"),
               "2025-09-01", "Release engineer can activate Contributor for release windows", eligible=True),
    Assignment("lab-dave-secrets-officer", "Key Vault Secrets Officer", "dave", vault_scope("kv-lab-scratch"),
               "2025-10-14", "Dave can activate Secrets Officer on the lab vault", eligible=True),
]

#: deny assignments (ARM, denyAssignments.jsonl): a deployment stack's deny settings on the release vault
DENY_ASSIGNMENTS = [
    {"key": "release-stack-deny", "name": "Deployment stack 'release-templates' deny settings",
     "scope": vault_scope("kv-release-templates"),
     "actions": ["Microsoft.Authorization/roleAssignments/write", "Microsoft.KeyVault/vaults/delete"],
     "exclude": ["breakglass"]},
]


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


#: Azure Lighthouse delegations (Resource Graph resources, lighthouse_delegations.jsonl): Fabrikam's
#: managed-services offer on the management subscription
LIGHTHOUSE = [
    {"key": "fabrikam-msp", "sub": "management", "offer": "Fabrikam platform operations",
     "authorizations": [("msp-fabrikam-ops", "Contributor")], "design": [("self-grant-path",)]},
]


def lighthouse_rows() -> list[dict]:
    rows = []
    for d in LIGHTHOUSE:
        scope, name = SUBS[d["sub"]].scope, gid(f"registration:{d['key']}")
        rows.append({
            "id": f"{scope}/providers/Microsoft.ManagedServices/registrationAssignments/{name}", "name": name,
            "type": "microsoft.managedservices/registrationassignments", "tenantId": CONTOSO_TENANT,
            "subscriptionId": SUBS[d["sub"]].id, "resourceGroup": "",
            "properties": {
                "provisioningState": "Succeeded",
                "registrationDefinitionId": f"{scope}/providers/Microsoft.ManagedServices/registrationDefinitions/"
                                            f"{gid('definition:' + d['key'])}",
                "registrationDefinition": {"properties": {
                    "managedByTenantId": FABRIKAM_TENANT, "managedByTenantName": "Fabrikam Managed Services",
                    "registrationDefinitionName": d["offer"],
                    "authorizations": [{"principalId": pid(p), "principalIdDisplayName": PRINCIPALS[p].display_name,
                                        "roleDefinitionId": role_guid(role)} for p, role in d["authorizations"]],
                }},
            },
        })
    return rows


def lighthouse_grant_ids() -> dict[str, str]:
    """Lower-cased grant id (as the estate names a Lighthouse authorization) -> demo key."""
    out = {}
    for row, d in zip(lighthouse_rows(), LIGHTHOUSE):
        for auth in row["properties"]["registrationDefinition"]["properties"]["authorizations"]:
            out[f"{row['id']}#authorizations/{auth['principalId']}/{auth['roleDefinitionId']}".lower()] = d["key"]
    return out


def deny_assignment_rows() -> list[dict]:
    rows = []
    for d in DENY_ASSIGNMENTS:
        name = gid(f"deny:{d['key']}")
        rows.append({
            "id": f"{d['scope']}{AUTHZ}/denyAssignments/{name}", "name": name,
            "type": "Microsoft.Authorization/denyAssignments", "tenantId": CONTOSO_TENANT,
            "properties": {"denyAssignmentName": d["name"], "description": "Created by a deployment stack",
                           "scope": d["scope"],
                           "permissions": [{"actions": d["actions"], "notActions": [], "dataActions": [],
                                            "notDataActions": []}],
                           "principals": [{"id": "00000000-0000-0000-0000-000000000000", "type": "SystemDefined"}],
                           "excludePrincipals": [{"id": pid(p), "type": PRINCIPALS[p].assignment_type}
                                                 for p in d["exclude"]],
                           "doNotApplyToChildScopes": False, "isSystemProtected": True},
        })
    return rows


def subscription_rows() -> list[dict]:
    return [{
        "id": s.scope,
        "name": s.display_name,
        "type": "microsoft.resources/subscriptions",
        "subscriptionId": s.id,
        "tenantId": CONTOSO_TENANT,
        "tags": dict(SUBSCRIPTION_TAGS.get(s.key, {})),
        "properties": {"state": "Enabled", "managementGroupAncestorsChain": mg_chain(s.mg) if s.mg else []},
    } for s in SUBS.values()]


def management_group_rows() -> list[dict]:
    rows = []
    for name, (display, parent) in MANAGEMENT_GROUPS.items():
        ancestors = mg_chain(parent) if parent else []
        details: dict = {"managementGroupAncestorsChain": ancestors}
        if parent:
            details["parent"] = {"id": mg_scope(parent), "name": parent,
                                 "displayName": MANAGEMENT_GROUPS[parent][0]}
        rows.append({
            "id": mg_scope(name),
            "name": name,
            "type": "microsoft.management/managementgroups",
            "tenantId": CONTOSO_TENANT,
            "properties": {"displayName": display, "tenantId": CONTOSO_TENANT, "details": details},
        })
    return rows


def role_definition_rows() -> list[dict]:
    return [role_definition_row(_BUILTINS[n]) for n in BUILTIN_NAMES] + \
           [role_definition_row(r) for r in CUSTOM_ROLES]


def principal_rows() -> list[dict]:
    return [{
        "id": p.id,
        "type": p.type,
        "displayName": p.display_name,
        "userType": p.user_type,
        "appId": p.app_id,
        "memberOf": [pid(g) for g in p.member_of],
    } for p in _PRINCIPALS if p.in_directory]


def tables() -> dict[str, list[dict]]:
    return {
        "management_groups": management_group_rows(),
        "subscriptions": subscription_rows(),
        "resource_groups": resource_group_rows(VAULTS, CONTOSO_TENANT),
        "vaults": [v.row() for v in VAULTS],
        "role_definitions": role_definition_rows(),
        "role_assignments": [a.row() for a in ASSIGNMENTS],
        "role_eligibilities": [a.row() for a in ELIGIBILITIES],
        "deny_assignments": deny_assignment_rows(),
        "lighthouse_delegations": lighthouse_rows(),
        "principals": principal_rows(),
        # the deeper tables (collect --deep; managed_hsms is always collected): deep_demo.py
        "managed_hsms": deep_demo.hsm_rows(SUBS, CONTOSO_TENANT, pid("breakglass")),
        "vault_objects": deep_demo.vault_object_rows(VAULTS),
        "diagnostic_settings": deep_demo.diagnostic_rows(
            [(v.name, v.id) for v in VAULTS] + [(h[0], deep_demo.hsm_id(SUBS, h[0], h[1], h[2])) for h in deep_demo.HSMS],
            f"{SUBS['management'].rg('rg-monitoring')}/providers/Microsoft.OperationalInsights/workspaces/law-central"),
        "defender_plans": deep_demo.defender_rows(SUBS, CONTOSO_TENANT),
        "perimeter_associations": deep_demo.perimeter_rows(SUBS, {v.name: v.id for v in VAULTS}, CONTOSO_TENANT),
    }


def manifest(tabs: dict[str, list[dict]]) -> dict:
    return {
        "format": FORMAT,
        "collectedAt": COLLECTED_AT,
        "source": "demo",
        "scope": {"tenantId": CONTOSO_TENANT, "managementGroups": [ROOT_MG], "subscriptions": []},
        "tables": {name: len(rows) for name, rows in tabs.items()},
        "complete": True,
        "gaps": [],
    }


# --------------------------------------------------------------------------------------------
# Design table (README)
# --------------------------------------------------------------------------------------------

TABLE_BEGIN = "<!-- design-table:begin (generated by make_demo.py; do not edit) -->"
TABLE_END = "<!-- design-table:end -->"


def _subject(subject: str | None) -> str:
    if subject is None:
        return ""
    if subject.startswith("@"):
        return f" (assignment `{subject[1:]}`)"
    if subject.startswith("ip:"):
        return f" (`{subject[3:]}`)"
    return f" ({subject})"


def design_table() -> str:
    lines = ["| vault | subscription / resource group | model | story | designed findings | migration verdict |",
             "|---|---|---|---|---|---|"]
    for v in VAULTS:
        model = "rbac" if v.rbac is True else "accessPolicy"
        if v.design:
            found = "<br>".join(f"`{d[0]}`{_subject(d[1] if len(d) > 1 else None)}" for d in v.design)
        else:
            found = "**clean**" if v.name in CLEAN_VAULTS else "none on the vault"
        verdict = f"`{v.verdict}`" if v.verdict else "–"
        lines.append(f"| `{v.name}` | {v.subscription.display_name} / {v.rg} | {model} | {v.story} | {found} | {verdict} |")
    lines += ["", "Assignment-level findings (subject: the role assignment):", "",
              "| assignment | role | principal | scope | designed findings |", "|---|---|---|---|---|"]
    for a in ASSIGNMENTS:
        if a.design:
            found = "<br>".join(f"`{d[0]}`" for d in a.design)
            lines.append(f"| `{a.key}` | {a.role} | {a.principal} | `{a.scope}` | {found} |")
    lines += ["", "Clean vaults (no findings at all): " + ", ".join(f"`{n}`" for n in CLEAN_VAULTS) + "."]
    return "\n".join(lines)


def render_readme(text: str) -> str:
    start, end = text.index(TABLE_BEGIN), text.index(TABLE_END)
    return text[: start + len(TABLE_BEGIN)] + "\n" + design_table() + "\n" + text[end:]


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def dump_jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows)


def render() -> dict[str, str]:
    """File name -> exact file text, for everything this script writes."""
    tabs = tables()
    files = {f"{name}.jsonl": dump_jsonl(rows) for name, rows in tabs.items()}
    files["manifest.json"] = json.dumps(manifest(tabs), indent=2) + "\n"
    readme = HERE / "README.md"
    files["README.md"] = render_readme(readme.read_text(encoding="utf-8"))
    return files


def main() -> None:
    for name, text in render().items():
        (HERE / name).write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
