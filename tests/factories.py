"""Builders for raw ARG rows and a harness that runs rules over them.

Rows are built the way Resource Graph returns them (lower-cased ``type``, ARM-cased ids,
nested ``properties``), then go through the real snapshot loader, estate model and access
engine: a rule test exercises exactly the path a real audit takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from audit_function import permissions as perms
from audit_function.access.engine import AccessIndex
from audit_function.engine.evaluate import evaluate
from audit_function.estate.directory import deleted_identities
from audit_function.estate.owners import DEFAULT_OWNER_TAGS, Owners
from audit_function.report.document import build_report
from audit_function.snapshot.load import RawSnapshot, load_estate
from rules.base import RuleContext, Thresholds

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
SUB = "00000000-0000-0000-0000-00000000000a"
SUB2 = "00000000-0000-0000-0000-00000000000b"
AS_OF = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)

# real built-in role GUIDs (audit_function/data/builtin_roles.json)
KV_ADMIN = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
KV_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
KV_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
KV_CRYPTO_OFFICER = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603"
KV_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
KV_CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
KV_CERTIFICATES_OFFICER = "a4417e6f-fecd-4de8-b567-7b0420556985"
KV_READER = "21090545-7ca7-4776-b22c-e363652d74d2"
KV_CONTRIBUTOR = "f25e0fa2-a7c8-4377-a976-54943a77a395"
KV_DATA_ACCESS_ADMIN = "8b54135c-b56d-4d72-a534-26097cfdc8d8"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
USER_ACCESS_ADMIN = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"


def actions(words: str) -> list[str]:
    """The data-action names of a plain-words evidence field (report 2 evidence is in words)."""
    return perms.names(perms.from_words(words))


def vault_id(name: str = "kv1", sub: str = SUB, rg: str = "rg-app") -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}"


def rg_scope(sub: str = SUB, rg: str = "rg-app") -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


def mg_scope(name: str) -> str:
    return f"/providers/Microsoft.Management/managementGroups/{name}"


def policy(object_id: str, tenant: str = TENANT, application_id: str | None = None, **permissions) -> dict:
    """An access-policy entry: ``policy("oid", secrets=["get", "list"])``."""
    entry = {"tenantId": tenant, "objectId": object_id, "permissions": permissions}
    if application_id:
        entry["applicationId"] = application_id
    return entry


def vault_row(name: str = "kv1", *, sub: str = SUB, rg: str = "rg-app", rbac=True, policies=(), tenant=TENANT,
              row_tenant=TENANT, omit=(), tags=None, **properties) -> dict:
    """A vault row. ``rbac=None`` leaves enableRbacAuthorization out; ``omit`` drops properties."""
    props = {
        "tenantId": tenant,
        "sku": {"family": "A", "name": "standard"},
        "accessPolicies": list(policies),
        "enableSoftDelete": True,
        "softDeleteRetentionInDays": 90,
        "enablePurgeProtection": True,
        "enableRbacAuthorization": rbac,
        "publicNetworkAccess": "Disabled",
        "networkAcls": {"bypass": "AzureServices", "defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []},
        "privateEndpointConnections": [],
        "vaultUri": f"https://{name}.vault.azure.net/",
        "provisioningState": "Succeeded",
    }
    if rbac is None:
        props.pop("enableRbacAuthorization")
    props.update(properties)
    for key in omit:
        props.pop(key, None)
    return {"id": vault_id(name, sub, rg), "name": name, "type": "microsoft.keyvault/vaults", "tenantId": row_tenant,
            "kind": "", "location": "westeurope", "resourceGroup": rg, "subscriptionId": sub,
            "tags": tags or {}, "properties": props}


def private_endpoint(status: str = "Approved", name: str = "pe1") -> dict:
    return {"id": f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.KeyVault/vaults/kv1/privateEndpointConnections/{name}",
            "properties": {"privateEndpoint": {"id": f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/privateEndpoints/{name}"},
                           "privateLinkServiceConnectionState": {"status": status, "actionsRequired": "None"},
                           "provisioningState": "Succeeded"}}


def subscription_row(sub: str = SUB, mgs=("mg-corp", "mg-contoso", TENANT), tenant: str = TENANT, tags=None) -> dict:
    row = {"id": f"/subscriptions/{sub}", "name": f"sub-{sub[-4:]}", "type": "microsoft.resources/subscriptions",
           "subscriptionId": sub, "tenantId": tenant,
           "properties": {"state": "Enabled", "managementGroupAncestorsChain": [{"name": m, "displayName": m} for m in mgs]}}
    if tags is not None:
        row["tags"] = tags
    return row


def resource_group_row(rg: str = "rg-app", sub: str = SUB, tags=None) -> dict:
    """A resource group as Resource Graph's resourcecontainers returns it (resource_groups.kql)."""
    return {"id": rg_scope(sub, rg), "name": rg, "type": "microsoft.resources/subscriptions/resourcegroups",
            "subscriptionId": sub, "tags": tags if tags is not None else {}}


