"""The decision: would this caller's request for this action on this vault be authorized, and why.

Every grant the caller holds (directly or through its groups) in both permission models is judged
against the action, in the order Key Vault decides: the model in force first (a grant in the
other model has no effect), then scope (vault, above it, or one object inside it), the role's data
actions (``notDataActions`` already removed per block), eligibility, deny assignments. Catalog-2
semantics come from :mod:`audit_function.access.engine` (tenant-bound ``/`` and management-group scopes,
unknown ancestry, deny matching).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import re
from datetime import datetime, timedelta, timezone

from audit_function import permissions as perms
from audit_function.access.engine import AccessIndex, _tenant_ok
from audit_function.estate.model import Estate, RoleAssignment, Vault
from audit_function.estate.scopes import MG_PREFIX, prefixes, scope_level
from audit_function.explain.parse import Action
from audit_function.explain.who import Caller

#: Microsoft: "Role assignments latency: at current expected performance, it will take up to 10
#: minutes (600 seconds) after role assignments is changed for role to be applied" (Key Vault RBAC
#: guide, "Known limits and performance": learn.microsoft.com/azure/key-vault/general/rbac-guide)
PROPAGATION = timedelta(minutes=10)
PROPAGATION_SOURCE = ("https://learn.microsoft.com/azure/key-vault/general/rbac-guide "
                      "(Known limits and performance: up to 10 minutes, 600 seconds)")

#: when the caller is denied, the grant whose reason explains it best (earlier = better)
REASON_ORDER = ("deny-assignment", "wrong-model", "eligible-not-activated", "object-scoped-other", "scope-elsewhere",
                "not-data-actions", "action-not-granted", "control-plane-only", "cross-tenant-entry",
                "compound-entry")
UNKNOWN_REASONS = ("unknown-role", "unknown-ancestry", "group-not-expanded", "object-not-named")


@dataclass
class Judged:
    """One grant and what it does for this request."""

    model: str                  # rbac | accessPolicy: the model the grant belongs to
    kind: str                   # roleAssignment | eligibleAssignment | lighthouse | accessPolicy
    authorizes: bool | None     # None: cannot tell from the data
    reason: str
    detail: str
    principal_id: str           # who it names (the caller or one of its groups)
    via_group: bool = False
    assignment: RoleAssignment | None = None
    role: str | None = None
    scope: str | None = None
    scope_level: str | None = None
    permissions: str | None = None
    entry_index: int | None = None
    created_on: str | None = None
    conditional: bool = False

    def as_dict(self) -> dict:
        out = {"model": self.model, "kind": self.kind, "authorizes": self.authorizes, "reason": self.reason,
               "detail": self.detail, "principalId": self.principal_id, "viaGroup": self.via_group}
        if self.assignment is not None:
            out.update(assignmentId=self.assignment.id, roleName=self.role, scope=self.scope,
                       scopeLevel=self.scope_level, createdOn=self.created_on)
            if self.conditional:
                out["conditional"] = True
        else:
            out.update(entryIndex=self.entry_index, permissions=self.permissions)
        return out


@dataclass
class Decision:
    vault: Vault
    caller: Caller
    action: Action | None
    object_key: str | None
    grants: list[Judged]
    identity: str                 # allowed | denied | unknown | not-evaluated
    reason: str
    warnings: list[str] = field(default_factory=list)
    recent: list[dict] = field(default_factory=list)
    ids: tuple[str, ...] = ()


def _level(index: AccessIndex, vault: Vault, key: str) -> str:
    return scope_level(key, index.vault_keys)


def _not_data_actions(role, need: int) -> bool:
    """Whether a block's dataActions match the action but its notDataActions take it out."""
    for block in role.blocks:
        if perms.patterns_mask(block.data_actions) & need and perms.patterns_mask(block.not_data_actions) & need:
            return True
    return False


