"""The ``kv-audit explain`` subcommand (registered from :mod:`audit_function.cli.main`).

Exit status: 0 the request would be allowed, 1 it would be denied, 2 input error (an unparseable
error text names what it could not find), 3 the data needed to decide is missing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from audit_function.cli.source import kind as source_kind


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "explain", help="why an identity gets Forbidden on a vault, and the fix",
        description="Explain one Key Vault 403 from an estate: paste the error text (stdin or --error), or give "
                    "--vault, --principal and --action. Never calls the Key Vault data plane.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--demo", action="store_true", help="use the embedded demo estate (offline)")
    source.add_argument("--snapshot", type=Path, metavar="DIR", help="use a saved snapshot directory")
    source.add_argument("--live", action="store_true", help="read what the answer needs from Azure Resource Graph")
    p.add_argument("--error", metavar="TEXT", help="the error text (default: read stdin when no --vault is given)")
    p.add_argument("--vault", metavar="NAME|ID", help="vault name or id (an object id inside it names the object)")
    p.add_argument("--principal", metavar="OBJECT_ID|APP_ID|NAME", help="who makes the request")
    p.add_argument("--action", metavar="ACTION", help="'secrets get', 'getSecret' or a full data action")
    p.add_argument("--from-ip", metavar="ADDRESS", help="source address, for the network verdict")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--cloud", default="public", choices=("public", "usgov", "china"), help="Azure cloud (--live)")
    p.set_defaults(handler=cmd_explain)


def cmd_explain(args) -> int:
    from audit_function.explain import parse
    from audit_function.explain.render import text
    from audit_function.explain.run import explain

    if args.error is not None or not (args.vault or args.principal or args.action):
        if args.error is None and sys.stdin.isatty():
            raise parse.ExplainInputError("paste the error text on stdin (end with Ctrl-D), or pass --error TEXT, "
                                          "or --vault, --principal and --action")
        raw = args.error if args.error is not None else sys.stdin.read()
        request = parse.with_ip(parse.parse_error(raw), args.from_ip)
        if args.action:
            from dataclasses import replace

            request = replace(request, action=parse.resolve_action(args.action))
    else:
        request = parse.from_arguments(args.vault, args.principal, args.action, args.from_ip)
    doc = explain(request, source_kind(args), args.snapshot, live={"cloud": args.cloud})
    if args.format == "json":
        print(json.dumps(doc, indent=2))
    else:
        sys.stdout.write(text(doc))
    return doc["exitCode"]
