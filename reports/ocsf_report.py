"""The OCSF writer: one OCSF *Detection Finding* (class 2004) per line (``kv-audit-findings.ocsf.jsonl``).

SIEMs and security data lakes (Security Lake, Sentinel, Splunk, Prowler-style pipelines) read OCSF.
Each line is one event of OCSF schema version :data:`OCSF_VERSION` (named in every event's
``metadata.version``). Mapping (docs/outputs.md):

- ``finding_info.uid`` = the finding's fingerprint (stable across runs), ``finding_info.analytic``
  = the rule;
- ``severity_id``: high 4 (High), medium 3 (Medium), low 2 (Low);
- ``resources``: the finding's subject: the vault, the grant (role assignment or eligible
  assignment), the role definition or the subscription;
- ``activity_id`` / ``status_id`` from week over week: new = Create / New, persisting = Update /
  Other ("Persisting"), suppressed = Suppressed, resolved = Close / Resolved, unverified (an
  incomplete run could not re-check it) = Update / Other ("Unverified");
- ``remediation.desc`` = the concrete command, ``remediation.references`` = the rule's links;
- CIS references of the rule go to ``unmapped.compliance`` (``{standard: [control, ...]}``, the
  layout Prowler uses: the Detection Finding class has no ``compliance`` attribute).

Encoded with orjson, no OCSF library at runtime (py-ocsf-models validates the output in tests).
No file-system or network I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

import orjson

from reports.streaming import StreamingWriter, batched

OCSF_VERSION = "1.5.0"
CLASS_UID = 2004
CATEGORY_UID = 2
SEVERITY_IDS = {"high": (4, "High"), "medium": (3, "Medium"), "low": (2, "Low")}
_ACTIVITY = {1: "Create", 2: "Update", 3: "Close"}
#: week-over-week status -> (activity_id, status_id, status)
_STATUS = {
    "new": (1, 1, "New"),
    "persisting": (2, 99, "Persisting"),
    "unverified": (2, 99, "Unverified"),
    "resolved": (3, 4, "Resolved"),
}
_CIS = re.compile(r"^(CIS\b.*?)\s+(\d+(?:\.\d+)+)\s*$")


def _ms(stamp: str | None) -> int | None:
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def compliance_of(references: Iterable[str]) -> dict[str, list[str]]:
    """CIS references (``"CIS Microsoft Azure Foundations 8.3.6"``) as ``{standard: [control]}``."""
    out: dict[str, list[str]] = {}
    for ref in references:
        match = _CIS.match(str(ref).strip())
        if match:
            out.setdefault(match.group(1), []).append(match.group(2))
    return out


def _rule_meta() -> dict[str, object]:
    from rules import ALL_RULES

    return {rule.META.id: rule.META for rule in ALL_RULES}


def arm_type(resource_id: str | None) -> str | None:
    """``Microsoft.KeyVault/vaults`` from an ARM id (the last provider namespace and its types)."""
    if not resource_id:
        return None
    parts = resource_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    if "providers" not in lowered:
        if lowered[:1] == ["subscriptions"] and len(parts) == 2:
            return "Microsoft.Resources/subscriptions"
        if len(parts) >= 4 and lowered[2] == "resourcegroups":
            return "Microsoft.Resources/resourceGroups"
        return None
    at = len(lowered) - 1 - lowered[::-1].index("providers")
    tail = parts[at + 1:]
    if not tail:
        return None
    types = tail[1::2]
    return "/".join([tail[0], *types]) if types else tail[0]


def _subject(finding: dict) -> str:
    subject = finding.get("subject")
    if subject in ("vault", "roleDefinition", "subscription"):
        return subject
    if subject in ("grant", "assignment"):
        return "grant"
    if finding.get("vaultId"):
        return "vault"
    if finding.get("assignmentId"):
        return "grant"
    if finding.get("roleDefinitionId"):
        return "roleDefinition"
    return "subscription"


def _clean(mapping: dict) -> dict:
    return {k: v for k, v in mapping.items() if v is not None and v != {} and v != []}


class _Mapper:
    def __init__(self, report: dict) -> None:
        run = report.get("run") or {}
        self.run_id = run.get("id")
        self.time = _ms(run.get("startedAt")) or 0
        self.time_dt = run.get("startedAt")
        tool = report.get("tool") or {}
        self.product = {"name": "kv-audit", "vendor_name": "kv-audit", "version": tool.get("version")}
        self.rules = _rule_meta()
        self.vaults = {str(v.get("id") or "").lower(): v for v in (report.get("vaults") or [])}

    def resource(self, finding: dict, subject: str) -> dict:
        vault = self.vaults.get(str(finding.get("vaultId") or "").lower()) or {}
        if subject == "vault" and finding.get("vaultId"):
            uid = finding["vaultId"]
            name = finding.get("vaultName") or vault.get("name")
            data = {"permissionModel": vault.get("permissionModel"), "networkExposure": vault.get("networkExposure"),
                    "tags": vault.get("tags") or None}
        elif subject == "grant" and finding.get("assignmentId"):
            uid, name = finding["assignmentId"], finding["assignmentId"].rsplit("/", 1)[-1]
            data = {"principalId": finding.get("principalId"), "principalType": finding.get("principalType"),
                    "roleDefinitionId": finding.get("roleDefinitionId"), "roleName": finding.get("roleName"),
                    "scope": finding.get("scope")}
        elif subject == "roleDefinition" and finding.get("roleDefinitionId"):
            uid, name = finding["roleDefinitionId"], finding.get("roleName")
            data = {}
        else:
            sub = finding.get("subscriptionId")
            uid = f"/subscriptions/{sub}" if sub else (finding.get("vaultId") or finding.get("assignmentId")
                                                      or finding.get("scope") or "")
            name = sub or finding.get("vaultName")
            data = {}
        data.update(subject=subject, principalName=finding.get("principalName"), owner=finding.get("owner"),
                    affected=finding.get("affected"))
        return _clean({
            "uid": uid, "name": name, "type": arm_type(uid) or ("Microsoft.Resources/subscriptions" if subject == "subscription" else None),
            "region": vault.get("location"), "cloud_partition": None,
            "group": _clean({"name": finding.get("resourceGroup")}) or None,
            "data": _clean(data) or None,
        })

    def affected(self, finding: dict, subject: str) -> list[dict]:
        """The vaults a grant or role definition reaches (evidence ``vaultIds``, capped at 100 there)."""
        evidence = finding.get("evidence")
        ids = evidence.get("vaultIds") if isinstance(evidence, dict) and subject != "vault" else None
        if not isinstance(ids, list):
            return []
        return [_clean({"uid": vid, "name": vid.rsplit("/", 1)[-1], "type": arm_type(vid), "labels": ["affected"],
                        "region": (self.vaults.get(vid.lower()) or {}).get("location")})
                for vid in ids[:100] if isinstance(vid, str) and vid]

    def event(self, finding: dict, status: str | None) -> dict:
        rule_id = finding.get("ruleId") or "unknown"
        meta = self.rules.get(rule_id)
        references = tuple(getattr(meta, "references", ()) or ())
        subject = _subject(finding)
        severity_id, severity = SEVERITY_IDS.get(str(finding.get("severity")), (0, "Unknown"))
        if finding.get("suppressed") and status != "resolved":
            activity_id, status_id, status_name = (_STATUS.get(status, (1, 0, None))[0], 3, "Suppressed")
        else:
            activity_id, status_id, status_name = _STATUS.get(status or "", (1, 0, "Unknown"))
        vault = self.vaults.get(str(finding.get("vaultId") or "").lower()) or {}
        subscription = finding.get("subscriptionId") or vault.get("subscriptionId")
        links = [r for r in references if str(r).startswith("https://")]
        remediation = finding.get("remediation") or getattr(meta, "remediation", None)
        first = _ms(finding.get("firstSeen"))
        last = _ms(finding.get("lastSeen")) if status == "resolved" else self.time
        return _clean({
            "metadata": _clean({
                "version": OCSF_VERSION,
                "product": _clean(self.product),
                "uid": f"{self.run_id}:{finding.get('fingerprint')}" if self.run_id else finding.get("fingerprint"),
                "correlation_uid": self.run_id,
                "event_code": rule_id,
                "profiles": ["cloud"],
                "tenant_uid": vault.get("tenantId"),
            }),
            "category_uid": CATEGORY_UID, "category_name": "Findings",
            "class_uid": CLASS_UID, "class_name": "Detection Finding",
            "activity_id": activity_id, "activity_name": _ACTIVITY[activity_id],
            "type_uid": CLASS_UID * 100 + activity_id,
            "type_name": f"Detection Finding: {_ACTIVITY[activity_id]}",
            "time": self.time, "time_dt": self.time_dt,
            "severity_id": severity_id, "severity": severity,
            "status_id": status_id, "status": status_name,
            "message": finding.get("message") or finding.get("title"),
            "finding_info": _clean({
                "uid": finding.get("fingerprint"),
                "title": finding.get("title") or getattr(meta, "title", rule_id),
                "desc": finding.get("message") or getattr(meta, "rationale", None),
                "types": [rule_id],
                "analytic": _clean({"uid": rule_id, "name": rule_id, "type_id": 1, "type": "Rule",
                                    "desc": getattr(meta, "rationale", None)}),
                "first_seen_time": first, "last_seen_time": last,
                "data_sources": ["Azure Resource Graph"],
            }),
            "resources": [self.resource(finding, subject), *self.affected(finding, subject)],
            "cloud": _clean({
                "provider": "Azure",
                "region": vault.get("location"),
                "account": {"uid": subscription, "name": vault.get("subscriptionName") or subscription,
                            "type_id": 99, "type": "Azure Subscription"} if subscription else None,
                "org": {"uid": vault["tenantId"]} if vault.get("tenantId") else None,
            }),
            "remediation": _clean({"desc": remediation, "references": links}) if remediation else None,
            "unmapped": _clean({
                "compliance": compliance_of(references),
                "references": [r for r in references if r not in links] or None,
                "evidence": finding.get("evidence"),
                "principalId": finding.get("principalId"),
                "principalName": finding.get("principalName"),
                "owner": finding.get("owner"),
                "suppression": finding.get("suppression"),
            }),
        })


def iter_events(report: dict) -> Iterator[dict]:
    """Current findings (with their status), then the resolved and unverified ones."""
    mapper = _Mapper(report)
    for finding in report.get("findings") or ():
        yield mapper.event(finding, finding.get("status"))
    for key in ("resolved", "unverified"):
        entries = report.get(key)
        if isinstance(entries, list):
            for finding in entries:
                yield mapper.event(finding, key)


def iter_lines(report: dict) -> Iterator[bytes]:
    return batched(orjson.dumps(event) + b"\n" for event in iter_events(report))


class OcsfWriter(StreamingWriter):
    name = "ocsf"
    filename = "kv-audit-findings.ocsf.jsonl"

    def chunks(self, report: dict) -> Iterator[bytes]:
        return iter_lines(report)
