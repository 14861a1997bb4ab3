"""Per-vault pre-migration plan: who loses, who gains, which roles to assign, and a verdict.

:func:`plan_vault` is pure: it reads one access-policy vault and its
:class:`~audit_function.access.engine.VaultAccess` and returns one ``report["migration"]`` element.

Verdicts, in precedence order (the first that applies wins; every reason is listed either way):

``blocked``
    The operator must decide something the plan cannot: a compound identity (``applicationId``:
    RBAC cannot grant "this user through this app"), an entry from another tenant (entry
    ``tenantId`` differs from the vault's), permissions no mapping knows, an object id that is
    not a GUID, or a vault whose tenant differs from its subscription's. The plan still proposes
    assignments for the other entries, but never flips the vault.
``review-latent-grants``
    Flipping would *widen* someone's access: role assignments that reach the vault (at it, on an
    object inside it, or inherited from its resource group, subscription, management groups or
    ``/``) are inert today and take effect on the flip (same computation as the ``latent-grant``
    rule); or an assignment reaching the vault uses a role definition that is unknown, so what it
    would grant cannot be evaluated. A person must accept or remove that access first.
``needs-assignments``
    Some entry is not covered by role assignments at the vault or above: the plan's assignments
    must be created (and have propagated) before the flip, or those principals lose access.
``ready``
    Every entry is covered by existing RBAC at the vault or above and nobody would gain access:
    the flip changes nothing about who can do what.

Human decisions (blocked, review) come before mechanical work (assignments), because the plan can
create assignments by itself but cannot make those decisions.
"""

from __future__ import annotations

from audit_function import permissions as perms
from audit_function.migration import commands as cmd
from audit_function.migration.roles import RoleCatalog, custom_role, definition, role_id
from rules.base import groups_note

READINESS = ("blocked", "review-latent-grants", "needs-assignments", "ready")

_CATALOGS: list[tuple[dict, RoleCatalog]] = []


def catalog_for(roles) -> RoleCatalog:
    """The :class:`RoleCatalog` of a role-definition dict (built once per dict and reused)."""
    if isinstance(roles, RoleCatalog):
        return roles
    for known, catalog in _CATALOGS:
        if known is roles:
            return catalog
    catalog = RoleCatalog(roles)
    _CATALOGS.append((roles, catalog))
    del _CATALOGS[:-4]
    return catalog


def plan_vault(vault, access, roles, ctx, *, principals: dict | None = None) -> dict:
    """The migration plan of one access-policy vault (one ``report["migration"]`` element).

    ``roles``: the estate's role definitions (``estate.role_definitions``) or a :class:`RoleCatalog`;
    ``principals``: directory data (``estate.principals``), used only for principal types.
    """
    catalog = catalog_for(roles)
    types = _principal_types(access, principals)
    entries = [_entry(vault, access, catalog, e, types) for e in vault.access_policies]
    gainers = _gainers(access)
    for item in entries + gainers:   # names, not only GUIDs (report 2), where directory data has them
        item["principalName"] = ctx.who(item["principalId"])["principalName"]
    losers = _losers(vault, access, entries)
    blocked, review, needs = [], [], []
    if vault.tenant_id and vault.row_tenant_id and vault.tenant_id.lower() != vault.row_tenant_id.lower():
        blocked.append(f"the vault authenticates against tenant {vault.tenant_id} but its subscription belongs to "
                       f"tenant {vault.row_tenant_id}: role assignments live in the subscription's tenant")
    for e in entries:
        blocked.extend(f"entry {e['index']} ({e['principalId']}): {why}" for why in e["blockedBy"])
        if not e["coveredByExistingRbac"] and not e["blockedBy"]:
            roles_words = ", ".join(r["name"] for r in e["proposedRoles"]) or "no role"
            needs.append(f"entry {e['index']} ({e['principalId']}) is not covered by role assignments at the vault "
                         f"or above: assign {roles_words}")       # what is missing: the entry's missingInWords
    for g in gainers:
        review.append(f"{g['principalId']} would gain {g['widenedCount']} data action"
                      f"{'' if g['widenedCount'] == 1 else 's'} (see gainers) through {_via(g['assignments'])}")
    for a in access.unknown_roles:
        review.append(f"assignment {a.id} uses role definition {a.role_definition_id}, which is unknown: what it "
                      "would grant after the flip cannot be evaluated")
    if blocked:
        readiness = "blocked"
    elif review:
        readiness = "review-latent-grants"
    elif needs:
        readiness = "needs-assignments"
    else:
        readiness = "ready"
    reasons = blocked + review + needs
    if not reasons:
        reasons = ["every access-policy entry is covered by role assignments at the vault or above and no role "
                   "assignment would widen anyone's access: the flip changes nothing about who can do what"
                   if vault.access_policies else
                   "the vault has no access-policy entries and no role assignment would give anyone data access"]
    return {
        "vaultId": vault.id,
        "vaultName": vault.name,
        "subscriptionId": vault.subscription_id,
        "resourceGroup": vault.resource_group,
        "tenantId": vault.tenant_id,
        "readiness": readiness,
        "reasons": reasons,
        "entries": entries,
        "gainers": gainers,
        "losers": losers,
        "flip": {
            "allowed": readiness != "blocked",
            "command": cmd.flip(vault),
            "verify": [cmd.show_model(vault), cmd.list_assignments(vault)],
            "rollback": cmd.rollback(vault),
        },
        "notes": [groups_note(ctx)],
    }


