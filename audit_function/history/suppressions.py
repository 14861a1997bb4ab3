"""Suppressions: accepted findings, silenced for a while, with a reason and an owner.

A suppressed finding stays in the report (``suppressed: true`` plus the suppression that
matched), so the audit trail is kept and a consumer can still count it. A suppression stops
applying the day after its ``expires`` date; the report then lists it under
``report["suppressions"]["expired"]`` so the owner can renew or drop it. A suppression that
matched nothing is listed under ``"unused"`` (stale configuration hides future findings).

``as_of`` always comes from the caller: this module never reads the clock.
"""

from __future__ import annotations

import copy

from collections import Counter
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase

from audit_function.vocabulary import SEVERITIES  # noqa: E402


@dataclass(frozen=True)
class Suppression:
    """One entry of the configuration file's ``suppressions`` list.

    Every criterion that is set must match (AND). Patterns are fnmatch-style and
    case-insensitive; ``*`` matches any run of characters, including ``/``.
    """

    rule_id: str                      # a rule id, or "*" for every rule
    justification: str
    owner: str
    expires: date                     # last day on which the suppression applies
    vault: str | None = None          # pattern: vault name or vault id
    subscription: str | None = None   # pattern: subscription id (or the vault's subscriptionName)
    resource_group: str | None = None  # pattern: resource group name
    tag: tuple[tuple[str, str], ...] = ()  # (key, value pattern): the vault's tags
    principal_id: str | None = None   # object id, compared case-insensitively
    assignment_id: str | None = None  # grant findings: the grant's id, compared case-insensitively
    fingerprint: str | None = None    # one finding exactly (a catalog-1 fingerprint matches nothing: unused)
    id: str | None = None             # optional name given in the file
    index: int = 0                    # position in the file's list (0-based)
    line: int | None = None           # line in the file, for messages

    @property
    def ref(self) -> str:
        """How reports and messages name this suppression."""
        return self.id or f"suppressions[{self.index}]"

    def is_expired(self, as_of: date) -> bool:
        return as_of > self.expires

    def matches(self, finding: dict, vault: dict | None) -> bool:
        """True when every criterion set on this suppression holds for the finding."""
        if self.rule_id != "*" and self.rule_id != finding.get("ruleId"):
            return False
        vault = vault or {}
        if self.vault is not None:
            names = (finding.get("vaultName"), vault.get("name"), finding.get("vaultId"))
            if not any(_like(value, self.vault) for value in names):
                return False
        if self.subscription is not None:
            subs = (finding.get("subscriptionId") or vault.get("subscriptionId"),
                    vault.get("subscriptionName"))
            if not any(_like(value, self.subscription) for value in subs):
                return False
        if self.resource_group is not None:
            group = finding.get("resourceGroup") or vault.get("resourceGroup")
            if not _like(group, self.resource_group):
                return False
        if self.tag:
            tags = {str(k).lower(): v for k, v in (vault.get("tags") or {}).items()}
            for key, pattern in self.tag:
                if key.lower() not in tags or not _like(tags[key.lower()], pattern):
                    return False
        if self.principal_id is not None:
            principal = finding.get("principalId")
            if not principal or principal.lower() != self.principal_id.lower():
                return False
        if self.assignment_id is not None:
            grant = finding.get("assignmentId")
            if not grant or grant.lower() != self.assignment_id.lower():
                return False
        if self.fingerprint is not None and finding.get("fingerprint") != self.fingerprint.lower():
            return False
        return True

    def describe(self) -> dict:
        """The JSON shape written into findings and into ``report["suppressions"]``."""
        return {
            "id": self.ref,
            "index": self.index,
            "ruleId": self.rule_id,
            "justification": self.justification,
            "owner": self.owner,
            "expires": self.expires.isoformat(),
        }


def _like(value: object, pattern: str) -> bool:
    if value is None:
        return False
    return fnmatchcase(str(value).lower(), pattern.lower())


