"""``kv-audit plan``: write a reviewable plan for moving access-policy vaults to Azure RBAC.

The command reads an estate (demo, snapshot directory, or live collection), plans every selected
access-policy vault (:func:`audit_function.migration.plan_vault`) and writes files; it never
changes anything in Azure. Formats: ``cli`` (``kv-audit-plan.sh`` + ``custom-roles/*.json``),
``bicep`` (``bicep/*.bicep``), ``json`` (``kv-audit-plan.json``). See docs/migration.md.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from audit_function import __version__
from audit_function.errors import ConfigError
from audit_function.quoting import terminal

FORMATS = ("cli", "bicep", "json")
DEFAULT_OUT = Path("plans")
JSON_NAME = "kv-audit-plan.json"


@dataclass
class PlanResult:
    plans: list[dict]
    custom_roles: list[dict]
    files: dict[str, bytes]
    written: list[Path] = field(default_factory=list)
    complete: bool = True
    gaps: list[dict] = field(default_factory=list)


def register(subparsers) -> None:
    """Add ``plan`` to the ``kv-audit`` sub-commands (called by cli.build_parser)."""
    plan = subparsers.add_parser(
        "plan", help="write a plan to move access-policy vaults to Azure RBAC (never changes Azure)",
        description=("Plan the move of access-policy vaults to Azure RBAC: readiness per vault, least-privilege "
                     "roles per access-policy entry, custom roles where no built-in role fits, and an Azure CLI "
                     "script and Bicep files to create the assignments and flip the vaults. Only writes files."))
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
                      help="cli, bicep and/or json (repeatable or comma-separated; default: all three)")
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
    progress = _progress()
    if args.demo:
        from audit_function.audit import demo_snapshot

        source, label = demo_snapshot(), "the demo estate"
    elif args.snapshot is not None:
        source, label = args.snapshot, f"snapshot {args.snapshot}"
    else:
        from audit_function.collect import LiveScope, collect_snapshot

        scope = LiveScope(management_groups=tuple(args.management_group), subscriptions=tuple(args.subscription))
        source = collect_snapshot(scope, cloud=args.cloud, progress=progress)
        label = "a live collection"
    result = run_plan(source, args.out, formats=formats, vaults=args.vault, label=label, progress=progress)
    from audit_function.migration import summarize

    print(f"kv-audit plan: {len(result.plans)} access-policy vault(s) planned, "
          f"{len(result.custom_roles)} custom role(s) proposed")
    for line in summarize(result.plans):
        print(f"  {terminal(line)}")
    for path in result.written:
        print(f"  wrote {terminal(path)}")
    if not result.complete:
        print(f"  INCOMPLETE: the estate has {len(result.gaps)} gap(s); vaults or assignments may be missing from "
              "the plan", file=sys.stderr)
        for gap in result.gaps[:5]:
            print(terminal(f"    - {gap['scope']}: {gap['reason']}"), file=sys.stderr)
        return 3
    return 0


def _progress():
    try:
        from audit_function.cli import Progress
    except ImportError:  # pragma: no cover - cli is always there in the package
        return None
    return Progress()


def run_plan(source, out: Path | None, *, formats=FORMATS, vaults=(), label: str = "", progress=None,
             as_of: datetime | None = None) -> PlanResult:
    """Load ``source`` (snapshot directory or RawSnapshot), plan, render ``formats``, write under ``out``.

    ``out=None`` renders without writing (``PlanResult.files``).
    """
    from audit_function.access import AccessIndex
    from audit_function.migration import custom_roles, plan_vault
    from audit_function.migration.files import write_plan_files
    from audit_function.snapshot import load_estate
    from rules.base import RuleContext

    estate = load_estate(source, progress=progress)
    selected = select_vaults(estate, vaults)
    ctx = RuleContext(as_of=as_of or datetime.now(timezone.utc), groups_expanded=estate.directory_data)
    index = AccessIndex(estate)
    plans = [plan_vault(v, index.vault_access(v), estate.role_definitions, ctx, principals=estate.principals)
             for v in selected]
    roles = custom_roles(plans)
    collected = (estate.manifest or {}).get("collectedAt")
    header = [f"Generated by kv-audit {__version__} plan from {label or 'a snapshot'}"
              + (f" (collected {collected})" if collected else "") + "."]
    files = render_files(plans, roles, raw_vault_rows(source, {v.key for v in selected}), formats, header)
    gaps = [g.as_dict() for g in estate.gaps]
    result = PlanResult(plans, roles, files, complete=not gaps, gaps=gaps)
    if out is not None:
        result.written = write_plan_files(Path(out), files)
    return result


def select_vaults(estate, selectors) -> list:
    """The access-policy vaults to plan: all of them, or those named by id (or unique name)."""
    if not selectors:
        return sorted((v for v in estate.vaults if not v.is_rbac), key=lambda v: v.key)
    by_key = {v.key: v for v in estate.vaults}
    chosen = {}
    for selector in selectors:
        text = selector.strip()
        if "/" in text:
            vault = by_key.get(text.lower().rstrip("/"))
            if vault is None:
                raise ConfigError(f"--vault {selector}: no such vault in the estate")
        else:
            named = [v for v in estate.vaults if v.name.lower() == text.lower()]
            if not named:
                raise ConfigError(f"--vault {selector}: no vault of that name in the estate")
            if len(named) > 1:
                raise ConfigError(f"--vault {selector}: {len(named)} vaults have that name; give the resource id")
            vault = named[0]
        if vault.is_rbac:
            raise ConfigError(f"--vault {selector}: the vault already uses Azure RBAC; nothing to plan")
        chosen[vault.key] = vault
    return sorted(chosen.values(), key=lambda v: v.key)


def raw_vault_rows(source, keys: set[str]) -> dict[str, dict]:
    """The snapshot rows of the vaults in ``keys`` (lower-cased ids), for the Bicep flip."""
    from audit_function.snapshot import RawSnapshot, iter_rows, table_path

    if isinstance(source, RawSnapshot):
        rows = source.tables.get("vaults") or []
    else:
        path = table_path(Path(source), "vaults")
        rows = (row for _, row in iter_rows(path)) if path else []
    out = {}
    for row in rows:
        if isinstance(row, dict) and isinstance(row.get("id"), str):
            key = row["id"].strip().lower().rstrip("/")
            if key in keys and key not in out:
                out[key] = row
    return out


def render_files(plans: list[dict], roles: list[dict], raw_vaults: dict[str, dict], formats, header: list[str]):
    """Relative path -> bytes for every requested format."""
    from audit_function.migration import bicep, script
    from audit_function.migration.readiness import summarize

    files: dict[str, bytes] = {}
    if "cli" in formats:
        files[script.SCRIPT_NAME] = script.render(plans, roles, header=header).encode()
        for role in roles:
            files[script.role_file(role)] = (json.dumps(role["definition"], indent=2) + "\n").encode()
    if "bicep" in formats:
        if roles:
            files[bicep.CUSTOM_ROLES_FILE] = bicep.render_custom_roles(roles, header).encode()
        groups: dict[str, list[dict]] = {}
        for plan in plans:
            groups.setdefault(bicep.file_name(plan["subscriptionId"], plan["resourceGroup"]), []).append(plan)
        for name, members in sorted(groups.items()):
            files[name] = bicep.render_group(members, header).encode()
            files[name[:-len(".bicep")] + ".flip.bicep"] = bicep.render_flip(members, raw_vaults, header).encode()
    if "json" in formats:
        doc = {"tool": {"name": "kv-audit", "version": __version__}, "header": header, "summary": summarize(plans),
               "vaults": plans, "customRoles": roles}
        files[JSON_NAME] = (json.dumps(doc, indent=2, sort_keys=False) + "\n").encode()
    return files
