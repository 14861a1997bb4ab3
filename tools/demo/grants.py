"""The demo's grants: role assignments, PIM eligibilities, deny assignments, Lighthouse delegations,
and the rows of the directory and authorization tables."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tools.demo.owner_tags import SUBSCRIPTION_TAGS
from tools.demo.identities import AUTHZ, BUILTIN_NAMES, CONTOSO_TENANT, CUSTOM_ROLES, FABRIKAM_TENANT, MANAGEMENT_GROUPS, PRINCIPALS, SUBS, _BUILTINS, _PRINCIPALS, gid, mg_chain, mg_scope, pid, role_definition_row, role_guid
from tools.demo.vaults import VAULTS_BY_NAME


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
