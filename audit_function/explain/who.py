"""Who is calling, and which vault and object the request is about (from the estate)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from audit_function.errors import KvAuditError
from audit_function.estate.model import Estate, Principal, Vault
from audit_function.estate.scopes import VAULT_SEGMENT, scope_key
from audit_function.explain.parse import GUID, ExplainInputError, Request


class DataMissing(KvAuditError):
    """The data needed to decide is not in the estate (exit 3)."""

    exit_code = 3


@dataclass(frozen=True)
class Caller:
    object_id: str                   # lower-cased
    app_id: str | None
    principal: Principal | None      # its directory row, when directory data has it
    notes: tuple[str, ...]

    @property
    def type(self) -> str | None:
        return self.principal.type if self.principal else None

    @property
    def name(self) -> str | None:
        return self.principal.display_name if self.principal else None


def find_vault(estate: Estate, text: str) -> tuple[Vault, str | None]:
    """(vault, lower-cased object scope inside it or None) for a vault name or a resource id."""
    key = scope_key(text)
    if VAULT_SEGMENT in key:
        head, _, tail = key.partition(VAULT_SEGMENT)
        name, _, rest = tail.partition("/")
        vault_key = f"{head}{VAULT_SEGMENT}{name}"
        for vault in estate.vaults:
            if vault.key == vault_key:
                return vault, (key if rest else None)
        raise DataMissing(f"vault {text.split('/secrets/')[0]!r} is not in this estate: the snapshot does not "
                          "hold its subscription, or the vault was deleted")
    found = [v for v in estate.vaults if v.name.lower() == key]
    if len(found) > 1:
        raise ExplainInputError(f"{len(found)} vaults are named {text!r}: pass the vault's id with --vault ("
                                + ", ".join(v.id for v in found) + ")")
    if not found:
        close = difflib.get_close_matches(key, [v.name.lower() for v in estate.vaults], n=3)
        hint = f" (similar: {', '.join(close)})" if close else ""
        raise DataMissing(f"no vault named {text!r} in this estate{hint}")
    return found[0], None


def resolve_caller(estate: Estate, request: Request) -> Caller:
    principals = estate.principals
    notes: list[str] = []
    oid = request.object_id
    if oid is None:
        name = (request.principal or "").strip()
        if principals is None:
            raise DataMissing(f"--principal {name!r} is a name: resolving it needs directory data "
                              "(principals.jsonl), which this snapshot does not have; pass the object id")
        found = [p for p in principals.values() if (p.display_name or "").lower() == name.lower()]
        if len(found) > 1:
            raise ExplainInputError(f"{len(found)} principals are named {name!r}: pass the object id ("
                                    + ", ".join(f"{p.id} ({p.type})" for p in found) + ")")
        if not found:
            names = [p.display_name for p in principals.values() if p.display_name]
            close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
            hint = f" (similar: {', '.join(close)})" if close else ""
            raise ExplainInputError(f"no principal named {name!r} in the directory data{hint}")
        return Caller(found[0].id.lower(), found[0].app_id, found[0], ())
    row = principals.get(oid) if principals is not None else None
    if row is None and principals is not None:
        apps = [p for p in principals.values() if (p.app_id or "").lower() == oid]
        if apps:
            notes.append(f"{oid} is an application (client) id; its service principal's object id is "
                         f"{apps[0].id}, which is what grants name")
            return Caller(apps[0].id.lower(), oid, apps[0], tuple(notes))
    return Caller(oid, request.app_id, row, tuple(notes))


def is_guid(text: str | None) -> bool:
    return bool(text) and re.fullmatch(GUID, text) is not None
