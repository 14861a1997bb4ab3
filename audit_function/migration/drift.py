"""Planned versus live: what ``kv-audit migrate`` checks before it acts on a vault (pure functions).

A plan (one ``kv-audit plan`` vault element) was made from a snapshot that may be weeks old. Before a
vault's assignments are created and again before it is flipped, the vault and the role assignments that
apply at it are re-read from Azure Resource Manager (:mod:`audit_function.migration.live_arm`) and
compared here. Any difference stops that vault, named:

- ``already RBAC``: the vault enforces Azure RBAC already: nothing to do (``done``, not drift);
- a new access-policy entry (an identity the plan does not know: it would be cut off by the flip);
- an entry changed (same identity, other permissions: the planned roles may no longer cover it);
- an entry removed (the plan's roles were computed for an entry that is gone: re-plan first);
- an assignment the plan relies on is gone (an existing assignment that covers an entry today);
- a planned assignment missing (before the flip: one the migration created is not listed).

Access-policy entries are matched by identity (tenant, object id, application id; case-insensitive) and
compared by permissions (per category, as a case-insensitive set; ``all`` is compared literally: a change
from a list to ``all`` is a change).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field

#: namespace of the deterministic role-assignment names (uuid5 of scope, principal and role)
ASSIGNMENT_NAMESPACE = uuid.UUID("3c0d8f52-2a57-5a4e-9d1b-7e3f6a0c5b19")
CATEGORIES = ("keys", "secrets", "certificates", "storage")


@dataclass(frozen=True)
class PlannedAssignment:
    """One role assignment the plan creates at the vault."""

    scope: str                  # the vault id
    principal_id: str
    principal_type: str | None  # User | Group | ServicePrincipal (None: let ARM look it up)
    role_guid: str
    role_name: str
    entry: int
    custom_scope: str | None = None   # a custom role: its assignable scope (resolved there by name)

    @property
    def name(self) -> str:
        """Deterministic assignment name: a re-run PUTs the same resource (idempotent)."""
        return assignment_name(self.scope, self.principal_id, self.role_guid)

    def role_definition_id(self, subscription_id: str) -> str:
        return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{self.role_guid}"


@dataclass
class LiveVault:
    """What ARM says now: ``rbac`` (enableRbacAuthorization), access policies (ARM JSON entries) and the
    role assignments at or above the vault (``{"id", "principalId", "roleDefinitionId", "scope"}``)."""

    rbac: bool | None
    policies: list[dict] = field(default_factory=list)
    assignments: list[dict] = field(default_factory=list)


@dataclass
class Comparison:
    done: bool                  # the vault already enforces RBAC
    problems: list[str]         # drift, each naming what differs

    @property
    def drift(self) -> bool:
        return bool(self.problems)


def assignment_name(scope: str, principal_id: str, role_guid: str) -> str:
    key = f"{scope.strip().lower().rstrip('/')}|{principal_id.strip().lower()}|{role_guid.strip().lower()}"
    return str(uuid.uuid5(ASSIGNMENT_NAMESPACE, key))


def role_guid(role_id: str) -> str:
    return str(role_id).rstrip("/").rsplit("/", 1)[-1].lower()


def planned_assignments(plan: dict) -> list[PlannedAssignment]:
    """The assignments the plan proposes at the vault, one per (principal, role), in entry order."""
    out: dict[tuple[str, str], PlannedAssignment] = {}
    for entry in plan.get("entries") or []:
        if entry.get("blockedBy"):
            continue
        for role in entry.get("proposedRoles") or []:
            guid = role_guid(role["id"])
            key = (str(entry["principalId"]).lower(), guid)
            scopes = (entry.get("customRole") or {}).get("assignableScopes") or [] if role.get("custom") else []
            out.setdefault(key, PlannedAssignment(plan["vaultId"], entry["principalId"], entry.get("principalType"),
                                                  guid, role.get("name") or guid, entry["index"],
                                                  scopes[0] if scopes else None))
    return list(out.values())


def identity(entry: dict) -> tuple[str, str, str]:
    """(tenant, object id, application id), lower-cased: what makes two access-policy entries the same."""
    return (str(entry.get("tenantId") or "").lower(), str(entry.get("objectId") or entry.get("principalId") or "")
            .lower(), str(entry.get("applicationId") or "").lower())


def permissions(entry: dict) -> tuple:
    """The entry's permissions as a comparable value: per category, the sorted lower-cased names."""
    perms = entry.get("permissions") or {}
    out = []
    for category in CATEGORIES:
        names = perms.get(category) or []
        if names:
            out.append((category, tuple(sorted({str(n).lower() for n in names}))))
    return tuple(out)


