"""Deep collection (``collect --deep``): key and secret metadata per vault with azure-mgmt-keyvault and the
diagnostic settings of every vault and Managed HSM pool with azure-mgmt-monitor, from Azure Resource Manager.

``extend_snapshot`` adds the snapshot tables ``vault_objects`` and ``diagnostic_settings`` to a RawSnapshot
whose ``vaults`` and ``managed_hsms`` Resource Graph already returned:

- per vault: ``keys.list`` (Microsoft.KeyVault/vaults/keys, control plane) and ``secrets.list``
  (Microsoft.KeyVault/vaults/secrets: metadata only, ARM never returns a secret's value, and rows keep only
  the contract's keys, so none could slip through). A key's ``rotationPolicy`` is a property of the
  control-plane key resource (the SDK's ``Key.rotation_policy``; REST Keys - Get). The listing may leave
  it out, so for each listed key without one the key is read once more with ``keys.get``: what that
  answer says is recorded (no policy there: no policy). Nothing here needs a data-plane role or passes
  the vault firewall; Reader is enough.
- per vault and per HSM: ``diagnostic_settings.list(resource id)`` (Microsoft.Insights/diagnosticSettings).

Calls run on a bounded thread pool, ordered round-robin across subscriptions (ARM's read quota is per
subscription), each subscription paced by its own ArmPacer (x-ms-ratelimit-remaining-subscription-reads,
429 Retry-After, 5xx back-off) through the retry loop of arm_authorization.list_scope. A vault or HSM
that cannot be read (403, a 404, still throttled or failing after bounded retries) is a manifest gap
naming it (``{"scope": resource id, "table": ..., "reason": ...}``); the others are unaffected.
Progress: ``deep: vaults done N of M``.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.monitor import MonitorManagementClient

from audit_function import __version__
from audit_function.collect.arm_authorization import (ScopeFailed, _Counters, _emit, _serialized, list_scope,
                                                      read_one, read_page)
from audit_function.collect.arm_pacing import ArmPacer
from audit_function.collect.pacing import BudgetExhausted

TABLES = ("vault_objects", "diagnostic_settings")
WORKERS = 16
#: the api-versions the pinned SDKs use (azure-mgmt-keyvault 14.1.0; azure-mgmt-monitor 6.0.2's diagnostic settings)
API_VERSIONS = {"vault_objects": "2026-05-15", "diagnostic_settings": "2021-05-01-preview"}
_NO_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
#: contract keys of a vault_objects row's properties (docs: snapshot contract, "Deeper tables")
OBJECT_KEYS = ("attributes", "rotationPolicy", "kty", "contentType")
ATTRIBUTE_KEYS = ("enabled", "exp", "nbf", "created", "updated")
SETTING_KEYS = ("workspaceId", "storageAccountId", "eventHubAuthorizationRuleId", "marketplacePartnerId")


@dataclass(frozen=True)
class Target:
    """One resource to read: ``scope`` is its ARM id (what list_scope and gaps name)."""

    scope: str
    subscription: str
    resource_group: str
    name: str
    kind: str          # "vault" | "managedHsm"


def target_of(row, kind: str) -> Target | None:
    rid = row.get("id") if isinstance(row, dict) else None
    parts = rid.split("/") if isinstance(rid, str) else []
    if len(parts) != 9 or parts[1].lower() != "subscriptions" or parts[3].lower() != "resourcegroups":
        return None
    return Target(rid, parts[2].lower(), parts[4], parts[8], kind)


class _Listing:
    """What list_scope pages through: ``page(scope, token, read_timeout)`` on one SDK operation."""

    def __init__(self, table: str, listing) -> None:
        self.table, self._listing = table, listing

    def page(self, scope, token, read_timeout):
        return read_page(self._listing, token, read_timeout)


class _Get(_Listing):
    def page(self, scope, token, read_timeout):
        model, headers = read_one(self._listing, read_timeout)
        return [model], None, headers


def object_row(model) -> dict:
    """A key or secret as the contract's row: id, name, type and the metadata properties only."""
    wire = model.as_dict()
    props = wire.get("properties") or {}
    out = {k: props.get(k) for k in OBJECT_KEYS if k != "attributes"}
    attrs = props.get("attributes") or {}
    out["attributes"] = {k: attrs.get(k) for k in ATTRIBUTE_KEYS}
    return {"id": wire.get("id"), "name": wire.get("name"), "type": wire.get("type"), "properties": out}


