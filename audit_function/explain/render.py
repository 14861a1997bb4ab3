"""The answer as a JSON document and as plain text (the same facts, in the six parts of issue 15)."""

from __future__ import annotations

import json

from audit_function import permissions as perms

REASON_WORDS = {
    "authorizes": "a grant in the model in force allows it",
    "propagation": "the grant that allows it is newer than the RBAC propagation window",
    "wrong-model": "the only grant for it is in the permission model the vault does not enforce",
    "no-grant": "no grant in either model gives this principal this action",
    "action-not-granted": "the principal's grants do not include this action",
    "control-plane-only": "the principal's roles are control-plane roles that grant no data action",
    "scope-elsewhere": "the grant that would allow it is at another scope that does not contain this vault",
    "object-scoped-other": "the grant is scoped to another object in this vault",
    "not-data-actions": "the role excludes this action in notDataActions",
    "eligible-not-activated": "the role is eligible through PIM but not activated",
    "deny-assignment": "a deny assignment denies this action",
    "group-not-expanded": "a group holds the grant, and membership is unknown without directory data",
    "cross-tenant-entry": "the access-policy entry names another tenant",
    "compound-entry": "the access-policy entry is a compound identity (only through one application)",
    "principal-not-found": "the caller is not in the directory data and holds no grant",
    "unknown-role": "a role definition the grant uses is not in the data",
    "unknown-ancestry": "the subscription's management groups are unknown",
    "object-not-named": "an object-scoped grant may cover it, but the request does not name the object",
    "firewall": "the vault firewall does not allow the source address",
    "public-access-disabled": "public network access is disabled",
    "perimeter": "a network security perimeter decides, and its rules are not in the data",
    "private-endpoint": "only an approved private endpoint's network can reach the vault",
    "reached-authorization": "the request passed the network check",
    "public-access": "public access with default action Allow",
    "ip-rule": "an IP rule allows the source",
    "unknown-source": "the source address is unknown",
}

MODEL_WORDS = {
    "rbac": "Azure RBAC (enableRbacAuthorization is true): only role assignments count; access policies are ignored",
    "accessPolicy": "access policies (enableRbacAuthorization is {setting}): only access-policy entries count; "
                    "Key Vault data roles have no effect here",
}


def document(request, vault, caller, decision, network, fix, warnings, verdict, reason, as_of, window,
             exit_code, source_kind, estate) -> dict:
    action = request.action
    setting = vault.rbac_setting
    return {
        "verdict": verdict,
        "reason": reason,
        "summary": REASON_WORDS.get(reason, reason),
        "exitCode": exit_code,
        "source": source_kind,
        "asOf": as_of.isoformat().replace("+00:00", "Z"),
        "request": {"form": request.form, "innerCode": request.inner_code, "vault": vault.name, "vaultId": vault.id,
                    "object": decision.object_key[len(vault.key):] if decision and decision.object_key else None,
                    "action": action.text if action else None, "dataActions": list(action.names) if action else [],
                    "fromIp": request.client_ip},
        "who": {"objectId": caller.object_id, "appId": caller.app_id, "name": caller.name, "type": caller.type,
                "inDirectory": caller.principal is not None, "directoryData": estate.directory_data,
                "groups": list(caller.principal.member_of) if caller.principal else [],
                "tokenTenant": request.token_tenant, "vaultTenant": vault.tenant_id, "warnings": warnings},
        "model": {"inForce": vault.model, "enableRbacAuthorization": setting,
                  "meaning": MODEL_WORDS[vault.model].format(setting=json.dumps(setting))},
        "grants": [_named(j.as_dict(), estate) for j in decision.grants] if decision else [],
        "identity": decision.identity if decision else "not-evaluated",
        "network": network,
        "recentChanges": decision.recent if decision else [],
        "propagationWindow": window,
        "fix": fix,
    }


def _named(grant: dict, estate) -> dict:
    row = estate.principal(grant["principalId"])
    grant["principalName"] = row.display_name if row else None
    return grant


def text(doc: dict) -> str:
    r, who, model = doc["request"], doc["who"], doc["model"]
    lines = [f"kv-audit explain: {doc['verdict'].upper()}: {doc['summary']} [{doc['reason']}]"]
    what = r["action"] or "(network only)"
    if r["dataActions"]:
        what += f" = {', '.join(a.replace('Microsoft.KeyVault/vaults/', '') for a in r['dataActions'])}"
    lines.append(f"  request: {what} on {r['vault']}{r['object'] or ''} ({r['form']}"
                 + (f", {r['innerCode']}" if r["innerCode"] else "") + ")")
    lines.append("")
    name = f"{who['name']} ({who['type']})" if who["name"] else "not in the directory data" if who["directoryData"] \
        else "no directory data"
    lines.append(f"1. Who: {who['objectId']}" + (f", app id {who['appId']}" if who["appId"] else "") + f": {name}")
    for w in who["warnings"]:
        lines.append(f"   ! {w}")
    lines.append(f"2. Model in force: {model['meaning']}")
    lines.append(f"3. Grants ({len(doc['grants'])}):" if doc["grants"] else "3. Grants: none in either model")
    for g in doc["grants"]:
        mark = {True: "+", False: "-", None: "?"}[g["authorizes"]]
        if g["kind"] == "accessPolicy":
            head = f"access-policy entry #{g['entryIndex']} ({g['permissions']})"
        else:
            head = f"{g['kind']} {g['roleName'] or '(unknown role)'} at {g['scopeLevel']} {g['scope']}"
        via = f" via group {g['principalName'] or g['principalId']}" if g["viaGroup"] else ""
        lines.append(f"   {mark} [{g['model']}] {head}{via}")
        lines.append(f"       {g['reason']}: {g['detail']}")
    net = doc["network"]
    lines.append(f"4. Network: {net['verdict']}: {net['detail']}")
    window = doc["propagationWindow"]
    if doc["recentChanges"]:
        lines.append(f"5. Recent changes (within {window['minutes']} minutes of {doc['asOf']}):")
        for c in doc["recentChanges"]:
            lines.append(f"   {c['roleName']} created {c['createdOn']} ({c['minutesAgo']} min before): wait and retry")
    else:
        lines.append(f"5. Recent changes: no role assignment within the {window['minutes']}-minute propagation window "
                     f"before {doc['asOf']} ({window['source']})")
    fix = doc["fix"]
    if fix["commands"] or fix["notes"]:
        lines.append(f"6. Fix (in the model the vault enforces: {fix['model']}):")
        for note in fix["notes"]:
            lines.append(f"   {note}")
        for cmd in fix["commands"]:
            lines.append(f"   $ {cmd}")
        alt = fix.get("alternative")
        if alt:
            lines.append(f"   alternative: {alt['note']}")
            if alt["command"]:
                lines.append(f"   $ {alt['command']}")
    else:
        lines.append("6. Fix: nothing to change")
    return "\n".join(lines) + "\n"


__all__ = ["document", "text", "perms"]
