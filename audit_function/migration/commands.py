"""Azure CLI command lines for a migration plan, safe to paste into bash.

Every value that comes from the estate (vault names, resource groups, ids, role names) is passed
through :func:`shlex.quote`, so a hostile name is one literal argument, never shell syntax.
Principal object ids must be GUIDs before any command is built for them (:func:`is_guid`).
"""

from __future__ import annotations

import json
import re
import shlex

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

#: directory object type (principals.jsonl) -> ARM principalType
PRINCIPAL_TYPES = {"user": "User", "group": "Group", "serviceprincipal": "ServicePrincipal",
                   "foreigngroup": "ForeignGroup"}


def is_guid(value: str | None) -> bool:
    return bool(value) and _GUID.match(value) is not None


def principal_type(value: str | None) -> str | None:
    """The ARM principal type for a directory or assignment type, ``None`` when unknown."""
    return PRINCIPAL_TYPES.get((value or "").lower())


def q(value: str) -> str:
    return shlex.quote(str(value))


def join(*parts: str) -> str:
    """A command line from already-quoted parts."""
    return " ".join(p for p in parts if p)


def create_custom_role(definition: dict) -> str:
    return join("az role definition create --role-definition", q(json.dumps(definition, sort_keys=True)))


def assign(object_id: str, kind: str | None, role: str, scope: str, subscription: str | None) -> str:
    """``az role assignment create`` at ``scope``; ``role`` is a built-in GUID or a custom role name."""
    return join("az role assignment create --assignee-object-id", q(object_id),
                f"--assignee-principal-type {q(kind)}" if kind else "",
                "--role", q(role), "--scope", q(scope),
                f"--subscription {q(subscription)}" if subscription else "")


def _vault_args(vault) -> str:
    return join("--name", q(vault.name), f"--resource-group {q(vault.resource_group)}" if vault.resource_group else "",
                f"--subscription {q(vault.subscription_id)}" if vault.subscription_id else "")


def flip(vault) -> str:
    return join("az keyvault update", _vault_args(vault), "--enable-rbac-authorization true")


def rollback(vault) -> str:
    return join("az keyvault update", _vault_args(vault), "--enable-rbac-authorization false")


def show_model(vault) -> str:
    return join("az keyvault show", _vault_args(vault), "--query properties.enableRbacAuthorization --output tsv")


def list_assignments(vault) -> str:
    return join("az role assignment list --scope", q(vault.id),
                f"--subscription {q(vault.subscription_id)}" if vault.subscription_id else "",
                "--include-inherited --output table")
