"""Raw snapshot rows -> estate records (vaults: vault_rows.py; grants and role definitions: grant_rows.py): every casing and missing-property trap of ARG rows is handled
here, so rules never see raw JSON. A row that cannot be understood raises :class:`RowError`; the
loader (snapshot/load.py) turns that into a gap naming the file and line.
"""
from __future__ import annotations

import dataclasses
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


def builder(cls):
    """A positional constructor of the frozen, slotted record class ``cls`` that sets each slot
    directly: the same object as ``cls(...)`` (equal, same repr) at half the cost, for the
    records a load makes by the hundred thousand.

    A frozen dataclass's own ``__init__`` sets every field through ``object.__setattr__``; here
    each slot's descriptor is called instead. Generated from the class's fields, so a field added
    to the model is there too; a class this cannot mirror (no slots, default factories,
    ``__post_init__``) gets ``cls`` itself.
    """
    if not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__ or hasattr(cls, "__post_init__"):
        return cls
    fields = dataclasses.fields(cls)
    if any(f.default_factory is not dataclasses.MISSING or not f.init for f in fields):
        return cls
    names = [f.name for f in fields]
    defaults = {f"_d_{f.name}": f.default for f in fields if f.default is not dataclasses.MISSING}
    params = ", ".join(f"{n}=_d_{n}" if f"_d_{n}" in defaults else n for n in names)
    body = "".join(f"    _s_{n}(self, {n})\n" for n in names)
    source = f"def build({params}):\n    self = _new(_cls)\n{body}    return self\n"
    scope = {"_new": object.__new__, "_cls": cls, **defaults,
             **{f"_s_{n}": cls.__dict__[n].__set__ for n in names}}
    exec(compile(source, f"<builder of {cls.__name__}>", "exec"), scope)   # noqa: S102  (field names only)
    build = scope["build"]
    build.__doc__ = f"{cls.__name__}(...) without its __init__ (audit_function.estate.rows.builder)"
    return build


class Fields:
    """The hot path of :func:`get_ci` for rows that repeat a few key sets by the million.

    ``plain(mapping)`` is true when no key of ``mapping`` is a case variant of a wanted key
    (another spelling with the same lower case): then ``get_ci(mapping, K)`` is ``mapping.get(K)``
    for every wanted K (``None`` and missing alike), so an ARG row whose ``condition`` is null
    costs one lookup instead of a scan of every key. Key sets proven plain are remembered (a
    bounded set of key strings); anything else is left to :func:`get_ci`.
    """

    LIMIT = 4096

    def __init__(self, *keys: str):
        self.exact = frozenset(keys)
        self.lower = frozenset(k.lower() for k in keys)
        self.safe: set[str] = set(keys)

    def plain(self, mapping: dict) -> bool:
        if mapping.keys() <= self.safe:
            return True
        for key in mapping:
            if not isinstance(key, str) or (key not in self.exact and key.lower() in self.lower):
                return False
        if len(self.safe) < self.LIMIT:
            self.safe.update(k for k in mapping if k.__class__ is str)
        return True


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
