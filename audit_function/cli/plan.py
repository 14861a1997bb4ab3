"""``kv-audit plan``: the command line of the migration planner (:mod:`audit_function.migration.planner`).

The command reads an estate (demo, snapshot directory, or live collection), plans every selected
access-policy vault and writes files; it never changes anything in Azure. Formats: ``cli``
(``kv-audit-plan.sh`` + ``custom-roles/*.json``), ``bicep`` (``bicep/``), ``terraform``
(``terraform/kv-audit-plan.tf``), ``json`` (``kv-audit-plan.json``). See docs/migration.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from audit_function.errors import ConfigError
from audit_function.migration.planner import FORMATS, JSON_NAME, PlanResult, run_plan, select_vaults  # noqa: F401
from audit_function.cli.progress import Progress
from audit_function.cli.source import kind, live_scope
from audit_function.pipeline.source import label as source_label, open_source
from audit_function.quoting import terminal

DEFAULT_OUT = Path("plans")


def register(subparsers) -> None:
    """Add ``plan`` to the ``kv-audit`` sub-commands (called by cli.build_parser)."""
    plan = subparsers.add_parser(
        "plan", help="write a plan to move access-policy vaults to Azure RBAC (never changes Azure)",
        description=("Plan the move of access-policy vaults to Azure RBAC: readiness per vault, least-privilege "
                     "roles per access-policy entry, custom roles where no built-in role fits, and an Azure CLI "
                     "script (vault by vault, checked against live state, resumable, with rollbacks), Bicep and "
                     "Terraform files to create the assignments and flip the vaults. Only writes files."))
    source = plan.add_mutually_exclusive_group(required=True)
    source.add_argument("--demo", action="store_true", help="plan the embedded demo estate (offline)")
    source.add_argument("--snapshot", type=Path, metavar="DIR", help="plan from a saved snapshot directory")
    source.add_argument("--live", action="store_true", help="collect from Azure Resource Graph and plan")
    scope = plan.add_argument_group("live scope (default: every subscription the identity can read)")
    scope.add_argument("--management-group", action="append", default=[], metavar="NAME",
                       help="plan the subscriptions under this management group (repeatable)")
    scope.add_argument("--subscription", action="append", default=[], metavar="ID",
                       help="plan this subscription (repeatable)")
    scope.add_argument("--cloud", default="public", choices=("public", "usgov", "china"), help="Azure cloud")
    plan.add_argument("--vault", action="append", default=[], metavar="ID",
                      help="plan this vault (resource id, or name when unique; repeatable; "
                           "default: every access-policy vault)")
    plan.add_argument("--format", action="append", default=[], metavar="FORMATS",
                      help="cli, bicep, terraform and/or json (repeatable or comma-separated; default: all four)")
    plan.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR", help="output folder (default: plans/)")
    plan.set_defaults(handler=cmd_plan)


def parse_formats(values) -> tuple[str, ...]:
    out: list[str] = []
    for value in values or ():
        for part in str(value).split(","):
            part = part.strip().lower()
            if part and part not in out:
                out.append(part)
    unknown = [f for f in out if f not in FORMATS]
    if unknown:
        raise ConfigError(f"unknown plan format(s) {', '.join(unknown)}; known: {', '.join(FORMATS)}")
    return tuple(out) or FORMATS


def cmd_plan(args) -> int:
    if not args.live and (args.management_group or args.subscription):
        raise ConfigError("--management-group and --subscription go with --live")
    formats = parse_formats(args.format)
    progress = Progress()
    source, described = open_source(kind(args), args.snapshot, scope=live_scope(args), live={"cloud": args.cloud},
                                    progress=progress)
    result = run_plan(source, args.out, formats=formats, vaults=args.vault, label=source_label(described),
                      progress=progress, cloud=args.cloud)
    from audit_function.migration import summarize

    print(f"kv-audit plan: {len(result.plans)} access-policy vault(s) planned, "
          f"{len(result.custom_roles)} custom role(s) proposed")
    for line in summarize(result.plans):
        print(f"  {terminal(line)}")
    for warning in result.warnings:
        print(f"  WARNING: {terminal(warning)}", file=sys.stderr)
    for path in result.written:
        print(f"  wrote {terminal(path)}")
    if not result.complete:
        print(f"  INCOMPLETE: the estate has {len(result.gaps)} gap(s); vaults or assignments may be missing from "
              "the plan", file=sys.stderr)
        for gap in result.gaps[:5]:
            print(terminal(f"    - {gap['scope']}: {gap['reason']}"), file=sys.stderr)
        return 3
    return 0