def _place(index: AccessIndex, vault: Vault, a: RoleAssignment, object_key: str | None) -> tuple[str, str]:
    """(relation, words): covers | object | object-other | object-not-named | elsewhere | unknown-ancestry."""
    key = a.scope_key
    if key in set(prefixes(vault.key)):
        return "covers", "its scope covers the vault"
    if key == "/" or key.startswith(MG_PREFIX):
        if not _tenant_ok(a.tenant_id, vault):
            return "elsewhere", f"{a.scope} belongs to another tenant ({a.tenant_id})"
        if key.startswith(MG_PREFIX) and index.unknown_ancestry(vault):
            return "unknown-ancestry", ("the vault's subscription has no management-group chain in the data, "
                                        "so whether this management group is above it is unknown")
        if key in index.above_keys(vault):
            return "covers", "its scope is above the vault"
        return "elsewhere", f"management group {a.scope.rsplit('/', 1)[-1]} is not above this vault"
    if key.startswith(vault.key + "/"):
        if object_key is None:
            return "object-not-named", f"scoped to {a.scope[len(vault.id):]} only; the request does not name its object"
        if object_key == key or object_key.startswith(key + "/"):
            return "covers", f"scoped to {a.scope[len(vault.id):]}, the object requested"
        return "object-other", f"scoped to {a.scope[len(vault.id):]}, not to {object_key[len(vault.key):]}"
    return "elsewhere", f"its scope {a.scope} does not contain this vault"


def judge(estate: Estate, index: AccessIndex, vault: Vault, caller: Caller, action: Action,
          object_key: str | None, extra: list[tuple[RoleAssignment, str | None]], as_of: datetime) -> Decision:
    access = index.vault_access(vault)
    ids = access.ids(caller.object_id)
    if caller.principal is not None and caller.principal.member_of:
        ids = (caller.object_id, *caller.principal.member_of)
    id_set = set(ids)
    need = action.need
    judged: list[Judged] = []
    seen: set[str] = set()
    rows = list(extra) + [(a, None) for a in estate.assignments if a.managed_by_tenant and a.principal_key in id_set]
    denies = [d for d in index.denies_for(vault) if d.applies_to(ids) and d.data & need]
    for a, created in rows:
        if a.key in seen:
            continue
        seen.add(a.key)
        role = estate.role_definitions.get(a.role_guid)
        kind = "lighthouse" if a.managed_by_tenant else "eligibleAssignment" if a.eligible else "roleAssignment"
        relation, where = _place(index, vault, a, object_key)
        level = _level(index, vault, a.scope_key)
        base = dict(model="rbac", kind=kind, principal_id=a.principal_id, via_group=a.principal_key != caller.object_id,
                    assignment=a, role=role.name if role else None, scope=a.scope, scope_level=level,
                    created_on=created, conditional=a.conditional)
        if role is None:
            judged.append(Judged(authorizes=None, reason="unknown-role",
                                 detail=f"role definition {a.role_definition_id} is not in the data", **base))
            continue
        grants = role.data & need == need
        if not grants and relation != "covers":
            continue  # a grant elsewhere that would not allow this action either: not part of the answer
        if not grants:
            if not role.data:
                reason, words = "control-plane-only", f"{role.name} grants no data action (control plane only)"
            elif _not_data_actions(role, need):
                reason, words = "not-data-actions", f"{role.name} lists the action under notDataActions"
            else:
                reason, words = "action-not-granted", f"{role.name} grants {perms.describe(role.data)}, not this action"
            judged.append(Judged(authorizes=False, reason=reason, detail=words, **base))
            continue
        if relation == "elsewhere":
            judged.append(Judged(authorizes=False, reason="scope-elsewhere", detail=where, **base))
        elif relation == "object-other":
            judged.append(Judged(authorizes=False, reason="object-scoped-other", detail=where, **base))
        elif relation in ("object-not-named", "unknown-ancestry"):
            judged.append(Judged(authorizes=None, reason=relation, detail=where, **base))
        elif not vault.is_rbac:
            judged.append(Judged(authorizes=False, reason="wrong-model", detail=(
                f"{role.name} would allow it, but the vault uses access policies: role assignments have no "
                "effect on its data plane"), **base))
        elif a.eligible:
            judged.append(Judged(authorizes=False, reason="eligible-not-activated", detail=(
                f"eligible for {role.name} through Privileged Identity Management, not activated"), **base))
        elif denies:
            judged.append(Judged(authorizes=False, reason="deny-assignment", detail=(
                f"{role.name} would allow it, but deny assignment "
                f"{denies[0].name or denies[0].id!r} at {denies[0].scope} denies it"), **base))
        else:
            extra_words = " (its ABAC condition must also hold)" if a.conditional else ""
            judged.append(Judged(authorizes=True, reason="authorizes", detail=f"{role.name}: {where}{extra_words}", **base))
    if not estate.directory_data or caller.principal is None:
        _unexpanded_groups(access, caller, need, object_key, judged, seen)
    for entry in vault.access_policies:
        if entry.object_key not in id_set:
            continue
        words = "; ".join(f"{c}: {', '.join(n)}" for c, n in entry.permissions.items() if n) or "nothing"
        base = dict(model="accessPolicy", kind="accessPolicy", principal_id=entry.object_id,
                    via_group=entry.object_key != caller.object_id, permissions=words, entry_index=entry.index)
        grants = entry.data & need == need
        if not grants:
            detail = f"the entry grants {words}, not this action"
            judged.append(Judged(authorizes=False, reason="action-not-granted",
                                 detail=detail + ("; and the vault uses RBAC" if vault.is_rbac else ""), **base))
        elif vault.is_rbac:
            judged.append(Judged(authorizes=False, reason="wrong-model", detail=(
                "the entry would allow it, but the vault uses Azure RBAC: access policies are ignored"), **base))
        elif vault.entry_cross_tenant(entry):
            judged.append(Judged(authorizes=False, reason="cross-tenant-entry", detail=(
                f"the entry is for tenant {entry.tenant_id}, the vault accepts tokens of {vault.tenant_id} only"), **base))
        elif entry.application_id and (caller.app_id or "").lower() != entry.application_id.lower():
            judged.append(Judged(authorizes=False, reason="compound-entry", detail=(
                f"compound entry: it allows this principal only when acting through application "
                f"{entry.application_id}"), **base))
        else:
            judged.append(Judged(authorizes=True, reason="authorizes", detail=f"the entry grants {words}", **base))
    identity, reason = _decide(judged, estate, caller)
    decision = Decision(vault, caller, action, object_key, judged, identity, reason, ids=ids)
    decision.recent = _recent(judged, as_of)
    if identity == "allowed" and any(r["authorizes"] for r in decision.recent):
        decision.reason = "propagation"
    return decision


