"""The demo estate's identities: tenants, subscriptions, management groups, principals and roles."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tools.demo import DEMO_DIR


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
