"""One vault's migration: pre-flight, assign, wait until visible, pre-flight again, flip, verify, rollback file.

:func:`migrate_vault` runs the steps of one plan element against :class:`~audit_function.migration.live_arm.LiveArm`
and returns a :class:`VaultOutcome`; it never raises for an Azure answer (a failure is the vault's result,
named), so one vault's failure never stops another. Each step writes one resume-log line
(:mod:`audit_function.migration.resume_log`) before the next one starts.

Propagation: new assignments are polled with ``list_for_scope`` until every one is listed, for at most
``Waits.visible_s`` (default 600 s). Microsoft documents that a role assignment change can take up to
about 10 minutes to apply (Key Vault RBAC guide, "Azure role assignment latency":
https://learn.microsoft.com/azure/key-vault/general/rbac-guide; Azure RBAC troubleshooting:
https://learn.microsoft.com/azure/role-based-access-control/troubleshooting). Listed is what ARM can show;
data-plane enforcement may lag it, so the flip waits until ``Waits.settle_s`` (default 600 s) have passed since
the vault's last ``assign ok`` line in the resume log (an interrupted run's included: a resumed run waits
only what remains).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from audit_function.collect.arm_authorization import ScopeFailed
from audit_function.collect.pacing import BudgetExhausted
from audit_function.migration import drift, resume_log
from audit_function.migration.resume_log import ResumeLog
from audit_function.quoting import shell_option

ROLLBACK_DIR = "rollback"
#: what a rollback does not need to restore, said in every rollback file and message
POLICIES_NOTE = ("the flip only set enableRbacAuthorization: the vault's access policies were not changed and are "
                 "in force again as soon as the flag is false; the role assignments created stay (remove them "
                 "separately if they are not wanted)")


#: Microsoft: "it will take up to 10 minutes (600 seconds) after role assignments is changed for role to be
#: applied" (https://learn.microsoft.com/azure/key-vault/general/rbac-guide, known limits)
SETTLE_S = 600.0


@dataclass
class Waits:
    visible_s: float = 600.0     # bound for new assignments to be listed (Microsoft: up to ~10 minutes)
    poll_s: float = 10.0         # between listings while waiting
    settle_s: float = SETTLE_S   # after the last assign ok (logged), before the flip


@dataclass
class VaultOutcome:
    vault_id: str
    name: str
    readiness: str
    state: str                   # done | skipped | stopped | failed | not-acted | would-migrate
    reason: str = ""
    lines: list[str] = field(default_factory=list)
    rollback: Path | None = None

    @property
    def problem(self) -> bool:
        return self.state in ("stopped", "failed")


@dataclass
class Context:
    arm: object                  # LiveArm (or anything with the same methods)
    log: ResumeLog | None
    out: Path
    apply: bool
    waits: Waits
    sleep: object = time.sleep
    clock: object = time.monotonic
    relied_on: dict = field(default_factory=dict)   # vault key -> [assignment dicts the plan relies on]
    names: dict = field(default_factory=dict)       # principal key -> display name
    wall: object = time.time                        # wall clock, compared with the log's ``at`` times


def who(ctx: Context, principal_id: str) -> str:
    name = ctx.names.get(str(principal_id).lower())
    return f"{name} ({principal_id})" if name else str(principal_id)


def migrate_vault(plan: dict, ctx: Context) -> VaultOutcome:
    vid = plan["vaultId"]
    out = VaultOutcome(vid, plan.get("vaultName") or vid, plan["readiness"], "failed")
    step = "preflight"

    def log(step_name: str, result: str, detail: str = "") -> None:
        if ctx.log is not None and ctx.apply:
            ctx.log.append(vid, step_name, result, detail)

    try:
        relied = ctx.relied_on.get(vid.lower(), [])
        planned = drift.planned_assignments(plan)
        live = ctx.arm.live(vid)
        check = drift.compare(plan, live, relied_on=relied, names=ctx.names)
        if check.drift:
            return _stop(out, log, check.problems)
        if check.done:
            out.lines.append("pre-flight: the vault already enforces Azure RBAC")
            if not ctx.apply:
                out.state, out.reason = "done", "already uses Azure RBAC"
                return out
            log("preflight", "skipped", "the vault already enforces Azure RBAC")
            step = "verify"
            return _verify(plan, ctx, out, log)
        planned, absent = _resolve_custom(planned, ctx)
        if absent:
            reason = "; ".join(absent)
            log("assign", "failed", reason)
            out.state, out.reason = "failed", f"assign: {reason}"
            return out
        missing = drift.missing_planned(planned, live.assignments)
        out.lines.append(f"pre-flight: no drift ({len(live.policies)} access-policy entries as planned, "
                         f"{len(relied)} existing assignment(s) relied on still there)")
        if not ctx.apply:
            for p in missing:
                out.lines.append(f"would assign {p.role_name} to {who(ctx, p.principal_id)} at the vault")
            for p in planned:
                if p not in missing:
                    out.lines.append(f"already assigned: {p.role_name} to {who(ctx, p.principal_id)}")
            out.lines.append("would set enableRbacAuthorization=true (PATCH), verify, and write a rollback file")
            out.state = "would-migrate"
            return out
        log("preflight", "ok", f"{len(live.policies)} access-policy entries and {len(relied)} relied-on assignments "
                               "as planned")
        step = "assign"
        created = exists = 0
        for p in missing:
            if ctx.arm.create(p, plan["subscriptionId"]) == "created":
                created += 1
            else:
                exists += 1
            out.lines.append(f"assigned {p.role_name} to {who(ctx, p.principal_id)}")
        if missing:     # "ok" only for a change: the settle before the flip counts from the last one
            log("assign", "ok" if created else "skipped", f"{created} created, {exists} already existed, "
                                                          f"{len(planned) - len(missing)} already listed")
        else:
            log("assign", "skipped", "nothing to assign" if not planned else "every planned assignment is listed")
        step = "visible"
        if missing:
            live = _await_visible(vid, planned, ctx)
            if live is None:
                gone = drift.missing_planned(planned, ctx.arm.assignments(vid))
                reason = (f"not listed after {ctx.waits.visible_s:g}s: "
                          + "; ".join(f"{p.role_name} for {p.principal_id}" for p in gone))
                log("visible", "failed", reason)
                out.state, out.reason = "failed", f"visible: {reason}"
                return out
            log("visible", "ok", f"{len(missing)} new assignment(s) listed")
        # Microsoft: role assignment changes can take up to 10 minutes to apply; wait what remains of
        # --settle since the vault's last logged assign ok (a resumed run counts the earlier run's)
        left = resume_log.settle_left(ctx.log.state.records if ctx.log else [], vid, ctx.waits.settle_s, ctx.wall())
        if left > 0:
            out.lines.append(f"waited {left:.0f}s for the new role assignments to take effect")
            ctx.sleep(left)
        step = "preflight"
        check = drift.compare(plan, ctx.arm.live(vid), relied_on=relied, planned=planned, names=ctx.names)
        if check.drift or check.done:
            if check.done:
                log("preflight", "skipped", "the vault already enforces Azure RBAC")
                step = "verify"
                return _verify(plan, ctx, out, log)
            return _stop(out, log, check.problems)
        log("preflight", "ok", "re-checked before the flip")
        step = "flip"
        value = ctx.arm.set_rbac(vid, True)
        log("flip", "ok", f"enableRbacAuthorization PATCHed to true (ARM answered {json.dumps(value)})")
        out.lines.append("flipped: enableRbacAuthorization=true")
        step = "verify"
        return _verify(plan, ctx, out, log)
    except (ScopeFailed, BudgetExhausted) as exc:
        reason = str(exc) if isinstance(exc, ScopeFailed) else "time budget exhausted"
        log(step, "failed", reason)
        out.state, out.reason = "failed", f"{step}: {reason}"
        return out


def _resolve_custom(planned, ctx: Context):
    """Planned assignments with each custom role's GUID as ARM has it, found by name at its assignable scope
    (``az role definition create`` picks its own GUID); and a message per custom role that does not exist."""
    resolved, absent, cache = [], [], {}
    for p in planned:
        if p.custom_scope is None:
            resolved.append(p)
            continue
        key = (p.custom_scope.lower(), p.role_name)
        if key not in cache:
            cache[key] = ctx.arm.custom_role_guid(p.custom_scope, p.role_name)
        guid = cache[key]
        if guid is None:
            msg = (f"custom role '{p.role_name}' does not exist at {p.custom_scope}: create it from the plan's "
                   "files first (custom-roles/*.json with az role definition create, or custom-roles-*.bicep)")
            if msg not in absent:
                absent.append(msg)
            continue
        resolved.append(dataclasses.replace(p, role_guid=guid))
    return resolved, absent


def _stop(out: VaultOutcome, log, problems: list[str]) -> VaultOutcome:
    detail = "; ".join(problems)
    log("preflight", "drift", detail)
    out.state, out.reason = "stopped", f"drift: {detail}"
    out.lines.extend(f"drift: {p}" for p in problems)
    return out


def _await_visible(vid: str, planned, ctx: Context):
    deadline = ctx.clock() + ctx.waits.visible_s
    while True:
        live = ctx.arm.live(vid)
        if not drift.missing_planned(planned, live.assignments):
            return live
        if ctx.clock() + ctx.waits.poll_s > deadline:
            return None
        ctx.sleep(ctx.waits.poll_s)


def _verify(plan: dict, ctx: Context, out: VaultOutcome, log) -> VaultOutcome:
    rbac, policies = ctx.arm.read_vault(plan["vaultId"])
    if rbac is not True:
        log("verify", "failed", f"enableRbacAuthorization is {json.dumps(rbac)} after the flip")
        out.state, out.reason = "failed", f"verify: enableRbacAuthorization is {json.dumps(rbac)} after the flip"
        return out
    out.rollback = write_rollback(ctx.out, plan, len(policies))
    log("verify", "ok", f"Azure RBAC in force; {len(policies)} access-policy entries kept; rollback: {out.rollback}")
    out.lines.append(f"verified: Azure RBAC in force; rollback file {out.rollback}")
    out.state = "done"
    return out


def rollback_path(out: Path, vault_id: str, name: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9-]", "_", name)[:60] or "vault"
    digest = hashlib.sha256(vault_id.lower().encode()).hexdigest()[:8]
    return Path(out) / ROLLBACK_DIR / f"{safe}-{digest}.json"


def write_rollback(out: Path, plan: dict, policies: int) -> Path:
    """The vault's rollback: PATCH enableRbacAuthorization back to false (written atomically)."""
    path = rollback_path(out, plan["vaultId"], plan.get("vaultName") or "")
    doc = {"vaultId": plan["vaultId"], "vaultName": plan.get("vaultName"), "subscriptionId": plan.get("subscriptionId"),
           "resourceGroup": plan.get("resourceGroup"),
           "rollback": {"method": "PATCH", "properties": {"enableRbacAuthorization": False}},
           "kvAudit": "kv-audit migrate --rollback " + shell_option("--vault", plan["vaultId"]),
           "azureCli": (plan.get("flip") or {}).get("rollback"),
           "accessPoliciesAtFlip": policies, "note": POLICIES_NOTE}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