class Suppressor:
    """Applies suppressions one finding at a time (as the engine produces them), then summarizes.

    ``vaults``: lower-cased vault id -> vault fields (``name``, ``subscriptionId``,
    ``subscriptionName``, ``resourceGroup``, ``tags``). The first active suppression in file
    order that matches a finding wins.
    """

    def __init__(self, config_suppressions, vaults: dict[str, dict], as_of: date) -> None:
        suppressions = tuple(config_suppressions or ())
        self.as_of = as_of
        self.vaults = vaults
        self.active = [s for s in suppressions if not s.is_expired(as_of)]
        self.expired = [s for s in suppressions if s.is_expired(as_of)]
        self.used: Counter[int] = Counter()
        self.would_match: Counter[int] = Counter()
        self.suppressed = 0
        self.open_by_severity = {severity: 0 for severity in SEVERITIES}
        self.first_open: dict[str, list[dict]] = {}   # severity -> the first few unsuppressed

    def mark(self, finding: dict) -> dict:
        """``suppressed`` and ``suppression`` of ``finding`` (the store keeps them)."""
        if self.active or self.expired:
            vault = self.vaults.get(str(finding.get("vaultId") or "").lower())
            hit = next((s for s in self.active if s.matches(finding, vault)), None)
        else:
            vault = hit = None
        for s in self.expired:
            if s.matches(finding, vault):
                self.would_match[s.index] += 1
        if hit is None:
            severity = finding.get("severity")
            self.open_by_severity[severity] = self.open_by_severity.get(severity, 0) + 1
            first = self.first_open.setdefault(severity, [])
            if len(first) < FIRST_OPEN:
                first.append(_brief(finding))
            return {"suppressed": False, "suppression": None}
        self.used[hit.index] += 1
        self.suppressed += 1
        return {"suppressed": True, "suppression": hit.describe()}

    def branch(self) -> Suppressor:
        """A copy that counts from nothing, for a part evaluated beside this one in the same process
        (parallel.py); :meth:`merge` of its :meth:`state` adds it back, as a worker's would."""
        other = copy.copy(self)
        other.used, other.would_match, other.suppressed = Counter(), Counter(), 0
        other.open_by_severity = {severity: 0 for severity in SEVERITIES}
        other.first_open = {}
        return other

    def state(self, path: str | None = None) -> dict:
        """What :meth:`mark` counted (a worker process hands it to the parent; ``path`` unused)."""
        return {"used": self.used, "would_match": self.would_match, "suppressed": self.suppressed,
                "open_by_severity": self.open_by_severity, "first_open": self.first_open}

    def merge(self, state: dict) -> None:
        self.used.update(state["used"])
        self.would_match.update(state["would_match"])
        self.suppressed += state["suppressed"]
        for severity, n in state["open_by_severity"].items():
            self.open_by_severity[severity] = self.open_by_severity.get(severity, 0) + n
        for severity, briefs in (state.get("first_open") or {}).items():
            mine = self.first_open.setdefault(severity, [])
            mine.extend(briefs[:max(0, FIRST_OPEN - len(mine))])

    def section(self) -> dict:
        """The report's ``suppressions`` section."""
        return {
            "asOf": self.as_of.isoformat(),
            "active": [dict(s.describe(), matched=self.used[s.index]) for s in self.active],
            "expired": [dict(s.describe(), wouldMatch=self.would_match[s.index]) for s in self.expired],
            "unused": [s.describe() for s in self.active if self.used[s.index] == 0],
        }

    def summary(self) -> dict:
        """The summary's ``suppressed`` and ``bySeverityUnsuppressed`` counts."""
        return {"suppressed": self.suppressed, "bySeverityUnsuppressed": dict(self.open_by_severity)}

    def open_at_or_above(self, severity: str) -> tuple[int, list[dict]]:
        """How many unsuppressed findings are at or above ``severity``, and the first few of them
        (in the order the engine produced them; brief fields)."""
        limit = SEVERITIES.index(severity)
        wanted = set(SEVERITIES[:limit + 1])
        count = sum(n for s, n in self.open_by_severity.items() if s in wanted)
        return count, [f for s in SEVERITIES[:limit + 1] for f in self.first_open.get(s, ())]


#: unsuppressed findings remembered per severity for the terminal (``--fail-on`` names the first few)
FIRST_OPEN = 5
_BRIEF = ("fingerprint", "ruleId", "severity", "subject", "vaultId", "vaultName", "principalId", "principalName",
          "roleName", "assignmentId", "subscriptionId", "scope")


def _brief(finding: dict) -> dict:
    return {k: finding.get(k) for k in _BRIEF if finding.get(k) is not None}


def apply_suppressions(report: dict, config_suppressions, as_of: date) -> None:
    """Mark each finding suppressed or not, and record expired and unused suppressions.

    For an in-memory document (tests, other tools); a run's report gets these sections from
    :func:`audit_function.report.document.build_report`. Mutates ``report``: every finding gets ``suppressed`` and ``suppression`` (``None`` when not
    suppressed); ``report["suppressions"]`` gets ``asOf``, ``active``, ``expired`` and ``unused``;
    the summary gains ``suppressed`` and ``bySeverityUnsuppressed``.
    """
    vaults = {str(v["id"]).lower(): v for v in report.get("vaults", []) if v.get("id")}
    suppressor = Suppressor(config_suppressions, vaults, as_of)
    for finding in report.get("findings", []):
        finding.update(suppressor.mark(finding))
    report["suppressions"] = suppressor.section()
    report.setdefault("summary", {}).update(suppressor.summary())
