"""What tickets a report calls for: one per open finding, per vault, per rule or per owner.

A ticket is identified by a *key* that is stable across runs: the finding's fingerprint
(``--group-by finding``), ``vault-<hash of the lower-cased vault id>`` (``--group-by vault``;
findings without a vault, such as broad role assignments, keep a ticket of their own),
``rule-<hash of the rule id>`` (``--group-by rule``) or ``owner-<hash of the lower-cased owner>``
(``--group-by owner``; findings without an owner share the ticket ``owner-none``). Sinks record
the key on the ticket, so a re-run finds and updates the ticket instead of opening a second one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from audit_function.vocabulary import SEVERITY_RANK  # noqa: E402
GROUP_BY = ("finding", "vault", "rule", "owner")
#: key prefix of each grouping's tickets (finding keys have none)
PREFIXES = {"vault": "vault-", "rule": "rule-", "owner": "owner-"}
NO_OWNER_KEY = "owner-none"
_SAFE_KEY = re.compile(r"[A-Za-z0-9._-]{1,80}")


@dataclass(frozen=True)
class Ticket:
    """One ticket the tracker should have open."""

    key: str
    severity: str                 # the highest severity among its findings
    findings: tuple[dict, ...]    # open, unsuppressed findings, report order
    vault_id: str | None = None   # set for vault tickets
    vault_name: str | None = None
    suppressed_count: int = 0     # suppressed findings of the same group (vault, rule, owner tickets)
    rule_id: str | None = None    # set for rule tickets
    owner: str | None = None      # the one owner all its findings share (None: none, or several)

    @property
    def group(self) -> str:
        """``finding``, ``vault``, ``rule`` or ``owner``: what the ticket stands for."""
        return group_of_key(self.key)

    @property
    def is_vault(self) -> bool:
        return self.group == "vault"


@dataclass(frozen=True)
class TicketPlan:
    """Everything the sync needs to know about a report, per key."""

    group_by: str
    open: tuple[Ticket, ...]
    suppressed: dict = field(default_factory=dict)   # key -> [suppressed findings]
    resolved: dict = field(default_factory=dict)     # key -> [report["resolved"] entries]
    unverified: frozenset = frozenset()              # keys whose findings were not checked
    ignored: frozenset = frozenset()                 # keys below minSeverity: left alone
    run_id: str | None = None
    run_started: str | None = None
    complete: bool = True

    def owns(self, key: str) -> bool:
        """True when a ticket with this key belongs to this grouping (closable when stale)."""
        return group_of_key(key) == self.group_by


def group_of_key(key: str) -> str:
    for group, prefix in PREFIXES.items():
        if key.startswith(prefix):
            return group
    return "finding"


def finding_key(fingerprint: str) -> str:
    """The fingerprint (lower-cased: Azure DevOps tags ignore case) when it is short and plain,
    else a hash of it, so the key is safe in a tag, a label and an HTML comment."""
    fingerprint = str(fingerprint)
    if _SAFE_KEY.fullmatch(fingerprint) and not fingerprint.lower().startswith(("fp-", *PREFIXES.values())):
        return fingerprint.lower()
    return "fp-" + hashlib.sha256(fingerprint.encode("utf-8")).hexdigest()[:32]


def vault_key(vault_id: str) -> str:
    return "vault-" + hashlib.sha256(vault_id.lower().encode("utf-8")).hexdigest()[:24]


def rule_key(rule_id: str) -> str:
    return "rule-" + hashlib.sha256(str(rule_id).encode("utf-8")).hexdigest()[:24]


def owner_of(finding: dict) -> str | None:
    owner = finding.get("owner")
    return owner.strip() if isinstance(owner, str) and owner.strip() else None


def owner_key(owner: str | None) -> str:
    """One key per owner, whatever its case or surrounding spaces; ``owner-none`` without one."""
    if owner is None or not str(owner).strip():
        return NO_OWNER_KEY
    return "owner-" + hashlib.sha256(" ".join(str(owner).split()).lower().encode("utf-8")).hexdigest()[:24]


def key_of(finding: dict, group_by: str) -> str:
    if group_by == "vault" and finding.get("vaultId"):
        return vault_key(str(finding["vaultId"]))
    if group_by == "rule" and finding.get("ruleId"):
        return rule_key(str(finding["ruleId"]))
    if group_by == "owner":
        return owner_key(owner_of(finding))
    return finding_key(finding.get("fingerprint") or "")


def plan_tickets(report: dict, group_by: str = "finding", min_severity: str = "low") -> TicketPlan:
    """Group the report's findings into the tickets it calls for."""
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BY)}, not {group_by!r}")
    floor = SEVERITY_RANK[min_severity]
    open_groups: dict[str, list[dict]] = {}
    suppressed: dict[str, list[dict]] = {}
    ignored: set[str] = set()
    for finding in report.get("findings", []):
        key = key_of(finding, group_by)
        if SEVERITY_RANK.get(finding.get("severity"), 0) > floor:
            ignored.add(key)
        elif finding.get("suppressed"):
            suppressed.setdefault(key, []).append(finding)
        else:
            open_groups.setdefault(key, []).append(finding)

    tickets = []
    for key, findings in open_groups.items():
        severity = min((f.get("severity") for f in findings), key=lambda s: SEVERITY_RANK.get(s, 0))
        first = findings[0]
        group = group_of_key(key)
        owners: dict = {}
        for f in findings:   # one owner, as the first finding spells it
            owners.setdefault(owner_key(owner_of(f)), owner_of(f))
        tickets.append(Ticket(
            key=key, severity=severity, findings=tuple(findings),
            vault_id=first.get("vaultId") if group == "vault" else None,
            vault_name=first.get("vaultName") if group == "vault" else None,
            suppressed_count=len(suppressed.get(key, ())) if group != "finding" else 0,
            rule_id=first.get("ruleId") if group == "rule" else None,
            owner=next(iter(owners.values())) if len(owners) == 1 else None,
        ))
    tickets.sort(key=lambda t: (SEVERITY_RANK.get(t.severity, 0), t.key))

    unverified = {key_of(f, group_by) for f in report.get("unverified") or []}
    taken = set(open_groups) | set(suppressed) | ignored | unverified
    suppressed = {k: v for k, v in suppressed.items() if k not in open_groups}
    resolved: dict[str, list[dict]] = {}
    for entry in report.get("resolved") or []:
        key = key_of(entry, group_by)
        if key not in taken:
            resolved.setdefault(key, []).append(entry)

    run = report.get("run") or {}
    return TicketPlan(
        group_by=group_by, open=tuple(tickets), suppressed=suppressed, resolved=resolved,
        unverified=frozenset(unverified - set(open_groups)),
        ignored=frozenset(ignored - set(open_groups)),
        run_id=run.get("id"), run_started=run.get("startedAt"),
        complete=bool(run.get("complete", True)) and not run.get("gaps"),
    )