def assignment_row(scope: str, role_guid: str, principal: str, *, name: str | None = None, principal_type: str = "User",
                   condition: str | None = None, role_prefix: str = "", omit_scope: bool = False,
                   tenant: str = TENANT) -> dict:
    name = name or f"ra-{abs(hash((scope, role_guid, principal))) % 10**8:08d}"
    root = "" if scope == "/" else scope
    props = {"roleDefinitionId": f"{role_prefix}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}",
             "principalId": principal, "principalType": principal_type, "scope": scope,
             "condition": condition, "conditionVersion": "2.0" if condition else None}
    if omit_scope:
        props.pop("scope")
    return {"id": f"{root}/providers/Microsoft.Authorization/roleAssignments/{name}", "name": name,
            "type": "microsoft.authorization/roleassignments", "tenantId": tenant, "properties": props}


def eligibility_row(scope: str, role_guid: str, principal: str, *, name: str | None = None,
                    principal_type: str = "User", tenant: str = TENANT, status: str = "Provisioned") -> dict:
    """A PIM-eligible assignment as ARM's roleEligibilityScheduleInstances returns it (tenantId added)."""
    name = name or f"rei-{abs(hash((scope, role_guid, principal))) % 10**8:08d}"
    root = "" if scope == "/" else scope
    return {"id": f"{root}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances/{name}", "name": name,
            "type": "Microsoft.Authorization/roleEligibilityScheduleInstances", "tenantId": tenant,
            "properties": {"roleDefinitionId": f"{root}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}",
                           "principalId": principal, "principalType": principal_type, "scope": scope,
                           "memberType": "Direct", "status": status, "startDateTime": "2026-01-01T00:00:00Z",
                           "endDateTime": None, "condition": None}}


def deny_row(scope: str, *, principals=("00000000-0000-0000-0000-000000000000",), exclude=(), data_actions=(),
             not_data_actions=(), actions=(), not_actions=(), children: bool = True, name: str = "deny1",
             tenant: str = TENANT) -> dict:
    """A deny assignment as ARM's denyAssignments returns it (tenantId added)."""
    root = "" if scope == "/" else scope
    return {"id": f"{root}/providers/Microsoft.Authorization/denyAssignments/{name}", "name": name,
            "type": "Microsoft.Authorization/denyAssignments", "tenantId": tenant,
            "properties": {"denyAssignmentName": name, "description": "", "scope": scope,
                           "permissions": [{"actions": list(actions), "notActions": list(not_actions),
                                            "dataActions": list(data_actions),
                                            "notDataActions": list(not_data_actions)}],
                           "principals": [{"id": p, "type": "SystemDefined" if p.startswith("0000") else "User"}
                                          for p in principals],
                           "excludePrincipals": [{"id": p, "type": "User"} for p in exclude],
                           "doNotApplyToChildScopes": not children, "isSystemProtected": True}}


def role_definition_row(guid: str, name: str, *, actions=(), not_actions=(), data_actions=(), not_data_actions=(),
                        custom: bool = True, scopes=(f"/subscriptions/{SUB}",), key_case: str = "camel") -> dict:
    perm = {"actions": list(actions), "notActions": list(not_actions), "dataActions": list(data_actions),
            "notDataActions": list(not_data_actions)}
    if key_case == "pascal":
        perm = {k[0].upper() + k[1:]: v for k, v in perm.items()}
    return {"id": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}", "name": guid,
            "type": "microsoft.authorization/roledefinitions",
            "properties": {"roleName": name, "type": "CustomRole" if custom else "BuiltInRole", "description": name,
                           "permissions": [perm], "assignableScopes": list(scopes)}}


