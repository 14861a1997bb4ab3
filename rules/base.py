"""What every rule is made of: metadata, the context it runs in, and what it returns.

A rule is one module with ``META`` (a :class:`RuleMeta`) and a pure ``evaluate`` function:

- ``applies_to="vault"``: ``evaluate(vault, access, ctx)`` runs once per vault whose permission
  model is in ``META.models``; ``access`` is the vault's :class:`~audit_function.access.VaultAccess`;
- ``applies_to="estate"``: ``evaluate(estate, index, ctx)`` runs once (assignment-level rules).

``evaluate`` yields :class:`Finding` and :class:`NotEvaluated` objects. It never reads the clock
(``ctx.as_of`` is the audit's time), the network or the environment.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from audit_function import quoting

SEVERITIES = ("high", "medium", "low")
MODELS = ("rbac", "accessPolicy")


@dataclass(frozen=True)
class RuleMeta:
    id: str
    title: str
    severity: str
    applies_to: str                      # "vault" | "estate"
    subject: str                         # what one finding is about, in words
    rationale: str
    remediation: str                     # a command or step; {placeholders} filled per finding: inside
                                         # `commands` (or a remediation starting "az ") shell-quoted,
                                         # see audit_function.quoting.remediation; pass lists for
                                         # several arguments
    references: tuple[str, ...] = ()
    models: tuple[str, ...] = MODELS     # vault rules: the permission models the rule applies to
    uses_rbac: bool = False              # needs every role definition that reaches the vault
    reads: tuple[str, ...] = ()          # vault properties it reads (an unreadable one: not evaluated)


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


class Finding(dict):
    """One finding, already in its report form (fields: reports/schema/report.schema.json).

    Built by :func:`finding`; a plain dict so a million of them cost one object each.
    """

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class NotEvaluated:
    rule_id: str
    vault_id: str | None
    reason: str
    gap: bool = False           # True when bad input caused it: the run is then incomplete
    scope: str | None = None


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return f"<{key}>"


def fingerprint(rule_id: str, anchor: str, subject: str) -> str:
    """Stable across runs: rule id + lower-cased vault or assignment id + subject key."""
    return hashlib.sha256(f"{rule_id}|{anchor.lower()}|{subject}".encode()).hexdigest()[:32]


def finding(meta: RuleMeta, ctx: RuleContext, *, message: str, subject: str, vault=None, anchor: str | None = None,
            evidence: dict | None = None, severity: str | None = None, principal_id: str | None = None,
            principal_type: str | None = None, assignment=None, role=None, scope: str | None = None,
            **remediation_fields) -> Finding:
    """Build a finding for ``meta``: fingerprint, severity override, title and remediation filled in.

    ``anchor`` (default: the vault id, else the assignment id) and ``subject`` make the fingerprint.
    """
    fields = _Blank(remediation_fields)
    if vault is not None:
        fields.setdefault("vault_name", vault.name)
        fields.setdefault("vault_id", vault.id)
        fields.setdefault("resource_group", vault.resource_group or "<resource-group>")
        fields.setdefault("subscription_id", vault.subscription_id or "<subscription>")
    if principal_id:
        fields.setdefault("principal_id", principal_id)
    if assignment is not None:
        fields.setdefault("assignment_id", assignment.id)
        fields.setdefault("scope", assignment.scope)
    if role is not None:
        fields.setdefault("role_name", role.name)
        fields.setdefault("role_id", role.id)
    anchor = anchor or (vault.id if vault is not None else assignment.id)
    if scope is None and assignment is not None:
        scope = assignment.scope
    return Finding(
        fingerprint=fingerprint(meta.id, anchor, subject),
        ruleId=meta.id,
        severity=ctx.severity_overrides.get(meta.id, severity or meta.severity),
        title=meta.title,
        message=message,
        vaultId=vault.id if vault is not None else None,
        vaultName=vault.name if vault is not None else None,
        subscriptionId=vault.subscription_id if vault is not None else _subscription_of(scope),
        resourceGroup=vault.resource_group if vault is not None else None,
        principalId=principal_id,
        principalType=principal_type,
        assignmentId=assignment.id if assignment is not None else None,
        roleDefinitionId=role.id if role is not None else None,
        roleName=role.name if role is not None else None,
        scope=scope,
        subject=subject,
        evidence=evidence or {},
        remediation=quoting.remediation(meta.remediation, fields),
    )


def _subscription_of(scope: str | None) -> str | None:
    if scope and scope[:15].lower() == "/subscriptions/":
        return scope.split("/")[2]
    return None


def coverage_evidence(entry, access, missing: int, ctx: RuleContext) -> dict:
    """Evidence of an access-policy entry that the principal's vault-level RBAC does not cover."""
    from audit_function import permissions as perms

    return {
        "policyEntry": entry.evidence(),
        "missingDataActions": perms.names(missing),
        "missingDataActionsInWords": perms.describe(missing),
        "rbacDataActions": perms.names(access.rbac_data(entry.object_key)),
        "partiallyCoveredBy": [g.evidence() for g in access.rbac_grants(entry.object_key)],
        "objectScopedGrants": [g.evidence() for g in access.rbac_grants(entry.object_key, objects=True)],
        "groups": groups_note(ctx),
    }


def groups_note(ctx: RuleContext) -> str:
    """Evidence note on group expansion (rules match object ids directly without directory data)."""
    return ("group memberships expanded from directory data" if ctx.groups_expanded
            else "group memberships not expanded (no directory data in the snapshot): "
                 "access a principal has only through a group is not counted")