def setting_row(model) -> dict:
    wire = model.serialize(keep_readonly=True)
    props = wire.get("properties") or {}
    logs = [{"category": e.get("category"), "categoryGroup": e.get("categoryGroup"), "enabled": e.get("enabled")}
            for e in props.get("logs") or []]
    return {"id": wire.get("id"), "name": wire.get("name"), "type": wire.get("type"),
            "properties": {"logs": logs, **{k: props.get(k) for k in SETTING_KEYS}}}


class _Clients:
    """One KeyVaultManagementClient per subscription (its id is in every URL), one MonitorManagementClient."""

    def __init__(self, credential, target, verify) -> None:
        self._args = dict(base_url=target.endpoint, credential_scopes=[target.token_scope], connection_verify=verify,
                          retry_total=0, user_agent=f"kv-audit/{__version__}")
        self._credential = credential
        self._lock = threading.Lock()
        self._keyvault: dict[str, KeyVaultManagementClient] = {}
        self.monitor = MonitorManagementClient(credential, _NO_SUBSCRIPTION, **self._args)

    def keyvault(self, subscription: str) -> KeyVaultManagementClient:
        with self._lock:
            client = self._keyvault.get(subscription)
            if client is None:
                client = self._keyvault[subscription] = KeyVaultManagementClient(
                    self._credential, subscription, **self._args)
            return client

    def close(self) -> None:
        for client in [*self._keyvault.values(), self.monitor]:
            client.close()


def round_robin(targets: list[Target]) -> list[Target]:
    """Targets interleaved across subscriptions, so concurrent calls spread over ARM's per-subscription quotas."""
    queues: dict[str, deque] = {}
    for t in targets:
        queues.setdefault(t.subscription, deque()).append(t)
    out, ring = [], deque(queues.values())
    while ring:
        queue = ring.popleft()
        out.append(queue.popleft())
        if queue:
            ring.append(queue)
    return out


