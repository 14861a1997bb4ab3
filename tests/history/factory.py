"""Report documents for the week-over-week tests, shaped like the JSON report contract."""

from __future__ import annotations

import hashlib

SUB_A = "11111111-1111-1111-1111-111111111111"
SUB_B = "22222222-2222-2222-2222-222222222222"
SEVERITY_OF = {
    "public-network-open": "high", "purge-protection-disabled": "medium",
    "soft-delete-disabled": "medium", "no-private-endpoint": "low",
    "firewall-allows-any": "high", "broad-data-role": "high", "stranded-access-policy": "high",
}
KNOWN_RULES = set(SEVERITY_OF) | {"access-policy-model", "latent-grant", "migration-gap"}


def vault(name: str, sub: str = SUB_A, rg: str = "rg-app", tags: dict | None = None) -> dict:
    return {
        "id": f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}",
        "name": name, "subscriptionId": sub, "resourceGroup": rg, "tags": tags or {},
    }


def fingerprint(rule: str, place: str, subject: str = "") -> str:
    return hashlib.sha256(f"{rule}|{place.lower()}|{subject}".encode()).hexdigest()[:32]


def finding(rule: str, on: dict | None, *, principal: str | None = None,
            assignment: str | None = None, severity: str | None = None,
            evidence: dict | None = None, sub: str | None = None) -> dict:
    place = on["id"] if on else (assignment or "")
    return {
        "fingerprint": fingerprint(rule, place, principal or ""),
        "ruleId": rule, "severity": severity or SEVERITY_OF.get(rule, "medium"),
        "title": f"{rule.replace('-', ' ').capitalize()}",
        "message": f"{rule} fires on {on['name'] if on else place}",
        "vaultId": on["id"] if on else None, "vaultName": on["name"] if on else None,
        "subscriptionId": on["subscriptionId"] if on else sub,
        "resourceGroup": on["resourceGroup"] if on else None,
        "principalId": principal, "assignmentId": assignment, "roleDefinitionId": None,
        "evidence": evidence or {"rule": rule},
        "remediation": f"az keyvault update --name {on['name'] if on else 'x'}",
    }


def report(run_id: str, started: str, vaults: list[dict], findings: list[dict], *,
           gaps: list[dict] | None = None, not_evaluated: list[dict] | None = None) -> dict:
    by_severity: dict[str, int] = {}
    by_rule: dict[str, int] = {}
    for f in findings:
        by_severity[f["severity"]] = by_severity.get(f["severity"], 0) + 1
        by_rule[f["ruleId"]] = by_rule.get(f["ruleId"], 0) + 1
    return {
        "schemaVersion": "2.0",
        "run": {"id": run_id, "startedAt": started, "finishedAt": started, "source": "snapshot",
                "complete": not gaps, "gaps": gaps or [], "notEvaluated": not_evaluated or []},
        "summary": {"vaults": len(vaults), "findings": len(findings),
                    "bySeverity": by_severity, "byRule": by_rule},
        "vaults": vaults,
        "findings": findings,
    }
