"""The bitmask access model: Key Vault data actions, RBAC pattern matching, the access-policy
permission mapping, and the compilation of what a role definition or an access-policy entry grants
into masks (:func:`role_masks`, :func:`policy_permission_set`).

It sits below every stage: the estate's row parsers compile each distinct permission set once
(the model carries the masks, so nothing recompiles them), and the access engine, the rules,
migration and explain combine them.

Access is compared as *data actions*, never as permission names. A set of data actions is an
``int`` bitmask over :data:`DATA_ACTIONS` (the universe: every data action under
``Microsoft.KeyVault/vaults/`` in the provider operation list), so unions, coverage and
"what is missing" are single integer operations even for a million role assignments.

Sources (copied into ``audit_function/data/``, see ``data/SOURCES.md``):
- ``provider_operations_keyvault.json``: ``az provider operation show`` for Microsoft.KeyVault;
- ``access_policy_rbac_mapping.csv``: the community mapping linked from Microsoft's migration guide.
"""

from __future__ import annotations

import csv
import json
import re
from functools import lru_cache, reduce
from importlib import resources
from operator import or_

VAULTS_PREFIX = "microsoft.keyvault/vaults/"
VAULT_WRITE = "Microsoft.KeyVault/vaults/write"
ACCESS_POLICIES_WRITE = "Microsoft.KeyVault/vaults/accessPolicies/write"
ROLE_ASSIGNMENTS_WRITE = "Microsoft.Authorization/roleAssignments/write"
DEPLOY_ACTION = "Microsoft.KeyVault/vaults/deploy/action"

#: the control actions the catalog reads, as bits of a small control mask (same algebra as data masks)
CONTROL_ACTIONS = (VAULT_WRITE, ACCESS_POLICIES_WRITE, ROLE_ASSIGNMENTS_WRITE, DEPLOY_ACTION)
C_VAULT_WRITE, C_POLICY_WRITE, C_ROLE_WRITE, C_DEPLOY = (1 << i for i in range(len(CONTROL_ACTIONS)))
#: self-grant capability per permission model (catalog 2 conventions)
SELF_GRANT_ACCESS_POLICY = C_VAULT_WRITE | C_POLICY_WRITE | C_ROLE_WRITE
SELF_GRANT_RBAC = C_ROLE_WRITE
SELF_GRANT_ACTIONS = (VAULT_WRITE, ACCESS_POLICIES_WRITE, ROLE_ASSIGNMENTS_WRITE)

#: access-policy category names as they appear in ``permissions`` and in the mapping CSV
CATEGORIES = {"keys": "Key", "secrets": "Secret", "certificates": "Certificate", "storage": "Storage"}


def _data_file(name: str):
    return resources.files("audit_function.data").joinpath(name)


def _walk_operations(node, found: list[tuple[str, bool]]) -> None:
    if isinstance(node, dict):
        if "name" in node and "isDataAction" in node:
            found.append((node["name"], bool(node["isDataAction"])))
        for value in node.values():
            _walk_operations(value, found)
    elif isinstance(node, list):
        for value in node:
            _walk_operations(value, found)


def _load_data_actions() -> tuple[str, ...]:
    found: list[tuple[str, bool]] = []
    _walk_operations(json.loads(_data_file("provider_operations_keyvault.json").read_text()), found)
    names = {name for name, is_data in found if is_data and name.lower().startswith("microsoft.keyvault/vaults/")}
    return tuple(sorted(names, key=str.lower))


#: every Key Vault (vaults) data action, in a fixed order; bit i of a mask = DATA_ACTIONS[i]
DATA_ACTIONS: tuple[str, ...] = _load_data_actions()
_BIT = {name.lower(): 1 << i for i, name in enumerate(DATA_ACTIONS)}
ALL_DATA = (1 << len(DATA_ACTIONS)) - 1


def bit(action: str) -> int:
    """The mask bit of one data action (0 when it is not a Key Vault vault data action)."""
    return _BIT.get(action.lower(), 0)


def names(mask: int) -> list[str]:
    """The data actions in a mask, in universe order."""
    return list(_names(mask))


