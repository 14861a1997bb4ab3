"""Raw snapshot rows -> estate records (vaults: vault_rows.py; grants and role definitions: grant_rows.py): every casing and missing-property trap of ARG rows is handled
here, so rules never see raw JSON. A row that cannot be understood raises :class:`RowError`; the
loader (snapshot/load.py) turns that into a gap naming the file and line.
"""
from __future__ import annotations

import sys

from audit_function.estate.model import ManagementGroup, Principal, Subscription


class RowError(ValueError):
    """A row that cannot be understood (the message says why)."""


def get_ci(mapping: dict | None, key: str, default=None):
    """``mapping[key]`` with a case-insensitive key; ``None`` counts as missing."""
    if not isinstance(mapping, dict):
        return default
    value = mapping.get(key)
    if value is None:
        lower = key.lower()
        for k, v in mapping.items():
            if k.lower() == lower:
                value = v
                break
    return default if value is None else value


def _str(value, what: str, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise RowError(f"{what} is missing")
        return None
    if not isinstance(value, str):
        raise RowError(f"{what} must be a string, got {type(value).__name__}")
    return value


def _bool(value, what: str) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    raise RowError(f"{what} must be true, false or null, got {value!r}")


def _list(value, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RowError(f"{what} must be an array, got {type(value).__name__}")
    return value


def subscription_from_row(row: dict) -> Subscription:
    if not isinstance(row, dict):
        raise RowError("row is not a JSON object")
    sub_id = _str(row.get("subscriptionId"), "subscriptionId")
    row_id = _str(row.get("id"), "id")
    if not sub_id and row_id:
        sub_id = row_id.rstrip("/").rsplit("/", 1)[-1]
    if not sub_id:
        raise RowError("subscriptionId is missing")
    props = row.get("properties") or {}
    if not isinstance(props, dict):
        raise RowError("properties must be an object")
    chain = []
    for i, item in enumerate(_list(get_ci(props, "managementGroupAncestorsChain"), "properties.managementGroupAncestorsChain")):
        name = get_ci(item, "name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            raise RowError(f"properties.managementGroupAncestorsChain[{i}].name is missing")
        chain.append(name.lower())
    return Subscription(
        id=row_id or f"/subscriptions/{sub_id}",
        subscription_id=sub_id,
        name=_str(row.get("name"), "name"),
        tenant_id=_str(row.get("tenantId"), "tenantId"),
        state=_str(get_ci(props, "state"), "properties.state"),
        management_groups=tuple(chain),
        tags=row["tags"] if isinstance(row.get("tags"), dict) else {},
    )


def management_group_from_row(row: dict) -> ManagementGroup:
    if not isinstance(row, dict):
        raise RowError("row is not a JSON object")
    name = _str(row.get("name"), "name", required=True)
    props = row.get("properties") or {}
    details = get_ci(props, "details") or {}
    chain = [get_ci(i, "name") for i in _list(get_ci(details, "managementGroupAncestorsChain"), "ancestors") if isinstance(i, dict)]
    return ManagementGroup(name.lower(), _str(get_ci(props, "displayName"), "properties.displayName"),
                           tuple(str(c).lower() for c in chain if c))


def principal_from_row(row: dict) -> Principal:
    if not isinstance(row, dict):
        raise RowError("row is not a JSON object")
    pid = _str(row.get("id"), "id", required=True)
    groups = tuple(sys.intern(str(g).lower()) for g in _list(row.get("memberOf"), "memberOf") if g)
    return Principal(pid, _str(row.get("type"), "type"), _str(row.get("displayName"), "displayName"), groups,
                     _str(row.get("userType"), "userType"), _str(row.get("appId"), "appId"))