def _words(perms: tuple) -> str:
    return "; ".join(f"{c}: {', '.join(n)}" for c, n in perms) or "no permissions"


def compare_policies(planned: list[dict], live: list[dict], names: dict[str, str] | None = None) -> list[str]:
    """Drift between the plan's entries and the live access policies (new, changed, removed entries)."""
    names = names or {}

    def who(ident: tuple[str, str, str]) -> str:
        label = names.get(ident[1])
        text = f"{label} ({ident[1]})" if label else ident[1]
        return text + (f" through application {ident[2]}" if ident[2] else "")

    want: dict[tuple, Counter] = {}
    have: dict[tuple, Counter] = {}
    for source, into in ((planned, want), (live, have)):
        for entry in source:
            into.setdefault(identity(entry), Counter())[permissions(entry)] += 1
    problems = []
    for ident in sorted(set(want) | set(have)):
        if ident not in want:
            problems.append(f"new access-policy entry for {who(ident)} "
                            f"({_words(next(iter(have[ident])))}): the flip would cut it off")
        elif ident not in have:
            problems.append(f"access-policy entry for {who(ident)} was removed since the plan was made")
        elif want[ident] != have[ident]:
            before = " | ".join(_words(p) for p in sorted(want[ident]))
            after = " | ".join(_words(p) for p in sorted(have[ident]))
            problems.append(f"access-policy entry for {who(ident)} changed: planned {before}, now {after}")
    return problems


def _assignment_keys(assignments: list[dict]) -> tuple[set[str], set[tuple[str, str, str]]]:
    ids, triples = set(), set()
    for a in assignments:
        props = a.get("properties") if isinstance(a.get("properties"), dict) else a
        if a.get("id"):
            ids.add(str(a["id"]).lower())
        triples.add((str(props.get("scope") or "").lower().rstrip("/"), str(props.get("principalId") or "").lower(),
                     role_guid(props.get("roleDefinitionId") or "")))
    return ids, triples


def missing_planned(planned: list[PlannedAssignment], assignments: list[dict]) -> list[PlannedAssignment]:
    """Planned assignments not listed (matched by scope, principal and role: any name counts)."""
    _, triples = _assignment_keys(assignments)
    return [p for p in planned
            if (p.scope.lower().rstrip("/"), p.principal_id.lower(), p.role_guid) not in triples]


def compare(plan: dict, live: LiveVault, *, relied_on: list[dict] = (), planned: list[PlannedAssignment] = (),
            names: dict[str, str] | None = None) -> Comparison:
    """The vault's drift: access policies, assignments the plan relies on (``relied_on``: snapshot
    assignments ``{"id", "roleName", "principalId", "scope"}`` covering entries today) and, when
    ``planned`` is given (just before the flip), the assignments the migration created."""
    if live.rbac is True:
        return Comparison(True, [])
    problems = compare_policies([{**e, "objectId": e["principalId"]} for e in plan.get("entries") or []],
                                live.policies, names)
    ids, _ = _assignment_keys(live.assignments)
    for a in relied_on:
        if str(a["id"]).lower() not in ids:
            problems.append(f"role assignment {a['id']} ({a.get('roleName') or 'role'} for {a.get('principalId')} "
                            f"at {a.get('scope')}), which covers an entry today, is gone")
    for p in missing_planned(list(planned), live.assignments):
        problems.append(f"planned assignment missing: {p.role_name} for {p.principal_id} at the vault")
    return Comparison(False, problems)
