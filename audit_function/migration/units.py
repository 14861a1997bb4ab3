"""One *unit* per planned vault: what the generated artifacts do for it, and what they expect to find live.

A unit is plain data (JSON-ready) built from a vault's plan and the estate model (never from raw
snapshot rows): the CLI script, Bicep and Terraform render it, and the script embeds its
``expected`` part to compare with the vault's live state before the flip (pre-flight, issue 14).

``action``
    ``migrate`` (``ready`` / ``needs-assignments``): assign, wait, verify, pre-flight, flip, verify;
    ``review`` (``review-latent-grants``): the same steps, run only when the operator accepts the
    latent grants (``--accept-latent-grants``); ``blocked``: nothing runs, the reasons are comments.
``create``
    The role assignments the plan adds at the vault (built-in role GUID, or a placed custom role).
``expected``
    ``policies``: the access-policy entries as planned (tenant, object, application, permissions
    lower-cased and sorted), compared as a multiset; ``keep``: the standing role assignments that
    cover some entry (by assignment id), which must still exist; ``create``: the assignments above.
"""

from __future__ import annotations

import hashlib
import re

from audit_function.migration import placement, relied

ORDER = {"ready": 0, "needs-assignments": 1, "review-latent-grants": 2, "blocked": 3}
ACTION = {"ready": "migrate", "needs-assignments": "migrate", "review-latent-grants": "review", "blocked": "blocked"}


def policy_of(entry) -> dict:
    """An access-policy entry in the pre-flight's canonical form (also used for the live entries)."""
    perms = {str(k).lower(): sorted({str(p).lower() for p in v}) for k, v in (entry.permissions or {}).items() if v}
    return {"tenantId": (entry.tenant_id or "").lower(), "objectId": entry.object_id.lower(),
            "applicationId": (entry.application_id or "").lower(), "permissions": perms}


def _keep(vault, access) -> list[dict]:
    """Standing assignments (at the vault or above, to the principal or a group of it) that grant some
    data action of some entry (``relied.relied_on``, shared with ``kv-audit migrate``)."""
    return [{"assignmentId": g.assignment.id, "principalId": g.assignment.principal_id, "roleName": g.role.name,
             "forEntry": e.index} for e, g in relied.relied_on(vault, access)]


def _create(plan: dict, placed: list[dict]) -> list[dict]:
    out = []
    for entry in plan["entries"]:
        for role in entry["proposedRoles"]:
            item = {"principalId": entry["principalId"], "principalType": entry["principalType"],
                    "entry": entry["index"], "scope": plan["vaultId"]}
            if role.get("custom"):
                where = placement.for_vault(placed, role["id"], plan["vaultId"])
                if where is None:       # cannot happen: every proposed custom role is placed
                    raise ValueError(f"custom role {role['id']} of {plan['vaultId']} has no placed definition")
                item.update(custom=True, roleGuid=where["id"], roleName=where["name"], roleScope=where["scope"],
                            roleFile=role_file(where))
            else:
                item.update(custom=False, roleGuid=role["id"].rsplit("/", 1)[-1].lower(), roleName=role["name"])
            out.append(item)
    return out


def role_file(placed_role: dict) -> str:
    return f"custom-roles/kv-audit-{placed_role['id']}.json"


def safe_name(n: int, name: str) -> str:
    """A file-name part for vault ``n``: the vault name when it is plain (Azure's own rule: letters, digits,
    hyphens), else a digest of it, so no estate syntax ever reaches a file name."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,47}", name):
        return f"{n:03d}-{name}"
    return f"{n:03d}-vault-{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


def build(plans: list[dict], estate, index, placed: list[dict]) -> list[dict]:
    """The units of ``plans`` in the order the script runs them: ready, needs-assignments, review, blocked."""
    by_key = {v.key: v for v in estate.vaults}
    ordered = sorted(plans, key=lambda p: (ORDER[p["readiness"]], p["vaultId"].lower()))
    out = []
    for n, plan in enumerate(ordered, 1):
        vault = by_key[plan["vaultId"].lower().rstrip("/")]
        access = index.vault_access(vault)
        blocked = plan["readiness"] == "blocked"
        create = [] if blocked else _create(plan, placed)
        out.append({
            "n": n, "vaultId": plan["vaultId"], "vaultName": plan["vaultName"],
            "resourceGroup": plan["resourceGroup"] or "", "subscriptionId": plan["subscriptionId"] or "",
            "readiness": plan["readiness"], "action": ACTION[plan["readiness"]], "reasons": plan["reasons"],
            "file": safe_name(n, plan["vaultName"]), "create": create,
            "expected": None if blocked else {
                "vaultId": plan["vaultId"], "policies": [policy_of(e) for e in vault.access_policies],
                "keep": _keep(vault, access),
                "create": [{k: c[k] for k in ("principalId", "roleGuid", "roleName", "scope", "custom")}
                           for c in create]},
        })
    return out
