"""The deeper snapshot tables (snapshot contract, "Deeper tables"): Managed HSM pools, key and secret
metadata, diagnostic settings and Defender plans, normalized once for the rules.

- ``managed_hsms`` rows become :class:`~audit_function.estate.model.Vault` objects of kind ``managedHsm``
  (same network and recovery properties as a vault; no access policies, no Azure RBAC data plane:
  their local RBAC is data plane and never read), kept in ``Estate.hsms``, not ``Estate.vaults``.
- ``vault_objects`` and ``diagnostic_settings`` rows are attached to their vault or HSM
  (``Vault.objects``, ``Vault.diagnostics``): ``()`` when the table was read and the resource has
  none, ``None`` when it was not read for that resource (a collection gap names it, or one of its
  rows had to be skipped). Rules treat ``None`` as "not evaluated", never as "passed".
- ``defender_plans`` becomes ``Estate.defender``: lower subscription id -> the ``KeyVaults`` plan.

Only metadata is ever read: no row carries a secret value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from audit_function.estate.model import Vault
from audit_function.estate.rows import RowError, _bool, _list, _str, get_ci
from audit_function.estate.scopes import prefixes, scope_key
from audit_function.estate.vault_rows import vault_from_row

HSM_KIND = "managedHsm"
HSM_MODEL = "managedHsmLocalRbac"   # the HSM's permission model: local RBAC (data plane, not read)
RESOURCE_TYPES = {"vault": "Microsoft.KeyVault/vaults", HSM_KIND: "Microsoft.KeyVault/managedHSMs"}
#: deep table -> the Vault attribute its rows are attached to
ATTACHED = {"vault_objects": "objects", "diagnostic_settings": "diagnostics",
            "perimeter_associations": "perimeters"}   # audit_function/estate/perimeters.py

_OBJECT_ID = re.compile(r"^(/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.keyvault/vaults/[^/]+)"
                        r"/(keys|secrets)/([^/]+)$")
_DIAGNOSTIC_MARK = "/providers/microsoft.insights/diagnosticsettings/"
#: category groups that include AuditEvent (https://learn.microsoft.com/azure/azure-monitor/essentials/diagnostic-settings)
AUDIT_GROUPS = ("audit", "alllogs")
DESTINATIONS = ("workspaceId", "storageAccountId", "eventHubAuthorizationRuleId", "marketplacePartnerId")


def hsm_from_row(row: dict) -> Vault:
    """A ``managed_hsms`` row as a Vault of kind managedHsm (properties read as a vault's are)."""
    vault = vault_from_row(row)
    return replace(vault, kind=HSM_KIND, model=HSM_MODEL, rbac_setting=None, access_policies=(),
                   template_deployment=False)


@dataclass(frozen=True, slots=True)
class VaultObject:
    id: str
    vault_key: str
    name: str
    kind: str                    # "key" | "secret"
    enabled: bool                # attributes.enabled (missing: enabled, ARM's default)
    exp: int | None              # attributes.exp, seconds since 1970 (None: never expires)
    rotation_actions: tuple[str, ...] | None   # lifetime action types; None: no rotation policy

    @property
    def rotates(self) -> bool:
        return any(a.lower() == "rotate" for a in self.rotation_actions or ())

    def evidence(self) -> dict:
        item = {"name": self.name, "id": self.id, "exp": self.exp}
        if self.kind == "key":
            item["rotationPolicyActions"] = list(self.rotation_actions) if self.rotation_actions is not None else None
        return item


def _epoch(value, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RowError(f"{what} must be seconds since 1970 (a number), got {value!r}")
    return int(value)


def object_from_row(row: dict) -> VaultObject:
    if not isinstance(row, dict):
        raise RowError("row is not a JSON object")
    oid = _str(row.get("id"), "id", required=True)
    match = _OBJECT_ID.match(scope_key(oid))
    if match is None:
        raise RowError("id is not <vault id>/keys/<name> or <vault id>/secrets/<name>")
    props = row.get("properties")
    if not isinstance(props, dict):
        raise RowError("properties is missing" if props is None else "properties must be an object")
    attrs = get_ci(props, "attributes") or {}
    if not isinstance(attrs, dict):
        raise RowError("properties.attributes must be an object")
    enabled = _bool(get_ci(attrs, "enabled"), "properties.attributes.enabled")
    actions = None
    policy = get_ci(props, "rotationPolicy")
    if policy is not None:
        if not isinstance(policy, dict):
            raise RowError("properties.rotationPolicy must be an object")
        actions = []
        for i, item in enumerate(_list(get_ci(policy, "lifetimeActions"), "properties.rotationPolicy.lifetimeActions")):
            action = get_ci(item, "action") if isinstance(item, dict) else None
            kind = get_ci(action, "type") if isinstance(action, dict) else None
            if not isinstance(kind, str):
                raise RowError(f"properties.rotationPolicy.lifetimeActions[{i}].action.type is missing")
            actions.append(kind)
        actions = tuple(actions)
    kind = "key" if match.group(2) == "keys" else "secret"
    return VaultObject(id=oid, vault_key=match.group(1), name=_str(row.get("name"), "name") or oid.rsplit("/", 1)[-1],
                       kind=kind, enabled=enabled is not False,
                       exp=_epoch(get_ci(attrs, "exp"), "properties.attributes.exp"),
                       rotation_actions=actions if kind == "key" else None)


@dataclass(frozen=True, slots=True)
class DiagnosticSetting:
    id: str
    resource_key: str
    name: str
    logs: tuple[tuple[str | None, str | None, bool], ...]   # (category, categoryGroup, enabled)
    destinations: dict

    @property
    def audit_logs(self) -> bool:
        """An enabled log entry that carries AuditEvent: the category itself, or the groups audit / allLogs."""
        return any(enabled and ((cat or "").lower() == "auditevent" or (group or "").lower() in AUDIT_GROUPS)
                   for cat, group, enabled in self.logs)

    @property
    def sends_audit(self) -> bool:
        return self.audit_logs and bool(self.destinations)

    def evidence(self) -> dict:
        return {"name": self.name, "id": self.id,
                "logs": [{"category": c, "categoryGroup": g, "enabled": e} for c, g, e in self.logs],
                "destinations": self.destinations}


def diagnostic_from_row(row: dict) -> DiagnosticSetting:
    if not isinstance(row, dict):
        raise RowError("row is not a JSON object")
    sid = _str(row.get("id"), "id", required=True)
    key = scope_key(sid)
    at = key.find(_DIAGNOSTIC_MARK)
    if at <= 0:
        raise RowError("id is not <resource id>/providers/microsoft.insights/diagnosticSettings/<name>")
    props = row.get("properties")
    if not isinstance(props, dict):
        raise RowError("properties is missing" if props is None else "properties must be an object")
    logs = []
    for i, entry in enumerate(_list(get_ci(props, "logs"), "properties.logs")):
        if not isinstance(entry, dict):
            raise RowError(f"properties.logs[{i}] must be an object")
        logs.append((_str(get_ci(entry, "category"), f"properties.logs[{i}].category"),
                     _str(get_ci(entry, "categoryGroup"), f"properties.logs[{i}].categoryGroup"),
                     _bool(get_ci(entry, "enabled"), f"properties.logs[{i}].enabled") is True))
    destinations = {}
    for name in DESTINATIONS:
        value = _str(get_ci(props, name), f"properties.{name}")
        if value:
            destinations[name] = value
    return DiagnosticSetting(id=sid, resource_key=key[:at], name=_str(row.get("name"), "name") or sid.rsplit("/", 1)[-1],
                             logs=tuple(logs), destinations=destinations)


@dataclass(frozen=True, slots=True)
class DefenderPlan:
    id: str
    subscription_id: str
    pricing_tier: str | None
    sub_plan: str | None

    @property
    def on(self) -> bool:
        return (self.pricing_tier or "").lower() == "standard"


def defender_from_row(row: dict) -> DefenderPlan | None:
    """A ``defender_plans`` row; None for plans other than KeyVaults (the table holds every pricing)."""
    if not isinstance(row, dict):
        raise RowError("row is not a JSON object")
    pid = _str(row.get("id"), "id", required=True)
    name = _str(row.get("name"), "name") or pid.rsplit("/", 1)[-1]
    if name.lower() != "keyvaults":
        return None
    sub = _str(row.get("subscriptionId"), "subscriptionId")
    parts = pid.split("/")
    if not sub and len(parts) > 2 and parts[1].lower() == "subscriptions":
        sub = parts[2]
    if not sub:
        raise RowError("subscriptionId is missing")
    props = row.get("properties") or {}
    if not isinstance(props, dict):
        raise RowError("properties must be an object")
    return DefenderPlan(pid, sub, _str(get_ci(props, "pricingTier"), "properties.pricingTier"),
                        _str(get_ci(props, "subPlan"), "properties.subPlan"))


def attach(resources: list[Vault], table: str, rows: list | None, gaps, mgs_of=lambda r: ()) -> list[Vault]:
    """Each resource with its rows of ``table`` attached (``()`` without rows); ``None`` where a gap of that
    table covers it (its id, a scope above it, or a management group its subscription is under, by
    ``mgs_of(resource)``) or names one of its rows. ``rows`` None (not collected): resources unchanged."""
    if rows is None:
        return resources
    attr = ATTACHED[table]
    owner = "vault_key" if table == "vault_objects" else "resource_key"
    by_key: dict[str, list] = {}
    for row in rows:
        by_key.setdefault(getattr(row, owner), []).append(row)
    keys = {r.key for r in resources}
    unread: set[str] = set()
    above: set[str] = set()
    for gap in gaps:
        if gap.table != table:
            continue
        gkey = scope_key(gap.scope or "/")
        hit = next((p for p in prefixes(gkey) if p in keys), None) if gkey != "/" else None
        if hit is not None:
            unread.add(hit)          # the gap names the resource or one of its rows
        else:
            above.add(gkey)          # a scope above resources (subscription, resource group, '/')
    mg_prefix = "/providers/microsoft.management/managementgroups/"
    unread_mgs = {k[len(mg_prefix):] for k in above if k.startswith(mg_prefix)}
    out = []
    for r in resources:
        missing = r.key in unread or "/" in above or (above and any(p in above for p in prefixes(r.key))) or (
            unread_mgs and not unread_mgs.isdisjoint(mgs_of(r)))
        out.append(replace(r, **{attr: None if missing else tuple(by_key.get(r.key, ()))}))
    return out
