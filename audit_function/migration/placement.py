"""Where each proposed custom role is defined: one definition per assignable-scope set Azure accepts.

The planner proposes a custom role per *permission signature* (:func:`~audit_function.migration.roles.custom_role`).
A definition is created at one scope and is assignable only under its ``assignableScopes``, so each
signature becomes one or more *placed* definitions:

- the vaults using it are all in one subscription: one definition, ``assignableScopes`` = that
  subscription, created by a subscription deployment (or ``az role definition create``);
- they span subscriptions and the estate knows a management group above all of them: one definition
  at the lowest such management group (``assignableScopes`` = that one group, created by a
  management-group deployment);
- otherwise (no shared management group known): one definition per subscription.

Why not one definition listing several subscriptions: a Bicep ``roleDefinitions`` resource is created
by one deployment at one scope; a subscription deployment that lists other subscriptions in
``assignableScopes`` needs ``roleDefinitions/write`` on all of them and fails when it lacks it on
any (issue 14). Each placed definition here has exactly one assignable scope, which the deployment
that creates it targets.

Limits (Microsoft, "Azure custom roles" -> "Custom role limits",
https://learn.microsoft.com/azure/role-based-access-control/custom-roles#custom-role-limits):
up to 5000 custom roles per tenant (2000 in Azure operated by 21Vianet); ``assignableScopes`` cannot be
the root scope ``/`` and may name only one management group; custom roles with ``DataActions`` cannot be
*assigned* at management-group scope. The plan assigns every role at a vault, so a definition whose
assignable scope is a management group is still usable (it is assigned at vaults below it). The plan
says when the tenant limit would be exceeded (:func:`limit_warnings`).

Each placed definition has its own deterministic GUID and a role name that carries it: role names are
unique in a tenant, so two definitions of one signature in two subscriptions must not share a name.
"""

from __future__ import annotations

import uuid

from audit_function.migration.roles import CUSTOM_ROLE_NAMESPACE, definition

#: custom roles per tenant (Azure public and US Government / Azure operated by 21Vianet)
TENANT_LIMIT = {"public": 5000, "usgov": 5000, "china": 2000}
MG_PREFIX = "/providers/Microsoft.Management/managementGroups/"


def _lowest_common_group(subscriptions: list[str], chains: dict[str, tuple[str, ...]]) -> str | None:
    """The nearest management group above every subscription (chains: direct parent first)."""
    known = [chains.get(s.lower()) for s in subscriptions]
    if not known or any(not c for c in known):
        return None
    common = set(known[0]).intersection(*map(set, known[1:]))
    for name in known[0]:            # nearest first
        if name in common:
            return name
    return None


def place(signature_roles: list[dict], chains: dict[str, tuple[str, ...]]) -> list[dict]:
    """Placed definitions for the merged custom roles of :func:`~audit_function.migration.custom_roles`.

    ``chains``: lower subscription id -> management-group names above it, direct parent first
    (``estate.subscriptions[..].management_groups``). Each result: ``id`` (GUID), ``name``,
    ``signature`` (the planner's role id), ``scope`` (the one assignable scope), ``scopeKind``
    (``subscription`` | ``managementGroup``), ``subscriptions`` it serves, ``usedBy``, ``dataActions``,
    ``description`` and ``definition`` (the ``az role definition create`` body).
    """
    out = []
    for role in signature_roles:
        subs = sorted({s.rsplit("/", 1)[-1].lower() for s in role["assignableScopes"]})
        group = _lowest_common_group(subs, chains) if len(subs) > 1 else None
        groups = [(MG_PREFIX + group, "managementGroup", subs)] if group else \
            [(f"/subscriptions/{s}", "subscription", [s]) for s in subs]
        for scope, kind, served in groups:
            guid = str(uuid.uuid5(CUSTOM_ROLE_NAMESPACE, f"kv-audit placed role:{role['id']}:{scope.lower()}"))
            words = role["name"].split(" Key Vault access: ", 1)[-1]
            placed = {
                "id": guid, "name": f"kv-audit {guid[:8]} Key Vault access: {words}", "signature": role["id"],
                "scope": scope, "scopeKind": kind, "subscriptions": served, "description": role["description"],
                "dataActions": role["dataActions"], "assignableScopes": [scope],
                "usedBy": [u for u in role["usedBy"] if _sub_of(u["vaultId"]) in served],
            }
            placed["definition"] = definition(placed)
            out.append(placed)
    return out


def _sub_of(resource_id: str) -> str:
    parts = resource_id.split("/")
    return parts[2].lower() if len(parts) > 2 and parts[1].lower() == "subscriptions" else ""


def for_vault(placed: list[dict], signature: str, vault_id: str) -> dict | None:
    """The placed definition a vault's entry with custom role ``signature`` is assigned."""
    sub = _sub_of(vault_id)
    for role in placed:
        if role["signature"] == signature and sub in role["subscriptions"]:
            return role
    return None


def limit_warnings(placed: list[dict], existing_custom: int, cloud: str = "public") -> list[str]:
    """What the plan says when Azure would refuse its custom roles (empty when within the limits)."""
    limit = TENANT_LIMIT.get(cloud, 5000)
    out = []
    if existing_custom + len(placed) > limit:
        out.append(f"the plan creates {len(placed)} custom role(s) and the estate already has {existing_custom}: "
                   f"more than the {limit} custom roles a tenant can hold (Azure custom role limits); "
                   "review which entries can use built-in roles before running the plan")
    return out