def _unexpanded_groups(access, caller: Caller, need: int, object_key, judged: list[Judged], seen: set[str]) -> None:
    """Grants to groups on this vault that would allow the action: membership is unknown without directory data."""
    for source in (access.grants, access.object_grants):
        for key, grants in source.items():
            for g in grants:
                a = g.assignment
                if a.key in seen or (a.principal_type or "").lower() != "group" or g.data & need != need:
                    continue
                if g.level == "object" and object_key is not None and not (
                        object_key == a.scope_key or object_key.startswith(a.scope_key + "/")):
                    continue
                seen.add(a.key)
                judged.append(Judged(model="rbac", kind="eligibleAssignment" if g.eligible else "roleAssignment",
                                     authorizes=None, reason="group-not-expanded", principal_id=a.principal_id,
                                     via_group=True, assignment=a, role=g.role.name, scope=a.scope,
                                     scope_level=g.level, detail=(
                                         f"{g.role.name} for group {a.principal_id}: whether the caller is a member "
                                         "is unknown (no directory data); if it was added recently, it needs a "
                                         "fresh token")))


def _decide(judged: list[Judged], estate: Estate, caller: Caller) -> tuple[str, str]:
    if any(j.authorizes for j in judged):
        return "allowed", "authorizes"
    for reason in UNKNOWN_REASONS:
        if any(j.authorizes is None and j.reason == reason for j in judged):
            return "unknown", reason
    for reason in REASON_ORDER:
        if any(j.reason == reason for j in judged):
            return "denied", reason
    if estate.directory_data and caller.principal is None:
        return "denied", "principal-not-found"
    return "denied", "no-grant"


def _parse_time(text: str | None) -> datetime | None:
    """An ARM timestamp (``2025-06-02T05:55:00.0000000Z``: seven fractional digits) as an aware datetime."""
    if not text:
        return None
    cleaned = re.sub(r"(\.\d{6})\d+", r"\1", text.strip()).replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _recent(judged: list[Judged], as_of: datetime) -> list[dict]:
    out = []
    for j in judged:
        when = _parse_time(j.created_on)
        if when is None:
            continue
        age = as_of - when
        if timedelta(0) <= age <= PROPAGATION:
            out.append({"assignmentId": j.assignment.id, "roleName": j.role, "createdOn": j.created_on,
                        "minutesAgo": round(age.total_seconds() / 60, 1), "authorizes": bool(j.authorizes)})
    return out
