"""What a live collection reads: the whole tenant, management groups and/or subscriptions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from audit_function.errors import CollectionError

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_MG_NAME = re.compile(r"^[A-Za-z0-9_().-]{1,90}$")
_SUB_PREFIX = "/subscriptions/"
_MG_PREFIX = "/providers/microsoft.management/managementgroups/"


@dataclass(frozen=True)
class LiveScope:
    """Management group ids and subscription ids to read; both empty = every visible subscription."""

    management_groups: tuple[str, ...] = ()
    subscriptions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unit:
    """One scope Resource Graph is asked about: the tenant, one management group or one subscription."""

    kind: str  # "tenant" | "mg" | "sub"
    name: str = ""

    @property
    def scope(self) -> str:
        """The ARM scope string, as gaps name it."""
        if self.kind == "sub":
            return f"/subscriptions/{self.name}"
        if self.kind == "mg":
            return f"/providers/Microsoft.Management/managementGroups/{self.name}"
        return "/"


TENANT = Unit("tenant")


def units_of(scope: LiveScope) -> tuple[list[Unit], list[Unit]]:
    """(management-group units, subscription units), validated and de-duplicated (case-insensitive)."""
    if isinstance(scope.management_groups, str) or isinstance(scope.subscriptions, str):
        raise CollectionError("LiveScope fields are tuples of ids, not a single string")
    mgs, subs, seen = [], [], set()
    for raw in scope.management_groups:
        name = str(raw).strip()
        if name.lower().startswith(_MG_PREFIX):
            name = name[len(_MG_PREFIX):]
        if not _MG_NAME.match(name):
            raise CollectionError(f"--management-group {raw!r}: expected a management group id "
                                  "(its name, not its display name), e.g. 'platform-prod'")
        if ("mg", name.lower()) not in seen:
            seen.add(("mg", name.lower()))
            mgs.append(Unit("mg", name))
    for raw in scope.subscriptions:
        sub = str(raw).strip().rstrip("/")
        if sub.lower().startswith(_SUB_PREFIX):
            sub = sub[len(_SUB_PREFIX):]
        if not _GUID.match(sub):
            raise CollectionError(f"--subscription {raw!r}: expected a subscription id (a GUID such as "
                                  "00000000-0000-0000-0000-000000000000), not a name")
        if ("sub", sub.lower()) not in seen:
            seen.add(("sub", sub.lower()))
            subs.append(Unit("sub", sub.lower()))
    return mgs, subs
