"""``kv-audit migrate``: the plan's per-vault steps through the Azure SDK (docs/migration.md, "kv-audit migrate").

The plan is made by ``migration.planner.run_plan`` (the same function ``kv-audit plan`` uses); live state always
comes from Azure Resource Manager (``KV_AUDIT_ARM_ENDPOINT`` overrides it, TLS trust follows
``REQUESTS_CA_BUNDLE``, the credential is ``DefaultAzureCredential``). ``--dry-run`` (the default) reads
live state and says what would happen; ``--apply`` acts. ``ready`` vaults go first, then
``needs-assignments``; ``blocked`` and ``review-latent-grants`` vaults are never acted on.

Exit status: 0 every selected vault done or nothing to do, 3 a vault stopped (drift) or failed (named),
2 usage or input error, 4 internal error.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from audit_function.errors import ConfigError, KvAuditError
from audit_function.migration.resume_log import DEFAULT_NAME, ResumeLog
from audit_function.quoting import terminal

DEFAULT_OUT = Path("migration")
ORDER = {"ready": 0, "needs-assignments": 1}
VISIBLE_ENV = "KV_AUDIT_MIGRATE_VISIBLE_TIMEOUT"
POLL_ENV = "KV_AUDIT_MIGRATE_POLL_SECONDS"


class Incomplete(KvAuditError):
    exit_code = 3


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "migrate", help="move access-policy vaults to Azure RBAC through the Azure SDK (--dry-run by default)",
        description=("Per vault: pre-flight against live state, create the planned role assignments, wait until "
                     "they are listed, flip enableRbacAuthorization (PATCH), verify, write a rollback. Blocked and "
                     "review-latent-grants vaults are never acted on. Nothing changes without --apply."))
    source = p.add_mutually_exclusive_group()
    source.add_argument("--demo", action="store_true", help="plan from the embedded demo estate")
    source.add_argument("--snapshot", type=Path, metavar="DIR", help="plan from a saved snapshot directory")
    source.add_argument("--live", action="store_true", help="plan from a live collection")
    p.add_argument("--management-group", action="append", default=[], metavar="NAME", help="with --live (repeatable)")
    p.add_argument("--subscription", action="append", default=[], metavar="ID", help="with --live (repeatable)")
    p.add_argument("--cloud", default="public", choices=("public", "usgov", "china"), help="Azure cloud")
    p.add_argument("--vault", action="append", default=[], metavar="NAME|ID",
                   help="migrate this vault (resource id, or name when unique; repeatable; default: all)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="(default) read live state and say what would happen")
    mode.add_argument("--apply", action="store_true", help="create assignments and flip the vaults")
    mode.add_argument("--rollback", action="store_true",
                      help="flip the --vault vaults back to access policies (from their rollback files in --out)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                   help="folder for the resume log and rollback files (default: migration/)")
    p.add_argument("--log", type=Path, metavar="FILE", help=f"resume log (default: --out/{DEFAULT_NAME})")
    p.add_argument("--visible-timeout", type=float, metavar="SECONDS",
                   help=f"longest wait for new assignments to be listed (default 600, or ${VISIBLE_ENV})")
    p.add_argument("--settle", type=float, default=600.0, metavar="SECONDS",
                   help="wait this long after the vault's last logged new assignment before the flip (default 600: "
                        "Microsoft documents up to 10 minutes for role assignments to apply)")
    p.set_defaults(handler=cmd_migrate)


def cmd_migrate(args, *, credential=None, sleep=time.sleep, clock=time.monotonic) -> int:
    if args.out.exists() and not args.out.is_dir():
        raise ConfigError(f"--out {args.out}: is not a folder")
    if not args.live and (args.management_group or args.subscription):
        raise ConfigError("--management-group and --subscription go with --live")
    log = ResumeLog(args.log or args.out / DEFAULT_NAME)
    if log.state.torn is not None:
        print(terminal(f"kv-audit migrate: the log {log.path} ends with a torn line (an interrupted run); it is "
                       f"ignored: {log.state.torn[:80]}"), file=sys.stderr)
    if args.rollback:
        from audit_function.migration.migrate_rollback import run_rollback

        return run_rollback(args, log, lambda: _arm(args, credential, sleep, clock))
    if not (args.demo or args.snapshot or args.live):
        raise ConfigError("give the plan's source: --demo, --snapshot DIR or --live")
    plans, estate, gaps = _plan(args)
    if gaps and args.apply:
        raise Incomplete(f"the estate has {len(gaps)} gap(s) (first: {gaps[0].get('scope')}: {gaps[0].get('reason')});"
                         " a vault's plan may miss assignments: collect again before --apply")
    from audit_function.migration import apply as steps

    waits = steps.Waits(visible_s=_seconds(args.visible_timeout, VISIBLE_ENV, 600.0),
                        poll_s=_seconds(None, POLL_ENV, 10.0), settle_s=max(0.0, args.settle))
    arm = _arm(args, credential, sleep, clock)
    try:
        ctx = steps.Context(arm, log, args.out, bool(args.apply), waits, sleep, clock, relied_on(estate, plans),
                            names(estate))
        outcomes = run_vaults(plans, ctx, log.state.states(), explicit=bool(args.vault))
    finally:
        arm.close()
    return report(outcomes, apply=bool(args.apply), log=log.path)


def _seconds(value, env: str, default: float) -> float:
    if value is None and os.environ.get(env, "").strip():
        try:
            value = float(os.environ[env])
        except ValueError:
            raise ConfigError(f"{env}={os.environ[env]!r}: not a number of seconds") from None
    value = default if value is None else value
    if value < 0:
        raise ConfigError(f"{env}: negative wait")
    return value


def _plan(args):
    from audit_function.cli.source import kind, live_scope
    from audit_function.migration.planner import run_plan
    from audit_function.pipeline.source import label, open_source

    source, described = open_source(kind(args), args.snapshot, scope=live_scope(args), live={"cloud": args.cloud})
    result = run_plan(source, None, formats=("json",), vaults=args.vault, label=label(described))
    return result.plans, result.estate, result.gaps   # one load (one live collection) for the plan and the checks


def _arm(args, credential, sleep, clock):
    from audit_function.collect import clouds
    from audit_function.migration.live_arm import LiveArm

    target = clouds.resolve(args.cloud)
    verify = clouds.connection_verify()
    cred = credential if credential is not None else clouds.default_credential(target)
    try:
        cred.get_token(target.token_scope)
    except Exception as exc:  # noqa: BLE001 - any credential failure: say it once, before any vault
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"no credential for Azure Resource Manager ({target.endpoint}): {first[:300].rstrip('.')}. "
                          "Sign in (az login), or set a managed identity or AZURE_* variables") from None
    return LiveArm(cred, target, verify, sleep=sleep, clock=clock)


def relied_on(estate, plans: list[dict]) -> dict[str, list[dict]]:
    """Per vault (lower-cased id): the snapshot's assignments at or above the vault that give an entry's
    principal (directly or through a group) data actions the entry has: the flip relies on them."""
    from audit_function.access.engine import AccessIndex
    from audit_function.migration import relied

    index = AccessIndex(estate)
    by_key = {v.key: v for v in estate.vaults}
    out: dict[str, list[dict]] = {}
    for plan in plans:
        vault = by_key.get(plan["vaultId"].lower().rstrip("/"))
        if vault is None:
            continue
        pairs = relied.relied_on(vault, index.vault_access(vault))
        out[plan["vaultId"].lower()] = [{"id": g.assignment.id, "roleName": g.role.name,
                                         "principalId": g.assignment.principal_id, "scope": g.assignment.scope}
                                        for _e, g in pairs]
    return out


def names(estate) -> dict[str, str]:
    return {k: p.display_name for k, p in (estate.principals or {}).items() if p.display_name}


def run_vaults(plans: list[dict], ctx, states: dict[str, tuple[str, str]], *, explicit: bool) -> list:
    from audit_function.migration import apply as steps

    order = sorted(plans, key=lambda p: ORDER.get(p["readiness"], 2))
    outcomes = []
    for plan in order:
        vid, name = plan["vaultId"], plan.get("vaultName") or plan["vaultId"]
        if plan["readiness"] not in ORDER:
            why = "; ".join(plan.get("reasons") or []) or plan["readiness"]
            outcomes.append(steps.VaultOutcome(vid, name, plan["readiness"], "stopped" if explicit else "not-acted",
                                               f"{plan['readiness']}, never acted on: {why}"))
            continue
        state, at = states.get(vid.lower(), ("", ""))
        if state in ("finished", "rolled-back"):     # as the generated script: both are left alone
            why = ("already migrated and verified (resume log)" if state == "finished" else
                   f"rolled back ({at}); delete its lines from the resume log to migrate it again")
            if ctx.apply:
                ctx.log.append(vid, "preflight", "skipped", why)
            outcomes.append(steps.VaultOutcome(vid, name, plan["readiness"], "skipped", why))
            continue
        outcomes.append(steps.migrate_vault(plan, ctx))
    return outcomes


def report(outcomes: list, *, apply: bool, log: Path) -> int:
    verb = "migrate" if apply else "migrate (dry run: nothing changed)"
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.state] = counts.get(o.state, 0) + 1
    print(f"kv-audit {verb}: {len(outcomes)} vault(s): "
          + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing to do"))
    for o in outcomes:
        print(terminal(f"  {o.name} [{o.readiness}]: {o.state}" + (f" - {o.reason}" if o.reason else "")))
        for line in o.lines:
            print(terminal(f"      {line}"))
    problems = [o for o in outcomes if o.problem]
    if apply:
        print(terminal(f"  log: {log}"))
    if problems:
        print(terminal("kv-audit migrate: stopped or failed: " + ", ".join(o.name for o in problems)), file=sys.stderr)
        return 3
    return 0
