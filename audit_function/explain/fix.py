"""The fix: the least-privilege grant in the model the vault enforces, as exact, safely quoted commands.

Never "switch the permission model" (the troubleshooting guides warn against it: a flip cuts off
everyone granted in the other model). Every estate value goes through :func:`shlex.quote`, and a
value that starts with ``-`` is passed as ``--flag=VALUE`` so no command-line parser can take it
for an option. The role search is the migration planner's (:class:`RoleCatalog`).
"""

from __future__ import annotations

import json
import shlex
import uuid

from audit_function import permissions as perms
from audit_function.estate.model import Estate
from audit_function.explain.verdict import PROPAGATION, Decision
from audit_function.migration.commands import principal_type
from audit_function.migration.roles import RoleCatalog

_POLICY_FLAG = {"keys": "--key-permissions", "secrets": "--secret-permissions",
                "certificates": "--certificate-permissions", "storage": "--storage-permissions"}
_PIM_NAMESPACE = uuid.UUID("0b7c2a51-3a7e-4a55-9d44-6a1b9e0f5c21")


def opt(flag: str, value) -> str:
    """``--flag 'value'``, or ``--flag=-value`` when the value starts with '-'."""
    text = str(value)
    return f"{flag}={shlex.quote(text)}" if text.startswith("-") else f"{flag} {shlex.quote(text)}"


def _vault_args(vault) -> list[str]:
    out = [opt("--name", vault.name)]
    if vault.resource_group:
        out.append(opt("--resource-group", vault.resource_group))
    if vault.subscription_id:
        out.append(opt("--subscription", vault.subscription_id))
    return out


def role_assignment(decision: Decision, estate: Estate) -> tuple[str | None, str]:
    caller, vault = decision.caller, decision.vault
    found = RoleCatalog(estate.role_definitions).solve(decision.action.need)
    if found is None or not found.roles:
        return None, "no built-in role grants this action; create a custom role for it (kv-audit plan proposes one)"
    object_scoped = any(j.scope_level == "object" and j.model == "rbac" for j in decision.grants)
    scope = vault.id
    if object_scoped and decision.object_key:
        scope = vault.id + decision.object_key[len(vault.key):]
    kind = principal_type(caller.type) or next((principal_type(j.assignment.principal_type) for j in decision.grants
                                                if j.assignment is not None and not j.via_group), None)
    parts = ["az role assignment create", opt("--assignee-object-id", caller.object_id)]
    if kind:
        parts.append(opt("--assignee-principal-type", kind))
    role = found.roles[0]
    parts += [opt("--role", role.name), opt("--scope", scope)]
    words = f"assign {role.name} at {'the object' if scope != vault.id else 'the vault'}"
    return " ".join(parts), words + (f" (it also grants {found.as_dict()['excessInWords']})" if found.excess else "")


def set_policy(decision: Decision) -> tuple[str | None, str]:
    vault, caller, action = decision.vault, decision.caller, decision.action
    if action.policy is None:
        return None, "no access-policy permission grants this action; only Azure RBAC can (after a planned migration)"
    category, permission = action.policy
    existing: list[str] = []
    for entry in vault.access_policies:
        if entry.object_key == caller.object_id and not entry.application_id and not vault.entry_cross_tenant(entry):
            known = perms.POLICY_MAP[category]
            existing += [p.lower() for p in entry.permissions.get(category, ()) if p.lower() in known or p.lower() == "all"]
    wanted = list(dict.fromkeys([*existing, permission]))
    parts = ["az keyvault set-policy", *_vault_args(vault), opt("--object-id", caller.object_id),
             _POLICY_FLAG[category], *(shlex.quote(p) for p in wanted)]
    # set-policy replaces a category's list: keep what the principal's own entry already has
    if existing:
        return " ".join(parts), (f"add {category} {permission} to the principal's own access-policy entry (keeping "
                                 f"{', '.join(existing)}: set-policy replaces a category's list)")
    return " ".join(parts), f"add an access-policy entry for the principal with {category} {permission}"


