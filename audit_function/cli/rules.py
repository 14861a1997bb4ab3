"""``kv-audit rules``: list the rule catalog with severities (text or JSON)."""

from __future__ import annotations

import json


def register(sub) -> None:
    rules = sub.add_parser("rules", help="list the rule catalog with severities")
    rules.add_argument("--format", choices=("text", "json"), default="text")
    rules.set_defaults(handler=cmd_rules)


def cmd_rules(args) -> int:
    from rules import ALL_RULES

    if args.format == "json":
        print(json.dumps([{"id": r.META.id, "severity": r.META.severity, "title": r.META.title,
                           "appliesTo": r.META.applies_to, "models": list(r.META.models), "subject": r.META.subject,
                           "rationale": r.META.rationale, "remediation": r.META.remediation,
                           "references": list(r.META.references)} for r in ALL_RULES], indent=2))
        return 0
    width = max(len(r.META.id) for r in ALL_RULES)
    for rule in ALL_RULES:
        print(f"{rule.META.id:<{width}}  {rule.META.severity:<6}  {rule.META.title}")
    return 0
