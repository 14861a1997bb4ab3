"""``kv-audit collect``: collect a snapshot from Azure Resource Graph (and Graph, ARM) into a folder."""

from __future__ import annotations

import sys
from pathlib import Path

from audit_function.cli.common import out_folder
from audit_function.cli.progress import Progress
from audit_function.cli.source import live_scope, scope_arguments
from audit_function.quoting import terminal


def register(sub) -> None:
    collect = sub.add_parser("collect", help="collect a snapshot from Azure Resource Graph",
                             description="Write a snapshot directory (see docs/contracts/snapshot.md).")
    collect.add_argument("--live", action="store_true", help="(default) collect from Azure Resource Graph")
    scope_arguments(collect)
    collect.add_argument("--out", type=Path, required=True, metavar="DIR", help="snapshot directory to write")
    collect.add_argument("--gzip", action="store_true", help="compress the tables (.jsonl.gz)")
    collect.set_defaults(handler=cmd_collect)


def cmd_collect(args) -> int:
    from audit_function.collect import collect_snapshot, write_snapshot

    out_folder(args.out)
    raw = collect_snapshot(live_scope(args), cloud=args.cloud, progress=Progress(),
                           directory=not args.no_directory, **({"deep": True} if args.deep else {}))
    write_snapshot(raw, args.out, gzip=args.gzip)
    manifest = raw.manifest or {}
    tables = ", ".join(f"{k} {v}" for k, v in (manifest.get("tables") or {}).items())
    print(terminal(f"kv-audit: snapshot written to {args.out} ({tables})"))
    for entry in manifest.get("coverage") or []:
        if entry.get("state") != "collected":
            print(terminal(f"  {entry.get('source')}: {entry.get('state')}: {entry.get('note')}"), file=sys.stderr)
    if manifest.get("gaps"):
        print(f"  INCOMPLETE: {len(manifest['gaps'])} gap(s) listed in manifest.json", file=sys.stderr)
        return 3
    return 0