def extend_snapshot(raw, credential, target, verify, *, progress=None, sleep, clock, budget_s: float | None,
                    workers: int = WORKERS) -> None:
    """Add vault_objects and diagnostic_settings (rows, manifest counts, gaps, request counts) to ``raw``."""
    started = clock()
    if progress is not None:
        progress = _serialized(progress)
    vaults = [t for t in (target_of(r, "vault") for r in raw.tables.get("vaults", [])) if t]
    hsms = [t for t in (target_of(r, "managedHsm") for r in raw.tables.get("managed_hsms", [])) if t]
    targets = round_robin(vaults + hsms)
    pacers: dict[str, ArmPacer] = {}
    pacer_lock = threading.Lock()
    counters = _Counters()
    clients = _Clients(credential, target, verify)
    found: dict[str, dict[str, dict]] = {t: {} for t in TABLES}
    gaps: list[dict] = []
    lock = threading.Lock()
    done = [0, 0]   # resources done, key re-reads

    def pacer_for(sub: str) -> ArmPacer:
        with pacer_lock:
            if sub not in pacers:
                left = None if budget_s is None else budget_s - (clock() - started)
                pacers[sub] = ArmPacer(sleep=sleep, clock=clock, budget_s=left, progress=progress, reserve=workers)
            return pacers[sub]

    def read(listing, t: Target) -> list:
        return list_scope(listing, t, pacer_for(t.subscription), counters, None)

    def objects_of(t: Target) -> list[dict]:
        kv = clients.keyvault(t.subscription)
        rows = []
        for key in read(_Listing("vault_objects", lambda **kw: kv.keys.list(t.resource_group, t.name, **kw)), t):
            if key.properties is not None and key.properties.rotation_policy is None:
                (key,) = read(_Get("vault_objects", lambda name=key.name, **kw: kv.keys.get(
                    t.resource_group, t.name, name, **kw)), t)
                with lock:
                    done[1] += 1
            rows.append(object_row(key))
        rows += [object_row(s) for s in read(
            _Listing("vault_objects", lambda **kw: kv.secrets.list(t.resource_group, t.name, **kw)), t)]
        return rows

    def settings_of(t: Target) -> list[dict]:
        ops = clients.monitor.diagnostic_settings
        return [setting_row(s) for s in read(_Listing("diagnostic_settings",
                                                      lambda **kw: ops.list(t.scope.lstrip("/"), **kw)), t)]

    def work(t: Target) -> None:
        jobs = ([("vault_objects", objects_of)] if t.kind == "vault" else []) + [("diagnostic_settings", settings_of)]
        for table, job in jobs:
            try:
                rows = job(t)
            except BudgetExhausted:
                reason = "time budget exhausted before this resource was read"
            except ScopeFailed as exc:
                reason = str(exc)
            else:
                with lock:
                    for row in rows:
                        rid = row.get("id")
                        found[table].setdefault(rid.lower() if isinstance(rid, str) else f"(no id) {len(found[table])}",
                                                row)
                continue
            gap = {"scope": t.scope, "table": table, "reason": reason}
            with lock:
                gaps.append(gap)
            _emit(progress, "gap", **gap)
        with lock:
            done[0] += 1
            n = done[0]
        if progress is not None and (n % 100 == 0 or n == len(targets)):
            progress("vaults", done=n, total=len(targets),
                     text=f"deep: vaults done {n} of {len(targets)} (keys, secrets, diagnostic settings)")

    try:
        for table in TABLES:
            _emit(progress, "table", table=table, state="start")
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kv-audit-deep") as pool:
            for future in [pool.submit(work, t) for t in targets]:
                future.result()
    finally:
        clients.close()
    order = {(t.scope.lower()): i for i, t in enumerate(targets)}
    gaps.sort(key=lambda g: (TABLES.index(g["table"]), order[g["scope"].lower()]))
    for table in TABLES:
        keyed = found[table]
        raw.tables[table] = [keyed[k] for k in sorted(keyed)]
        _emit(progress, "table", table=table, state="done", rows=len(keyed))
    _merge_manifest(raw.manifest, {t: len(found[t]) for t in TABLES}, gaps, counters, pacers, len(vaults), len(hsms), done[1], clock() - started)


def _merge_manifest(manifest, counts, gaps, counters, pacers, vaults: int, hsms: int, rereads: int, seconds: float) -> None:
    if manifest is None:
        return
    manifest.setdefault("tables", {}).update(counts)
    manifest["gaps"] = list(manifest.get("gaps") or []) + gaps
    manifest["complete"] = bool(manifest.get("complete", True)) and not gaps
    manifest["deep"] = {"vaults": vaults, "managedHsms": hsms, "requests": counters.requests,
                        "keyRereads": rereads, "throttleWaits": sum(p.throttle_waits for p in pacers.values()),
                        "retries": sum(p.retry_waits for p in pacers.values()), "apiVersions": dict(API_VERSIONS),
                        "durationSeconds": round(seconds, 3)}
    manifest["notes"] = list(manifest.get("notes") or []) + [
        "vault_objects and diagnostic_settings are ARM control-plane reads per vault and Managed HSM (keys.list, "
        "secrets.list, diagnosticSettings): metadata only, never a secret value; a key listed without "
        "rotationPolicy is read once more with keys.get, whose answer is recorded"]
