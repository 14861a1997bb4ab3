"""Azure CLI command lines for a migration plan, safe to paste into bash.

Every value that comes from the estate (vault names, resource groups, ids, role names) is passed
through :mod:`audit_function.quoting` (``shell_arg`` / ``shell_option``), so a hostile name is one
literal argument on one line, never shell syntax, and never read by ``az`` as an option.
Principal object ids must be GUIDs before any command is built for them (:func:`is_guid`).
"""

from __future__ import annotations

import json
import re

from audit_function.quoting import shell_arg, shell_option

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
    return shell_arg(value)


def opt(option: str, value) -> str:
    return shell_option(option, value)


def join(*parts: str) -> str:
    """A command line from already-quoted parts."""
    return " ".join(p for p in parts if p)


def create_custom_role(definition: dict) -> str:
    return join("az role definition create", opt("--role-definition", json.dumps(definition, sort_keys=True)))


def assign(object_id: str, kind: str | None, role: str, scope: str, subscription: str | None) -> str:
    """``az role assignment create`` at ``scope``; ``role`` is a built-in GUID or a custom role name."""
    return join("az role assignment create", opt("--assignee-object-id", object_id),
                opt("--assignee-principal-type", kind) if kind else "",
                opt("--role", role), opt("--scope", scope),
                opt("--subscription", subscription) if subscription else "")


def _vault_args(vault) -> str:
    return join(opt("--name", vault.name), opt("--resource-group", vault.resource_group) if vault.resource_group else "",
                opt("--subscription", vault.subscription_id) if vault.subscription_id else "")


#: the vault API version the flip's PATCH uses (as the migration script's VAULT_API)
VAULT_API = "2023-07-01"


def set_model(vault, rbac: bool) -> str:
    """A PATCH of ``enableRbacAuthorization`` alone. Not ``az keyvault update``, which reads the whole
    vault and PUTs it back (an access policy added between its read and its write would be lost).
    ``az rest`` prefixes a URL without a host, a resource id, with the current cloud's Resource
    Manager endpoint (its ``--url`` help), so the command works in every cloud."""
    body = '{"properties":{"enableRbacAuthorization":%s}}' % ("true" if rbac else "false")
    return join("az rest --method=patch", opt("--url", f"{vault.id}?api-version={VAULT_API}"),
                opt("--body", body), "--output=none")


def flip(vault) -> str:
    return set_model(vault, True)


def rollback(vault) -> str:
    return set_model(vault, False)


def show_model(vault) -> str:
    return join("az keyvault show", _vault_args(vault), "--query properties.enableRbacAuthorization --output tsv")


def list_assignments(vault) -> str:
    return join("az role assignment list", opt("--scope", vault.id),
                opt("--subscription", vault.subscription_id) if vault.subscription_id else "",
                "--include-inherited --output table")
