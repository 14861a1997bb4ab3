"""The words every stage shares: severities, rule metadata and context, findings, gaps, the result.

Rules, the engine, the report, the writers and the sinks all import these from here (and from
nowhere else), so no stage needs to import a later one to speak about what flows between them:

- :data:`SEVERITIES` / :data:`SEVERITY_RANK`: the severities, most severe first (defined once);
- :class:`RuleMeta`, :class:`Thresholds`, :class:`RuleContext`: what a rule is and what it runs in;
- :class:`Finding`, :class:`NotEvaluated`: what a rule yields;
- :class:`Gap`: something the run could not see (the report lists it; the run is incomplete);
- :class:`AuditResult`, :class:`StreamedFile`: what the audit hands to the writers, and what the
  writers hand to the sinks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

#: a finding's severity; the tuple is the order of the report (most severe first)
Severity = Literal["high", "medium", "low"]
SEVERITIES: tuple[str, ...] = ("high", "medium", "low")
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}

#: the permission models a vault enforces
MODELS = ("rbac", "accessPolicy")
#: what one finding is keyed by (catalog 2: the cause a person fixes)
SUBJECTS = ("vault", "grant", "roleDefinition", "subscription")
#: owner tag names looked up on the vault, its resource group, its subscription, in order (report 2)
OWNER_TAGS = ("owner", "Owner", "technicalContact")


def tag_owner(tags, names: tuple[str, ...]) -> str | None:
    """The value of the first of ``names`` that is a non-blank string in ``tags``."""
    if not isinstance(tags, dict) or not tags:
        return None
    for name in names:
        value = tags.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


@dataclass(frozen=True)
class RuleMeta:
    id: str
    title: str
    severity: str
    applies_to: str                      # "vault" | "estate"
    subject: str                         # one of SUBJECTS: what one finding is keyed by
    rationale: str
    remediation: str                     # a command or step; {placeholders} filled per finding: inside
                                         # `commands` (or a remediation starting "az ") shell-quoted,
                                         # see audit_function.quoting.remediation; pass lists for
                                         # several arguments
    references: tuple[str, ...] = ()
    models: tuple[str, ...] = MODELS     # vault rules: the permission models the rule applies to
    uses_rbac: bool = False              # needs every grant and role definition that reaches the vault
    reads: tuple[str, ...] = ()          # vault properties it reads (an unreadable one: not evaluated)
    requires: tuple[str, ...] = ()       # vault attributes that must be true for the rule to apply at all
    resource_types: tuple[str, ...] = ("vault",)   # vault rules: "vault" and/or "managedHsm" (Managed HSM pools)
    tables: tuple[str, ...] = ()         # optional snapshot tables it needs (not collected: not evaluated)


@dataclass(frozen=True)
class Thresholds:
    firewall_min_prefix_v4: int = 8
    firewall_min_prefix_v6: int = 32


@dataclass(frozen=True)
class RuleContext:
    as_of: datetime
    thresholds: Thresholds = field(default_factory=Thresholds)
    severity_overrides: dict = field(default_factory=dict)
    groups_expanded: bool = False
    principals: dict | None = None       # lower-cased object id -> Principal (directory data), None without
    owner_tags: tuple[str, ...] = OWNER_TAGS
    owners: object | None = None         # estate.owners.Owners for the estate (vault -> RG -> subscription)
    deleted: frozenset = frozenset()     # lower-cased object ids the directory no longer holds (estate.directory)

    def who(self, object_id: str | None) -> dict:
        """Name, type and user type of a principal (``None`` each without directory data)."""
        p = self.principals.get(object_id.lower()) if object_id and self.principals else None
        if p is None:
            return {"principalName": None, "principalType": None, "userType": None}
        return {"principalName": p.display_name, "principalType": p.type, "userType": p.user_type}

    def deleted_flag(self, object_id: str | None) -> dict:
        """``{"deletedIdentity": True}`` for an object id the directory no longer holds, else ``{}``."""
        return {"deletedIdentity": True} if object_id and self.deleted and object_id.lower() in self.deleted else {}

    def named(self, object_id: str | None, fallback: str | None = None) -> str:
        """``name (object id)`` for messages when the directory (or a Lighthouse delegation) names it."""
        name = self.who(object_id)["principalName"] or fallback
        if name:
            return f"{name} ({object_id})"
        return f"{object_id} (a deleted identity)" if self.deleted_flag(object_id) else str(object_id)

    def owner(self, vault) -> str | None:
        """The vault's owner tag, else its resource group's, else its subscription's (``owners``);
        without a resolver only the vault's own tags are read."""
        if vault is None:
            return None
        if self.owners is not None:
            return self.owners.of_vault(vault)
        return tag_owner(getattr(vault, "tags", None), self.owner_tags)

    def owner_of_scope(self, scope: str | None) -> str | None:
        """Owner of a grant's scope when it is a vault, resource group or subscription of the estate."""
        return self.owners.of_scope(scope) if self.owners is not None and scope else None

    def owner_of_role(self, role, grant_scopes=()) -> str | None:
        """Owner of a role definition: of the scope it is defined at, else the one its grants share."""
        return self.owners.of_role(role, grant_scopes) if self.owners is not None and role is not None else None


class Finding(dict):
    """One finding, already in its report form (fields: reports/schema/report.schema.json).

    Built by :func:`rules.base.finding`; a plain dict so a million of them cost one object each.
    """

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class NotEvaluated:
    rule_id: str
    vault_id: str | None
    reason: str
    gap: bool = False           # True when bad input caused it: the run is then incomplete
    scope: str | None = None


@dataclass
class Gap:
    """Something the run could not see: where (``scope``), in which table, why; file/line for a row."""

    scope: str
    table: str | None
    reason: str
    file: str | None = None
    line: int | None = None

    def as_dict(self) -> dict:
        out = {"scope": self.scope, "table": self.table, "reason": self.reason}
        if self.file:
            out["file"] = self.file
        if self.line is not None:
            out["line"] = self.line
        return out


@dataclass(frozen=True)
class AuditResult:
    """The report document plus the per-vault access rows (which are not part of the JSON)."""

    report: dict
    access: Iterable[dict] = field(default=())   # a tuple, or the engine's spool (iterable, sized)
    progress: Callable[..., None] | None = field(default=None, compare=False)   # writers report rows written


class StreamedFile:
    """A rendered file produced chunk by chunk, on demand and as often as asked.

    A report of a million findings is gigabytes of JSON: streamed, it goes from the writer to the
    sink's temporary file without ever being held in memory whole.
    """

    def __init__(self, produce: Callable[[], Iterator[bytes]]) -> None:
        self._produce = produce

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._produce())

    def read_all(self) -> bytes:
        return b"".join(self)


def as_bytes(payload: bytes | StreamedFile) -> bytes:
    return payload.read_all() if isinstance(payload, StreamedFile) else bytes(payload)


def as_chunks(payload: bytes | StreamedFile) -> Iterator[bytes]:
    if isinstance(payload, StreamedFile):
        yield from payload
    else:
        yield bytes(payload)
