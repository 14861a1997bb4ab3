"""Who owns a finding: the first configured owner tag on the vault, else on its resource group,
else on its subscription (report 2: ``owner`` on every finding).

Tag names are matched exactly as configured (``ownerTags`` in the configuration file, default
``owner``, ``Owner``, ``technicalContact``), in that order on each level before the next level is
tried. A value that is not a string, or is blank, is ignored (the next name, then the next level,
is tried). Grant and role-definition findings take the owner of the scope they live at when that
scope is a vault (or an object inside one), a resource group or a subscription of the estate.

The resource-group tags come from the optional snapshot table ``resource_groups`` (Resource Graph
``resourcecontainers``, ``collect/queries/resource_groups.kql``); without it the chain skips that
level.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit_function.vocabulary import OWNER_TAGS, tag_owner  # noqa: F401
from audit_function.estate.rows import RowError
from audit_function.estate.scopes import AUTHORIZATION_MARKER, VAULT_SEGMENT, scope_key

#: the default owner tag names, in order (report 2)
DEFAULT_OWNER_TAGS = OWNER_TAGS
_SUB = "/subscriptions/"


@dataclass(frozen=True, slots=True)
class ResourceGroup:
    key: str          # /subscriptions/<sub>/resourcegroups/<name>, lower-cased
    id: str
    tags: dict


def resource_group_key(subscription_id: str, name: str) -> str:
    return f"{_SUB}{subscription_id}/resourcegroups/{name}".lower()


def resource_group_from_row(row: dict) -> ResourceGroup:
    """A ``resourcecontainers`` row of type ``microsoft.resources/subscriptions/resourcegroups``."""
    if not isinstance(row, dict):
        raise RowError("row is not a JSON object")
    rid, sub, name = row.get("id"), row.get("subscriptionId"), row.get("name")
    key = None
    if isinstance(rid, str) and rid.strip():
        key = scope_key(rid)
        parts = key.split("/")
        if len(parts) != 5 or parts[1] != "subscriptions" or parts[3] != "resourcegroups" or not parts[2] or not parts[4]:
            raise RowError(f"id {rid!r} is not a resource group id (/subscriptions/<id>/resourceGroups/<name>)")
    elif isinstance(sub, str) and sub and isinstance(name, str) and name:
        key = resource_group_key(sub, name)
        rid = f"{_SUB}{sub}/resourceGroups/{name}"
    else:
        raise RowError("id is missing (and subscriptionId/name cannot stand in for it)")
    tags = row.get("tags")   # like a vault's: anything but an object is no tags
    return ResourceGroup(key, rid, tags if isinstance(tags, dict) else {})


class Owners:
    """Owner resolution for one estate: built once, then asked per vault or per scope."""

    def __init__(self, estate, tag_names: tuple[str, ...] = DEFAULT_OWNER_TAGS) -> None:
        self.names = tuple(tag_names)
        self.subscriptions = {k: s.tags for k, s in estate.subscriptions.items()}
        self.resource_groups = dict(getattr(estate, "resource_groups", None) or {})
        self.vaults = {v.key: v for v in estate.vaults}
        self._scopes: dict[str, str | None] = {}

    def of_tags(self, tags) -> str | None:
        return tag_owner(tags, self.names)

    def of_subscription(self, subscription_id: str | None) -> str | None:
        if not subscription_id:
            return None
        return tag_owner(self.subscriptions.get(subscription_id.lower()), self.names)

    def of_resource_group(self, subscription_id: str | None, name: str | None) -> str | None:
        """The resource group's owner tag, else its subscription's."""
        if subscription_id and name:
            found = tag_owner(self.resource_groups.get(resource_group_key(subscription_id, name)), self.names)
            if found is not None:
                return found
        return self.of_subscription(subscription_id)

    def of_vault(self, vault) -> str | None:
        if vault is None:
            return None
        found = tag_owner(getattr(vault, "tags", None), self.names)
        if found is not None:
            return found
        return self.of_resource_group(vault.subscription_id, vault.resource_group)

    def of_scope(self, scope: str | None) -> str | None:
        """Owner of a grant's scope: a vault (or an object in one), resource group or subscription of
        the estate; ``None`` for a management group, the root, another resource or an unknown scope."""
        if not scope:
            return None
        key = scope_key(scope)
        if key not in self._scopes:
            self._scopes[key] = self._scope(key)
        return self._scopes[key]

    def _scope(self, key: str) -> str | None:
        if not key.startswith(_SUB):
            return None
        parts = key.split("/")
        sub = parts[2]
        if VAULT_SEGMENT in key:
            head, tail = key.split(VAULT_SEGMENT, 1)
            vault = self.vaults.get(head + VAULT_SEGMENT + tail.split("/", 1)[0])
            return self.of_vault(vault)
        if len(parts) == 3:
            return self.of_subscription(sub) if sub in self.subscriptions else None
        if len(parts) == 5 and parts[3] == "resourcegroups":
            known = key in self.resource_groups or sub in self.subscriptions
            return self.of_resource_group(sub, parts[4]) if known else None
        return None

    def of_role(self, role, grant_scopes=()) -> str | None:
        """A role definition's owner: that of the scope it is defined at (a custom role's id,
        ``/subscriptions/<id>/providers/Microsoft.Authorization/roleDefinitions/<guid>``), else the
        one owner all its listed grants' scopes share."""
        rid = str(getattr(role, "id", "") or "").lower()
        if AUTHORIZATION_MARKER in rid:
            found = self.of_scope(rid.split(AUTHORIZATION_MARKER, 1)[0])
            if found is not None:
                return found
        owners = {self.of_scope(s) for s in grant_scopes}
        return owners.pop() if len(owners) == 1 else None


def check_owner_tags(check, node) -> tuple[str, ...]:
    """``ownerTags`` in the configuration file: a non-empty list of distinct tag names.

    ``check`` is config.py's checker (errors name the file and line)."""
    if not isinstance(node.value, list) or not node.value:
        raise check.fail(node, "ownerTags must be a non-empty list of tag names, e.g. [owner, Owner, technicalContact]")
    names, seen = [], {}
    for i, item in enumerate(node.value):
        name = check.string(item, f"ownerTags[{i}]")
        if name in seen:
            raise check.fail(item, f"ownerTags[{i}]: {name!r} is already listed as ownerTags[{seen[name]}]")
        seen[name] = i
        names.append(name)
    return tuple(names)