def activate(decision: Decision) -> tuple[str, str]:
    j = next(j for j in decision.grants if j.reason == "eligible-not-activated")
    a = j.assignment
    name = uuid.uuid5(_PIM_NAMESPACE, f"{a.key}|{decision.caller.object_id}")
    body = {"properties": {"principalId": decision.caller.object_id, "roleDefinitionId": a.role_definition_id,
                           "requestType": "SelfActivate", "justification": "kv-audit explain: data access needed",
                           "scheduleInfo": {"expiration": {"type": "AfterDuration", "duration": "PT8H"}}}}
    url = (f"https://management.azure.com{a.scope}/providers/Microsoft.Authorization/"
           f"roleAssignmentScheduleRequests/{name}?api-version=2020-10-01")
    return (" ".join(["az rest --method put", opt("--url", url), opt("--body", json.dumps(body, sort_keys=True))]),
            f"activate the eligible {j.role} through Privileged Identity Management")


def build_fix(decision: Decision, network: dict, estate: Estate) -> dict:
    vault, reason = decision.vault, decision.reason
    commands: list[str] = []
    notes: list[str] = []
    alternative = None
    model = vault.model
    if decision.identity == "denied" or reason == "group-not-expanded":
        if reason == "deny-assignment":
            notes.append("a deny assignment wins over every grant: no new grant helps. Its owner (a deployment "
                         "stack or managed application) must exclude this principal")
        elif reason == "eligible-not-activated":
            cmd, words = activate(decision)
            commands.append(cmd)
            notes.append(words)
        elif reason == "group-not-expanded":
            j = next(j for j in decision.grants if j.reason == "group-not-expanded")
            commands.append(" ".join(["az ad group member check", opt("--group", j.principal_id),
                                      opt("--member-id", decision.caller.object_id)]))
            notes.append("check the caller is a member of the group that holds the role; if it was added "
                         "recently, it needs a fresh token (sign in again, or restart the app)")
        elif vault.is_rbac:
            cmd, words = role_assignment(decision, estate)
            commands += [cmd] if cmd else []
            notes.append(words)
            if reason == "wrong-model":
                notes.append("the access-policy entry stopped counting when the vault moved to Azure RBAC; do not "
                             "switch the model back (that would cut off everyone granted by role)")
        else:
            cmd, words = set_policy(decision)
            commands += [cmd] if cmd else []
            notes.append(words)
            plan = f"`kv-audit plan --vault {shlex.quote(vault.id)}` (with --demo, --snapshot DIR or --live)"
            ready = [j for j in decision.grants if j.model == "rbac" and j.reason == "wrong-model"]
            if ready:
                alternative = {"command": None, "note": (
                    f"mid-migration to Azure RBAC: the principal already holds {ready[0].role} at {ready[0].scope}, "
                    f"which takes effect when the vault moves to Azure RBAC; {plan} lists every grant the flip needs")}
            else:
                rbac_cmd, rbac_words = role_assignment(decision, estate)
                if rbac_cmd:
                    alternative = {"command": rbac_cmd, "note": (
                        "mid-migration to Azure RBAC: also " + rbac_words + " so the access survives the flip; "
                        f"it has no effect until then. {plan} lists every grant the flip needs")}
    elif decision.reason == "object-not-named":
        notes.append("an object-scoped grant may cover the request: pass the object's id with --vault "
                     "(…/vaults/NAME/secrets/SECRET) to decide")
    elif decision.reason == "propagation":
        minutes = int(PROPAGATION.total_seconds() // 60)
        notes.append(f"the grant is new: role assignments take up to {minutes} minutes to apply; wait and retry "
                     "with a fresh token")
    if network.get("verdict") == "denied":
        if network["reason"] == "firewall" and network.get("fromIp"):
            commands.append(" ".join(["az keyvault network-rule add", *_vault_args(vault),
                                      opt("--ip-address", network["fromIp"])]))
            notes.append(f"allow {network['fromIp']} through the vault firewall (or call from an allowed network)")
        else:
            notes.append("call from a network connected to an approved private endpoint of the vault")
    return {"model": model, "commands": commands, "notes": notes, "alternative": alternative}


__all__ = ["build_fix", "opt", "perms"]
