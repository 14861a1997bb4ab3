"""Least-privilege built-in roles for an access-policy grant, and custom roles when none fits.

The question for every access-policy entry: which built-in Key Vault roles, assigned at the vault,
give the principal at least what the entry grants and as little more as possible? Access is
compared as data-action bitmasks (:mod:`audit_function.permissions`).

Candidates
    The built-in roles known to the estate (``estate.role_definitions``: the snapshot's, completed
    by the ones shipped with the tool) that grant at least one Key Vault data action: about a dozen.
    Custom roles are never proposed: their definitions are tenant-specific and may change.

Search
    Exact, not greedy: every subset of up to :data:`MAX_ROLES` candidates (a few hundred subsets)
    that covers the need is scored, and the lowest cost wins.

Cost (compared in this order, lowest first)
    1. the weight of the *material* excess (see below): what the roles grant beyond the entry
       that changes what the principal can see or do;
    2. the number of roles (fewer assignments are easier to review and to remove);
    3. the number of immaterial excess data actions;
    4. the role names, sorted, as a final deterministic tie-break.

    Material excess is ranked by risk: reading secret values 8, private-key use (decrypt, unwrap,
    sign, release) 6, purge 6, delete 5, other writes and exports (create, update, import,
    backup, restore, recover, rotate, set, …) 4, public-key use (encrypt, wrap, verify) 3.

Material excess (the predicate)
    An excess data action is *immaterial* when it is one of:
    - a metadata read (``keys/read``, ``secrets/readMetadata``, ``certificates/read``,
      ``certificatecas/read``, ``keyrotationpolicies/read``, ``storageaccounts/read``,
      ``storageaccounts/sas/read``): it reveals names and attributes, never secret values or keys;
    - ``purge`` of an object kind the entry may already delete: it makes a deletion the entry
      could already do permanent (what Microsoft's table accepts for the "all" templates, which
      never include purge);
    - an action no access-policy permission can express (``certificates/release``) on an object
      kind the entry fully manages (every permission of that category but purge);
    - a managed-storage-account action (the legacy feature) when the entry fully manages keys,
      secrets and certificates: Key Vault Administrator is the only built-in role for such an
      entry and the storage actions are all it adds besides purge and release.
    Everything else is material: reading secret values, cryptographic use, and writes, deletes,
    exports beyond what was granted. When the least-cost set still has material excess, the plan
    proposes a custom role granting exactly the entry's data actions (:func:`custom_role`).

With the built-in definitions this reproduces Microsoft's migration-guide table (tests in
``tests/migration/test_roles.py``): full key+secret+certificate management -> Key Vault
Administrator; key management -> Crypto Officer; secret management -> Secrets Officer; ...;
SQL Server Connector -> Crypto Service Encryption User; Azure Backup, Data Lake Storage and
Azure Information BYOK -> custom role.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import combinations

from audit_function import permissions as perms
from audit_function.estate.model import RoleDefinition

#: largest role set considered (one role per object kind is the most any entry needs)
MAX_ROLES = 4

#: namespace of the deterministic custom-role GUIDs (uuid5 of the data-action signature)
CUSTOM_ROLE_NAMESPACE = uuid.UUID("6f1d0f1e-4d2c-5b8a-9c1e-6b7a2f3c4d5e")

_PREFIX = "Microsoft.KeyVault/vaults/"
#: object kind of each data-action family (the first path segment after vaults/)
_KIND = {"keys": "keys", "keyrotationpolicies": "keys", "secrets": "secrets", "certificates": "certificates",
         "certificatecas": "certificates", "certificatecontacts": "certificates", "storageaccounts": "storage"}


def _mask(*suffixes: str) -> int:
    out = 0
    for suffix in suffixes:
        b = perms.bit(_PREFIX + suffix)
        if not b:
            raise ValueError(f"unknown Key Vault data action {suffix!r}")
        out |= b
    return out


def kind(action: str) -> str:
    """``keys`` | ``secrets`` | ``certificates`` | ``storage`` for a Key Vault data action."""
    return _KIND[action[len(_PREFIX):].split("/", 1)[0].lower()]


METADATA = _mask("keys/read", "keyrotationpolicies/read", "secrets/readMetadata/action", "certificates/read",
                 "certificatecas/read", "storageaccounts/read", "storageaccounts/sas/read")
SECRET_VALUES = _mask("secrets/getSecret/action")
PRIVATE_KEY_USE = _mask("keys/decrypt/action", "keys/unwrap/action", "keys/sign/action", "keys/release/action",
                        "certificates/release/action")
PUBLIC_KEY_USE = _mask("keys/encrypt/action", "keys/wrap/action", "keys/verify/action")
PURGE = {k: _mask(f"{s}/purge/action") for k, s in
         (("keys", "keys"), ("secrets", "secrets"), ("certificates", "certificates"), ("storage", "storageaccounts"))}
DELETE = {k: _mask(f"{s}/delete") for k, s in
          (("keys", "keys"), ("secrets", "secrets"), ("certificates", "certificates"), ("storage", "storageaccounts"))}
ALL_PURGE = PURGE["keys"] | PURGE["secrets"] | PURGE["certificates"] | PURGE["storage"]
ALL_DELETE = DELETE["keys"] | DELETE["secrets"] | DELETE["certificates"] | DELETE["storage"]
KIND_MASK = {k: sum(perms.bit(a) for a in perms.DATA_ACTIONS if kind(a) == k)
             for k in ("keys", "secrets", "certificates", "storage")}
#: "all" of an access-policy category (every permission but purge) = full management of that kind
MANAGES = dict(perms.ALL_EXCEPT_PURGE)

WEIGHTS = ((SECRET_VALUES, 8, "reads secret values"), (PRIVATE_KEY_USE, 6, "uses private keys"),
           (ALL_PURGE, 6, "purges (permanent deletion)"), (ALL_DELETE, 5, "deletes"),
           (PUBLIC_KEY_USE, 3, "uses public keys"))
WRITE_WEIGHT = (4, "writes or exports")


def manages(granted: int, category: str) -> bool:
    """Whether ``granted`` holds every permission of an access-policy category except purge."""
    return granted & MANAGES[category] == MANAGES[category]


def immaterial(granted: int) -> int:
    """The data actions whose excess over ``granted`` is immaterial (see the module docstring)."""
    out = METADATA
    for k in ("keys", "secrets", "certificates", "storage"):
        if granted & DELETE[k]:
            out |= PURGE[k]
        if manages(granted, k):
            out |= KIND_MASK[k] & ~perms.POLICY_UNIVERSE
    if all(manages(granted, k) for k in ("keys", "secrets", "certificates")):
        out |= KIND_MASK["storage"]
    return out


def weight(mask: int) -> int:
    """Risk weight of material excess data actions (each action counted once, highest class)."""
    total = 0
    rest = mask
    for cls, w, _ in WEIGHTS:
        total += w * bin(rest & cls).count("1")
        rest &= ~cls
    return total + WRITE_WEIGHT[0] * bin(rest).count("1")


def reasons(mask: int) -> list[str]:
    """Why material excess matters, in words: ``["reads secret values: secrets: getSecret"]``."""
    out = []
    rest = mask
    for cls, _, words in WEIGHTS:
        if rest & cls:
            out.append(f"{words}: {perms.describe(rest & cls)}")
            rest &= ~cls
    if rest:
        out.append(f"{WRITE_WEIGHT[1]}: {perms.describe(rest)}")
    return out


# ---------------------------------------------------------------------------------------------
# Candidates and the search


class RoleCatalog:
    """The candidate built-in roles of one estate, with solutions cached by (need, granted)."""

    def __init__(self, definitions: dict[str, RoleDefinition]) -> None:
        self.roles: tuple[RoleDefinition, ...] = tuple(sorted(
            (r for r in definitions.values() if not r.custom and r.data), key=lambda r: (r.name.lower(), r.guid)))
        self._cache: dict[tuple[int, int], Mapping | None] = {}

    def solve(self, need: int, granted: int | None = None) -> Mapping | None:
        """Least-cost role set covering ``need``; excess counted against ``granted`` (default: ``need``).

        ``None`` when no set of up to :data:`MAX_ROLES` candidates covers ``need``.
        """
        granted = need if granted is None else granted
        key = (need, granted)
        if key not in self._cache:
            self._cache[key] = _search(self.roles, need, granted)
        return self._cache[key]


@dataclass(frozen=True)
class Mapping:
    """A role set for one need, with what it grants beyond the entry (derived values computed once)."""

    roles: tuple[RoleDefinition, ...]
    need: int
    granted: int
    union: int

    @cached_property
    def excess(self) -> int:
        return self.union & ~self.granted

    @cached_property
    def material(self) -> int:
        return self.excess & ~immaterial(self.granted)

    @cached_property
    def cost(self) -> tuple:
        return (weight(self.material), len(self.roles), bin(self.excess & ~self.material).count("1"),
                tuple(sorted(r.name.lower() for r in self.roles)))

    @cached_property
    def _dict(self) -> dict:
        return {
            "roles": [{"id": role_id(r), "name": r.name} for r in self.roles],
            "excess": perms.names(self.excess),
            "excessInWords": perms.describe(self.excess),
            "materialExcess": perms.names(self.material),
            "materialReasons": reasons(self.material),
        }

    def as_dict(self) -> dict:
        """The mapping in report form (shared between entries with the same need: read-only)."""
        return self._dict


def role_id(role: RoleDefinition) -> str:
    """The tenant-independent id of a built-in role."""
    return f"/providers/Microsoft.Authorization/roleDefinitions/{role.guid}"


def _search(roles: tuple[RoleDefinition, ...], need: int, granted: int) -> Mapping | None:
    if not need:
        return Mapping((), need, granted, 0)
    useful = [r for r in roles if r.data & need]
    best: Mapping | None = None
    for size in range(1, MAX_ROLES + 1):
        for combo in combinations(useful, size):
            union = 0
            for r in combo:
                union |= r.data
            if union & need != need:
                continue
            candidate = Mapping(tuple(sorted(combo, key=lambda r: r.name.lower())), need, granted, union)
            if best is None or candidate.cost < best.cost:
                best = candidate
    return best


# ---------------------------------------------------------------------------------------------
# Custom roles


@lru_cache(maxsize=4096)
def custom_role_id(mask: int) -> str:
    """Deterministic GUID of the custom role granting exactly ``mask`` (same signature, same GUID)."""
    signature = ";".join(a.lower() for a in perms.names(mask))
    return str(uuid.uuid5(CUSTOM_ROLE_NAMESPACE, "kv-audit custom role:" + signature))


def custom_role(mask: int, subscription_ids) -> dict:
    """A custom role definition granting exactly ``mask``, assignable in ``subscription_ids``."""
    guid = custom_role_id(mask)
    words = perms.describe(mask)
    short = words if len(words) <= 100 else words[:97] + "..."
    name = f"kv-audit {guid[:8]} Key Vault access: {short}"
    scopes = sorted({f"/subscriptions/{s}" for s in subscription_ids if s}, key=str.lower)
    description = ("Created by kv-audit plan when moving a vault from access policies to Azure RBAC: exactly the "
                   f"data actions the access-policy entry granted ({words}), no more.")
    role = {"id": guid, "name": name, "description": description, "dataActions": perms.names(mask),
            "assignableScopes": scopes}
    return {**role, "definition": definition(role)}


def definition(role: dict) -> dict:
    """The ``az role definition create`` body of a :func:`custom_role` (plans keep only the fields)."""
    return {"Name": role["name"], "IsCustom": True, "Description": role["description"], "Actions": [],
            "NotActions": [], "DataActions": role["dataActions"], "NotDataActions": [],
            "AssignableScopes": role["assignableScopes"]}
