"""Network security perimeters (snapshot table ``perimeter_associations``), normalized once for the rules.

The table holds three kinds of Resource Graph rows (``networkresources``, see
``collect/queries/perimeter_associations.kql``), told apart by ``type``:

- ``microsoft.network/networksecurityperimeters/resourceassociations``: a PaaS resource (here a vault or
  a Managed HSM pool, ``properties.privateLinkResource.id``) is a member of the perimeter through one
  profile (``properties.profile.id``) in an access mode (``properties.accessMode``: ``Learning`` (the
  default, renamed "Transition" in Microsoft's docs), ``Enforced`` or ``Audit``);
- ``.../profiles``: a profile of a perimeter (a collection of access rules);
- ``.../profiles/accessRules``: one rule of a profile (``properties.direction`` ``Inbound`` with
  ``addressPrefixes``, ``subscriptions``, ``networkSecurityPerimeters``, ``serviceTags``; ``Outbound``
  with ``fullyQualifiedDomainNames``, ...).

:func:`resolve` joins them: each association carries its profile's access rules. The associations are
then attached to their vault or HSM (``Vault.perimeters`` through :func:`audit_function.estate.deep.attach`):
``()`` when the table was read and nothing is associated with it, ``None`` when it was not read for it.

Rows are never guessed: a row whose id cannot be placed is skipped (the loader records a gap naming file
and line); a row that can be placed but holds a value that cannot be understood keeps its place with
``problems`` naming it, so the rule judging it says "not evaluated" for the resources it governs instead of
judging them on the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from audit_function.estate.rows import RowError, _list, _str, get_ci
from audit_function.estate.scopes import scope_key

ASSOCIATION = "microsoft.network/networksecurityperimeters/resourceassociations"
PROFILE = "microsoft.network/networksecurityperimeters/profiles"
ACCESS_RULE = "microsoft.network/networksecurityperimeters/profiles/accessrules"
#: access modes by lower-cased value: "learning" is the API value of Microsoft's "Transition" mode
MODES = {"learning": "Learning", "transition": "Learning", "enforced": "Enforced", "audit": "Audit"}

_PERIMETER = r"^(/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.network/networksecurityperimeters/[^/]+)"
_PROFILE_ID = re.compile(_PERIMETER + r"/profiles/[^/]+$")
_RULE_ID = re.compile(_PERIMETER + r"(/profiles/[^/]+)/accessrules/[^/]+$")
_ASSOCIATION_ID = re.compile(_PERIMETER + r"/resourceassociations/[^/]+$")


@dataclass(frozen=True, slots=True, eq=False)   # identity: every association of a profile shares its rule objects
class AccessRule:
    id: str
    name: str
    profile_key: str                       # lower-cased id of the profile it belongs to
    direction: str | None                  # "Inbound" | "Outbound" as written (None: missing)
    address_prefixes: tuple[str, ...]
    subscriptions: tuple[str, ...]         # subscription ids as written (inbound)
    perimeters: tuple[str, ...]            # perimeter ids as written (inbound, perimeter-based rules)
    service_tags: tuple[str, ...]          # inbound service tags (Microsoft: "currently unavailable for use")
    fqdns: tuple[str, ...]                 # outbound fully qualified domain names
    problems: tuple[str, ...] = ()         # values that could not be understood

    @property
    def inbound(self) -> bool:
        return (self.direction or "").lower() == "inbound"

    def evidence(self) -> dict:
        return {"name": self.name, "id": self.id, "addressPrefixes": list(self.address_prefixes)}


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    key: str
    name: str


@dataclass(frozen=True, slots=True)
class Association:
    id: str
    name: str
    resource_key: str                      # lower-cased id of the associated resource (vault or HSM)
    perimeter_id: str                      # the part of the association id naming its perimeter
    profile_id: str | None                 # properties.profile.id as written
    access_mode: str                       # "Learning" | "Enforced" | "Audit" (missing: Learning, the default)
    problems: tuple[str, ...] = ()
    profile_found: bool = False            # resolve(): a profile row or a rule of it was read
    rules: tuple[AccessRule, ...] = ()     # resolve(): the rules of its profile, by id
    inbound: tuple[AccessRule, ...] = ()   # resolve(): its inbound rules (one tuple shared by the profile's associations)
    rule_problems: tuple[tuple[AccessRule, str], ...] = ()   # resolve(): (rule, problem) of its rules

    @property
    def profile_key(self) -> str | None:
        return scope_key(self.profile_id) if self.profile_id else None

    def evidence(self) -> dict:
        return {"association": self.id, "perimeter": self.perimeter_id, "profile": self.profile_id,
                "accessMode": self.access_mode}


def perimeter_from_row(row: dict) -> Association | Profile | AccessRule | None:
    """One ``perimeter_associations`` row; None for a row of another type (the table may hold more)."""
    if not isinstance(row, dict):
        raise RowError("row is not a JSON object")
    rid = _str(row.get("id"), "id", required=True)
    kind = str(row.get("type") or "").lower()
    if kind not in (ASSOCIATION, PROFILE, ACCESS_RULE):
        return None
    key = scope_key(rid)
    name = _str(row.get("name"), "name") or rid.rsplit("/", 1)[-1]
    props = row.get("properties")
    if not isinstance(props, dict):
        raise RowError("properties is missing" if props is None else "properties must be an object")
    if kind == PROFILE:
        if not _PROFILE_ID.match(key):
            raise RowError("id is not <perimeter id>/profiles/<name>")
        return Profile(rid, key, name)
    if kind == ACCESS_RULE:
        match = _RULE_ID.match(key)
        if match is None:
            raise RowError("id is not <perimeter id>/profiles/<profile>/accessRules/<name>")
        return _access_rule(rid, name, match.group(1) + match.group(2), props)
    match = _ASSOCIATION_ID.match(key)
    if match is None:
        raise RowError("id is not <perimeter id>/resourceAssociations/<name>")
    target = get_ci(get_ci(props, "privateLinkResource"), "id")
    if not isinstance(target, str) or not target.strip():
        raise RowError("properties.privateLinkResource.id is missing: the associated resource is unknown")
    problems = []
    profile = get_ci(get_ci(props, "profile"), "id")
    if not isinstance(profile, str) or not profile.strip():
        problems.append("properties.profile.id is missing or not a string")
        profile = None
    raw_mode = get_ci(props, "accessMode")
    mode = "Learning" if raw_mode is None else MODES.get(raw_mode.lower()) if isinstance(raw_mode, str) else None
    if mode is None:
        problems.append(f"properties.accessMode {raw_mode!r} is not Learning, Enforced or Audit")
        mode = str(raw_mode)
    return Association(rid, name, scope_key(target), rid[:len(match.group(1))], profile, mode, tuple(problems))


def _access_rule(rid: str, name: str, profile_key: str, props: dict) -> AccessRule:
    problems: list[str] = []

    def strings(prop: str) -> tuple[str, ...]:
        try:
            values = _list(get_ci(props, prop), f"properties.{prop}")
        except RowError as exc:
            problems.append(str(exc))
            return ()
        bad = [v for v in values if not isinstance(v, str)]
        if bad:
            problems.append(f"properties.{prop} holds a value that is not a string ({bad[0]!r})")
        return tuple(v.strip() for v in values if isinstance(v, str))

    def ids(prop: str) -> tuple[str, ...]:
        try:
            values = _list(get_ci(props, prop), f"properties.{prop}")
        except RowError as exc:
            problems.append(str(exc))
            return ()
        out = []
        for i, item in enumerate(values):
            value = get_ci(item, "id") if isinstance(item, dict) else item
            if isinstance(value, str) and value.strip():
                out.append(value.strip())
            else:
                problems.append(f"properties.{prop}[{i}] has no id")
        return tuple(out)

    direction = get_ci(props, "direction")
    if not isinstance(direction, str):
        problems.append(f"properties.direction {direction!r} is not Inbound or Outbound")
        direction = None
    return AccessRule(rid, name, profile_key, direction, strings("addressPrefixes"), ids("subscriptions"),
                      ids("networkSecurityPerimeters"), strings("serviceTags"),
                      strings("fullyQualifiedDomainNames"), tuple(problems))


def resolve(rows: list) -> list[Association]:
    """The associations of a loaded table, each with its profile's access rules (sorted by id)."""
    profiles = {r.key for r in rows if isinstance(r, Profile)}
    rules: dict[str, list[AccessRule]] = {}
    for r in rows:
        if isinstance(r, AccessRule):
            rules.setdefault(r.profile_key, []).append(r)
    by_profile = {}   # profile key -> (rules, inbound rules, problems): computed once, shared by its associations
    for key, found in rules.items():
        found = tuple(sorted(found, key=lambda r: r.id.lower()))
        by_profile[key] = (found, tuple(r for r in found if r.inbound), tuple((r, p) for r in found for p in r.problems))
    out = []
    for a in rows:
        if not isinstance(a, Association):
            continue
        found, inbound, problems = by_profile.get(a.profile_key or "", ((), (), ()))
        out.append(replace(a, profile_found=a.profile_key in profiles or bool(found), rules=found, inbound=inbound,
                           rule_problems=problems))
    return sorted(out, key=lambda a: a.id.lower())


def unsure(resources: list, gaps) -> list:
    """After :func:`audit_function.estate.deep.attach`: when any part of the table could not be read (a collection
    gap, wherever its scope) or a row had to be skipped, a resource with no association found may have one
    there (an association lives in its perimeter's subscription, not the resource's): it is not read (None).
    Resources with an association found keep it."""
    if not any(g.table == "perimeter_associations" for g in gaps):
        return resources
    return [replace(r, perimeters=None) if r.perimeters == () else r for r in resources]