@lru_cache(maxsize=65536)
def _names(mask: int) -> tuple[str, ...]:
    out = []
    while mask:
        low = mask & -mask
        out.append(DATA_ACTIONS[low.bit_length() - 1])
        mask ^= low
    return tuple(out)


@lru_cache(maxsize=65536)
def _regex(pattern: str) -> re.Pattern[str]:
    # In RBAC patterns '*' matches any run of characters, '/' included; everything else is literal.
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.IGNORECASE | re.DOTALL)


def matches(pattern: str, action: str) -> bool:
    """Whether an RBAC action pattern matches a concrete action (case-insensitive)."""
    star = pattern.find("*")
    if star < 0:
        return pattern.lower() == action.lower()
    if star == len(pattern) - 1:  # the common 'Provider/type/*' form: a prefix test
        return action.lower().startswith(pattern[:-1].lower())
    return _regex(pattern).fullmatch(action) is not None


@lru_cache(maxsize=65536)
def pattern_mask(pattern: str) -> int:
    """The Key Vault data actions one pattern matches."""
    if "*" not in pattern:
        return bit(pattern)
    rx = _regex(pattern)
    mask = 0
    for i, action in enumerate(DATA_ACTIONS):
        if rx.fullmatch(action):
            mask |= 1 << i
    return mask


def patterns_mask(patterns) -> int:
    mask = 0
    for pattern in patterns:
        mask |= pattern_mask(pattern)
    return mask


def control_names(mask: int) -> list[str]:
    """The control actions in a control mask."""
    return [a for i, a in enumerate(CONTROL_ACTIONS) if mask >> i & 1]


def control_mask(actions, not_actions) -> int:
    """The catalog's control actions one permission block grants (``actions`` minus ``notActions``)."""
    return sum(1 << i for i, a in enumerate(CONTROL_ACTIONS) if grants_action(actions, not_actions, a))


def control_patterns_mask(patterns) -> int:
    """The catalog's control actions a list of patterns matches (no exclusions)."""
    return sum(1 << i for i, a in enumerate(CONTROL_ACTIONS) if any(matches(p, a) for p in patterns))


def self_grant_paths(control: int, rbac: bool) -> list[str]:
    """Self-grant paths a control mask opens on a vault of the given model (empty: none)."""
    paths = []
    if not rbac and control & (C_VAULT_WRITE | C_POLICY_WRITE):
        paths.append("access-policy-write")
    if control & C_ROLE_WRITE:
        paths.append("role-assignment-write")
    return paths


def grants_action(actions, not_actions, action: str) -> bool:
    """Whether one permission block grants ``action`` (``actions`` minus ``notActions``)."""
    return any(matches(p, action) for p in actions) and not any(matches(p, action) for p in not_actions)


# ---------------------------------------------------------------------------------------------
# Access-policy permissions