def _principal_types(access, principals: dict | None) -> dict[str, str]:
    """Principal key -> ARM principal type, from directory data, else from the principal's assignments."""
    out: dict[str, str] = {}
    for source in (access.grants, access.object_grants):
        for key, grants in source.items():
            for g in grants:
                kind = cmd.principal_type(g.assignment.principal_type)
                if kind:
                    out.setdefault(key, kind)
    for key, principal in (principals or {}).items():
        kind = cmd.principal_type(principal.type)
        if kind:
            out[key] = kind
    return out


_PARTS: dict[tuple, dict] = {}


def _parts(catalog: RoleCatalog, data: int, missing: int) -> dict:
    """Entry fields that depend only on what it grants and what RBAC misses (shared: read-only)."""
    key = (id(catalog), data, missing)
    hit = _PARTS.get(key)
    if hit is None:
        mapping = catalog.solve(data)
        mapped = mapping.as_dict() if mapping else None
        hit = {
            "dataActionsInWords": perms.describe(data),
            "dataActionsCount": data.bit_count(),
            "missingInWords": perms.describe(missing),
            "missingCount": missing.bit_count(),
            "leastPrivilegeRoles": mapped["roles"] if mapped else [],
            "excess": mapped["excess"] if mapped else [],
            "excessInWords": mapped["excessInWords"] if mapped else "",
            "materialExcess": mapped["materialExcess"] if mapped else [],
            "materialReasons": mapped["materialReasons"] if mapped else [],
        }
        if len(_PARTS) > 50_000:
            _PARTS.clear()
        _PARTS[key] = hit
    return hit


def _entry(vault, access, catalog: RoleCatalog, entry, types: dict[str, str]) -> dict:
    missing = access.coverage(entry)
    covered = not missing
    parts = _parts(catalog, entry.data, missing)
    blocked = []
    if entry.application_id:
        blocked.append(f"compound identity (applicationId {entry.application_id}): RBAC cannot grant access only "
                       "through one application; grant the application's own identity or the user instead")
    if vault.tenant_id and entry.tenant_id.lower() != vault.tenant_id.lower():
        blocked.append(f"cross-tenant entry (tenantId {entry.tenant_id}, vault tenant {vault.tenant_id}): the "
                       "principal cannot be assigned a role in the vault's tenant")
    if entry.unknown:
        blocked.append(f"permissions with no known RBAC equivalent ({', '.join(entry.unknown)}): decide whether the "
                       "access is still needed; the plan covers only the known permissions")
    if not cmd.is_guid(entry.object_id):
        blocked.append("objectId is not a GUID: no role can be assigned to it")
    kind = types.get(entry.object_key)
    out = {
        "index": entry.index,
        "principalId": entry.object_id,
        "principalType": kind,
        "tenantId": entry.tenant_id,
        "applicationId": entry.application_id,
        "permissions": entry.permissions,
        # data actions in words (lossless: permissions.from_words), not as full name lists (report 2)
        "dataActionsInWords": parts["dataActionsInWords"],
        "dataActionsCount": parts["dataActionsCount"],
        "coveredByExistingRbac": covered,
        "missingInWords": parts["missingInWords"],
        "missingCount": parts["missingCount"],
        "blockedBy": blocked,
        "leastPrivilegeRoles": parts["leastPrivilegeRoles"],
        "excess": parts["excess"],
        "excessInWords": parts["excessInWords"],
        "materialExcess": parts["materialExcess"],
        "materialReasons": parts["materialReasons"],
        "customRole": None,
        "proposedRoles": [],
        "commands": [],
        "note": "",
    }
    if not entry.data:
        out["note"] = "the entry grants no data action: nothing to migrate"
        return out
    if covered:
        out["note"] = ("already covered by existing role assignments at the vault or above: no new assignment "
                       "needed")
        return out
    if entry.application_id or (vault.tenant_id and entry.tenant_id.lower() != vault.tenant_id.lower()) \
            or not cmd.is_guid(entry.object_id):
        out["note"] = "no assignment proposed: the entry is blocked (see blockedBy)"
        return out
    needed = catalog.solve(missing, entry.data)
    if needed is None or needed.material:
        role = custom_role(entry.data, [vault.subscription_id])
        # the definition body is in the create command; the plan keeps its fields once (report 2: compact)
        out["customRole"] = {k: v for k, v in role.items() if k != "definition"}
        out["proposedRoles"] = [{"id": role["id"], "name": role["name"], "custom": True}]
        out["commands"] = [cmd.create_custom_role(role["definition"]),
                           cmd.assign(entry.object_id, kind, role["name"], vault.id, vault.subscription_id)]
        out["note"] = ("no built-in role set covers the entry without material excess "
                       f"({'; '.join(needed.as_dict()['materialReasons']) if needed else 'no set covers it'}): "
                       "a custom role granting exactly the entry's data actions is proposed")
        return out
    out["proposedRoles"] = [{"id": role_id(r), "name": r.name, "custom": False} for r in needed.roles]
    out["commands"] = [cmd.assign(entry.object_id, kind, r.guid, vault.id, vault.subscription_id)
                       for r in needed.roles]
    if missing != entry.data:
        out["note"] = f"partly covered by existing role assignments; the proposed roles add {perms.describe(missing)}"
    return out