def builtin_definition_rows(*grants) -> list[dict]:
    """Snapshot rows of the built-in roles the grant rows reference (the tool's own copy, as Resource
    Graph returns them: a real snapshot always has its built-in role definitions), at least Reader."""
    import json
    from importlib import resources

    text = resources.files("audit_function.data").joinpath("builtin_roles.json").read_text(encoding="utf-8")
    known = {str(r["name"]).lower(): r for r in json.loads(text)["roles"]}
    guids = {str((g.get("properties") or {}).get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower()
             for g in grants if isinstance(g, dict)} | {READER}
    return [{"id": known[g]["id"], "name": g, "type": "microsoft.authorization/roledefinitions",
             "properties": {k: known[g][k] for k in ("roleName", "description", "permissions", "assignableScopes")}
             | {"type": "BuiltInRole"}} for g in sorted(guids) if g in known]


def principal_row(object_id: str, kind: str = "user", member_of=()) -> dict:
    return {"id": object_id, "type": kind, "displayName": f"{kind} {object_id}", "userType": "Member",
            "appId": None, "memberOf": list(member_of)}


@dataclass
class RuleRun:
    findings: list[dict]
    not_evaluated: list[dict]
    gaps: list[dict]
    report: dict

    def of(self, rule_id: str) -> list[dict]:
        return [f for f in self.findings if f["ruleId"] == rule_id]


def run_rules(rules, *, vaults=(), assignments=(), definitions=(), subscriptions=None, principals=None,
              thresholds: Thresholds | None = None, severity_overrides=None, eligibilities=None,
              denies=None, resource_groups=None, owner_tags=None, tables=None, gaps=None, manifest=None) -> RuleRun:
    """Load rows through the real snapshot loader and run ``rules`` (modules); return the report parts.

    ``tables``: more snapshot tables (the deeper ones: managed_hsms, vault_objects, ...); ``gaps``: manifest gaps;
    ``manifest``: more manifest fields (``directory``, ``scope``)."""
    extra = tables
    tables = {
        "subscriptions": list(subscriptions if subscriptions is not None else [subscription_row(), subscription_row(SUB2)]),
        # no definitions given: the built-in ones the grants use, as in any real snapshot
        "role_definitions": list(definitions) or builtin_definition_rows(*assignments, *(eligibilities or ())),
        "vaults": list(vaults),
        "role_assignments": list(assignments),
    }
    if principals is not None:
        tables["principals"] = list(principals)
    if eligibilities is not None:
        tables["role_eligibilities"] = list(eligibilities)
    if denies is not None:
        tables["deny_assignments"] = list(denies)
    if resource_groups is not None:
        tables["resource_groups"] = list(resource_groups)
    tables.update({k: list(v) for k, v in (extra or {}).items()})
    extra_manifest = manifest
    manifest = {"format": "kv-audit-snapshot/1", "complete": not gaps, "gaps": list(gaps or ())} if gaps or extra_manifest else None
    if extra_manifest:
        manifest.update(extra_manifest)
    estate = load_estate(RawSnapshot(tables=tables, manifest=manifest))
    tag_names = tuple(owner_tags) if owner_tags is not None else DEFAULT_OWNER_TAGS
    ctx = RuleContext(as_of=AS_OF, thresholds=thresholds or Thresholds(), severity_overrides=severity_overrides or {},
                      groups_expanded=estate.directory_data, principals=estate.principals,
                      owner_tags=tag_names, owners=Owners(estate, tag_names), deleted=deleted_identities(estate))
    rules = tuple(rules)
    evaluation = evaluate(estate, rules, ctx, index=AccessIndex(estate))
    report = build_report(estate, evaluation, [r.META.id for r in rules], run={"id": "test"})
    return RuleRun(report["findings"], report["run"]["notEvaluated"], report["run"]["gaps"], report)


# -- deeper tables (audit_function/estate/deep.py) ---------------------------------------------------------


def hsm_id(name: str = "hsm1", sub: str = SUB, rg: str = "rg-hsm") -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/managedHSMs/{name}"


def hsm_row(name: str = "hsm1", *, sub: str = SUB, rg: str = "rg-hsm", omit=(), **properties) -> dict:
    """A Managed HSM row as Resource Graph returns it (secure defaults, overridden by ``properties``)."""
    props = {"tenantId": TENANT, "initialAdminObjectIds": ["admin-1"], "hsmUri": f"https://{name}.managedhsm.azure.net/",
             "enableSoftDelete": True, "softDeleteRetentionInDays": 90, "enablePurgeProtection": True,
             "publicNetworkAccess": "Disabled", "networkAcls": {"bypass": "AzureServices", "defaultAction": "Deny"},
             "privateEndpointConnections": [], "provisioningState": "Succeeded"}
    props.update(properties)
    for key in omit:
        props.pop(key, None)
    return {"id": hsm_id(name, sub, rg), "name": name, "type": "microsoft.keyvault/managedhsms", "tenantId": TENANT,
            "location": "westeurope", "resourceGroup": rg, "subscriptionId": sub, "tags": {},
            "sku": {"family": "B", "name": "Standard_B1"}, "properties": props}


def key_row(name: str, vault: str = "kv1", *, enabled=True, exp=None, actions=None, sub: str = SUB) -> dict:
    """A vault_objects key row; ``actions`` the rotation policy's lifetime action types (None: no policy)."""
    attrs = {"enabled": enabled, "created": 1700000000, "updated": 1700000000}
    if exp is not None:
        attrs["exp"] = exp
    props = {"attributes": attrs, "kty": "RSA", "keySize": 2048}
    if actions is not None:
        props["rotationPolicy"] = {"attributes": {"expiryTime": "P1Y"}, "lifetimeActions": [
            {"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": a}} for a in actions]}
    return {"id": f"{vault_id(vault, sub)}/keys/{name}", "name": name, "type": "Microsoft.KeyVault/vaults/keys",
            "properties": props}