def _load_policy_map() -> dict[str, dict[str, int]]:
    by_label = {label: category for category, label in CATEGORIES.items()}
    table: dict[str, dict[str, int]] = {category: {} for category in CATEGORIES}
    with _data_file("access_policy_rbac_mapping.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            label, _, permission = row["Access Policy Permission"].partition(" ")
            category = by_label[label]
            mask = 0
            for action in row["RBAC Data Action"].split(";"):
                action_bit = bit(action.strip())
                if not action_bit:
                    raise ValueError(f"mapping names unknown data action {action!r}")
                mask |= action_bit
            table[category][permission.lower()] = table[category].get(permission.lower(), 0) | mask
    return table


#: category -> lower-cased permission name -> data-action mask (``all`` is derived, see below)
POLICY_MAP: dict[str, dict[str, int]] = _load_policy_map()
#: ``all`` = every permission of its category except ``purge``
ALL_EXCEPT_PURGE: dict[str, int] = {
    category: reduce(or_, (mask for name, mask in perms.items() if name != "purge"), 0)
    for category, perms in POLICY_MAP.items()
}
#: everything any access-policy permission can grant (purge included)
POLICY_UNIVERSE: int = reduce(or_, (mask for perms in POLICY_MAP.values() for mask in perms.values()), 0)


def permission_mask(category: str, permission: str) -> int | None:
    """Data actions of one access-policy permission; ``None`` when the name is unknown."""
    perms = POLICY_MAP.get(category)
    if perms is None:
        return None
    name = permission.lower()
    if name == "all":
        return ALL_EXCEPT_PURGE[category]
    return perms.get(name)


@lru_cache(maxsize=65536)
@lru_cache(maxsize=65536)
def describe(mask: int) -> str:
    """Data actions in plain words, e.g. ``"secrets: getSecret, readMetadata; keys: read"``.

    Lossless given the provider's action list (:func:`from_words` reads it back), so reports use
    it instead of repeating full action names (report 2: evidence stays compact).
    """
    groups: dict[str, list[str]] = {}
    for action in names(mask):
        rest = action[len("Microsoft.KeyVault/vaults/"):]
        kind, _, verb = rest.partition("/")
        groups.setdefault(kind, []).append(verb.removesuffix("/action") or kind)
    return "; ".join(f"{kind}: {', '.join(verbs)}" for kind, verbs in groups.items())


def _word(action: str) -> tuple[str, str]:
    rest = action[len("Microsoft.KeyVault/vaults/"):]
    kind, _, verb = rest.partition("/")
    return kind, verb.removesuffix("/action") or kind


@lru_cache(maxsize=1)
def _words_index() -> dict[tuple[str, str], int]:
    return {_word(a): 1 << i for i, a in enumerate(DATA_ACTIONS)}


def from_words(text: str) -> int:
    """The mask :func:`describe` put in words (``""`` is the empty set); unknown words raise ``ValueError``."""
    index, mask = _words_index(), 0
    for group in filter(None, (g.strip() for g in (text or "").split(";"))):
        kind, _, verbs = group.partition(":")
        for verb in filter(None, (v.strip() for v in verbs.split(","))):
            try:
                mask |= index[(kind.strip(), verb)]
            except KeyError:
                raise ValueError(f"not a Key Vault data action in words: {kind.strip()}: {verb}") from None
    return mask


# ---------------------------------------------------------------------------------------------
# Compiling what the estate grants into masks (called once per distinct row by the estate's row parsers)


_POLICY_SETS: dict[tuple, tuple] = {}


def policy_permission_set(key: tuple) -> tuple[dict, int, tuple[str, ...], tuple[str, ...]]:
    """(permissions by category, data mask, broad grants, unknown names) of one access-policy entry's
    permissions object, given as ``((category, (name, ...)), ...)``.

    Estates repeat a handful of permission sets across thousands of entries: each distinct set
    is mapped once and shared (treat the returned dict as read-only).
    """
    hit = _POLICY_SETS.get(key)
    if hit is not None:
        return hit
    data = 0
    permissions: dict[str, tuple[str, ...]] = {}
    broad: list[str] = []
    unknown: list[str] = []
    for category, names in key:
        cat = category.lower()
        if cat not in CATEGORIES:
            unknown.extend(f"{category}: {n}" for n in names)
            continue
        permissions[cat] = permissions.get(cat, ()) + names
        for name in names:
            mask = permission_mask(cat, name)
            if mask is None:
                unknown.append(f"{cat}: {name}")
                continue
            data |= mask
            if name.lower() in ("all", "purge"):
                broad.append(f"{cat}: {name.lower()}")
    hit = (permissions, data, tuple(dict.fromkeys(broad)), tuple(unknown))
    if len(_POLICY_SETS) < 100_000:
        _POLICY_SETS[key] = hit
    return hit


def role_masks(blocks) -> tuple[int, int, tuple[str, ...]]:
    """(data mask, control mask, wildcard patterns) a role definition's permission blocks grant.

    Per block: Key Vault data actions of ``dataActions`` minus ``notDataActions``; the catalog's
    control actions of ``actions`` minus ``notActions``; and the ``*`` patterns that match a Key
    Vault data action or a self-grant action (what the wildcard rule names).
    """
    data = control = 0
    wildcards: list[str] = []
    for block in blocks:
        data |= patterns_mask(block.data_actions) & ~patterns_mask(block.not_data_actions)
        control |= control_mask(block.actions, block.not_actions)
        wildcards.extend(p for p in block.data_actions if "*" in p and pattern_mask(p))
        wildcards.extend(p for p in block.actions if "*" in p and any(matches(p, a) for a in SELF_GRANT_ACTIONS))
    return data, control, tuple(dict.fromkeys(wildcards))