def _gainers(access) -> list[dict]:
    """Principals whose access would widen on the flip (the ``latent-grant`` computation)."""
    out = []
    for gainer in access.gainers():
        first, widened, policy, grants = gainer.assignment, gainer.widened, gainer.policy, gainer.grants
        out.append({
            "principalId": first.principal_id,
            "principalType": first.principal_type,
            "widenedInWords": perms.describe(widened),
            "widenedCount": widened.bit_count(),
            "withoutAccessPolicyEquivalent": perms.names(widened & ~perms.POLICY_UNIVERSE),
            "accessPolicyInWords": perms.describe(policy),
            # each grant names its role: what the role grants is in the report's ``roles``
            "assignments": [g.evidence() for g in grants],
        })
    return out


def _via(assignments: list[dict], most: int = 3) -> str:
    """The grants behind a gain in a few words: role and scope level, each once, the first ``most``."""
    seen = list(dict.fromkeys(f"{a['roleName']} at {a['scopeLevel']} scope" for a in assignments))
    return "; ".join(seen[:most]) + (f" and {len(seen) - most} more" if len(seen) > most else "")


def _losers(vault, access, entries: list[dict]) -> list[dict]:
    """Principals that would lose access if the vault were flipped now (per object id, all entries)."""
    by_key: dict[str, dict] = {}
    for entry, planned in zip(vault.access_policies, entries):
        missing = access.coverage(entry)
        if not missing:
            continue
        item = by_key.setdefault(entry.object_key, {"principalId": entry.object_id, "mask": 0, "entries": [],
                                                    "resolvedByPlan": True})
        item["mask"] |= missing
        item["entries"].append(entry.index)
        if not planned["proposedRoles"] or planned["blockedBy"]:
            item["resolvedByPlan"] = False
    return [{"principalId": i["principalId"], "lostInWords": perms.describe(i["mask"]),
             "lostCount": i["mask"].bit_count(), "entries": i["entries"], "resolvedByPlan": i["resolvedByPlan"]}
            for _, i in sorted(by_key.items())]


def summarize(plans: list[dict]) -> list[str]:
    """One terminal line per vault: verdict and counts."""
    lines = []
    for p in plans:
        entries = p["entries"]
        assign = sum(1 for e in entries if e["proposedRoles"])
        custom = sum(1 for e in entries if e["customRole"])
        blocked = sum(1 for e in entries if e["blockedBy"])
        where = "/".join(x for x in (p.get("subscriptionId"), p.get("resourceGroup")) if x)
        lines.append(f"{p['vaultName']} ({where}): {p['readiness']} - {len(entries)} entries, "
                     f"{assign} to assign ({custom} custom role{'s' if custom != 1 else ''}), {blocked} blocked, "
                     f"{len(p['losers'])} would lose access, {len(p['gainers'])} would gain access")
    return lines


def custom_roles(plans: list[dict]) -> list[dict]:
    """Custom roles proposed across ``plans``, one per permission signature, assignable where used."""
    merged: dict[str, dict] = {}
    for p in plans:
        for e in p["entries"]:
            role = e.get("customRole")
            if not role:
                continue
            item = merged.get(role["id"])
            if item is None:
                item = merged[role["id"]] = {**role, "assignableScopes": [], "usedBy": []}
            item["assignableScopes"] = sorted(set(item["assignableScopes"]) | set(role["assignableScopes"]),
                                              key=str.lower)
            item["usedBy"].append({"vaultId": p["vaultId"], "principalId": e["principalId"], "entry": e["index"]})
    out = []
    for item in sorted(merged.values(), key=lambda r: r["name"].lower()):
        item["definition"] = definition(item)
        out.append(item)
    return out
