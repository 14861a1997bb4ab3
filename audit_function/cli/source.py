"""A command's source arguments: --demo, --snapshot DIR or --live, and the live scope.

Resolving them is :func:`audit_function.pipeline.source.open_source` (one resolver for every command).
"""

from __future__ import annotations

import argparse


def kind(args) -> str:
    """The source kind the arguments chose: ``demo``, ``snapshot`` or ``live``."""
    return "demo" if args.demo else "snapshot" if args.snapshot is not None else "live"


def scope_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("live scope (default: every subscription the identity can read)")
    group.add_argument("--management-group", action="append", default=[], metavar="NAME",
                       help="audit the subscriptions under this management group (repeatable)")
    group.add_argument("--subscription", action="append", default=[], metavar="ID",
                       help="audit this subscription (repeatable)")
    group.add_argument("--cloud", default="public", choices=("public", "usgov", "china"),
                       help="Azure cloud (endpoint overrides: KV_AUDIT_ARM_ENDPOINT, KV_AUDIT_GRAPH_ENDPOINT)")
    group.add_argument("--deep", action="store_true",
                       help="also read key and secret metadata and diagnostic settings per vault and Managed HSM "
                            "(ARM) and Defender for Key Vault plans (Resource Graph); Reader is enough")
    group.add_argument("--no-directory", action="store_true",
                       help="do not resolve principal names through Microsoft Graph (names stay null; "
                            "without the Directory.Read.All permission they stay null anyway)")


def live_scope(args):
    from audit_function.collect import LiveScope

    return LiveScope(management_groups=tuple(args.management_group), subscriptions=tuple(args.subscription))