def secret_row(name: str, vault: str = "kv1", *, enabled=True, exp=None, sub: str = SUB) -> dict:
    attrs = {"enabled": enabled, "created": 1700000000, "updated": 1700000000}
    if exp is not None:
        attrs["exp"] = exp
    return {"id": f"{vault_id(vault, sub)}/secrets/{name}", "name": name, "type": "Microsoft.KeyVault/vaults/secrets",
            "properties": {"attributes": attrs, "contentType": "text/plain"}}


WORKSPACE = f"/subscriptions/{SUB}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law1"


def diagnostic_row(resource: str, name: str = "to-law", *, logs=(("AuditEvent", None, True),),
                   workspace: str | None = WORKSPACE, **destinations) -> dict:
    """A diagnostic_settings row; ``logs`` as (category, categoryGroup, enabled)."""
    props = {"logs": [{"category": c, "categoryGroup": g, "enabled": e, "retentionPolicy": {"enabled": False, "days": 0}}
                      for c, g, e in logs], "metrics": [{"category": "AllMetrics", "enabled": False}],
             "workspaceId": workspace, **destinations}
    return {"id": f"{resource}/providers/microsoft.insights/diagnosticSettings/{name}", "name": name,
            "type": "Microsoft.Insights/diagnosticSettings", "properties": props}


def defender_row(sub: str = SUB, tier: str = "Standard", name: str = "KeyVaults", sub_plan="PerTransaction") -> dict:
    return {"id": f"/subscriptions/{sub}/providers/Microsoft.Security/pricings/{name}", "name": name,
            "type": "microsoft.security/pricings", "subscriptionId": sub, "tenantId": TENANT,
            "properties": {"pricingTier": tier, "subPlan": sub_plan}}


# -- network security perimeters (audit_function/estate/perimeters.py) --------------------------------------

NSP_SUB = "00000000-0000-0000-0000-00000000000c"   # perimeters live in their own (platform) subscription


def perimeter_id(name: str = "nsp1", sub: str = NSP_SUB, rg: str = "rg-nsp") -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/networkSecurityPerimeters/{name}"


def nsp_profile_row(name: str = "default", perimeter: str | None = None) -> dict:
    pid = f"{perimeter or perimeter_id()}/profiles/{name}"
    return {"id": pid, "name": name, "type": "microsoft.network/networksecurityperimeters/profiles",
            "subscriptionId": pid.split("/")[2], "location": "westeurope", "properties": {"accessRulesVersion": 1}}


def nsp_rule_row(name: str, *, profile: str = "default", perimeter: str | None = None, direction="Inbound",
                 prefixes=(), subscriptions=(), perimeters=(), fqdns=(), **properties) -> dict:
    """An access rule row (2024-07-01 shape); ``subscriptions``/``perimeters`` are ids."""
    rid = f"{perimeter or perimeter_id()}/profiles/{profile}/accessRules/{name}"
    props = {"direction": direction, "addressPrefixes": list(prefixes),
             "subscriptions": [{"id": s} for s in subscriptions],
             "networkSecurityPerimeters": [{"id": p} for p in perimeters],
             "fullyQualifiedDomainNames": list(fqdns), "emailAddresses": [], "phoneNumbers": [],
             "provisioningState": "Succeeded", **properties}
    return {"id": rid, "name": name, "type": "microsoft.network/networksecurityperimeters/profiles/accessrules",
            "subscriptionId": rid.split("/")[2], "location": "westeurope", "properties": props}


def nsp_association_row(resource: str, *, name: str = "assoc-kv1", mode: str | None = "Enforced",
                        profile: str = "default", perimeter: str | None = None, **properties) -> dict:
    """A resource association of ``resource`` (a vault or HSM id) with ``profile``; ``mode`` None: no accessMode."""
    nsp = perimeter or perimeter_id()
    props = {"privateLinkResource": {"id": resource}, "profile": {"id": f"{nsp}/profiles/{profile}"},
             "provisioningState": "Succeeded", "hasProvisioningIssues": "no", **properties}
    if mode is not None:
        props["accessMode"] = mode
    return {"id": f"{nsp}/resourceAssociations/{name}", "name": name,
            "type": "microsoft.network/networksecurityperimeters/resourceassociations",
            "subscriptionId": nsp.split("/")[2], "location": "westeurope", "properties": props}
