"""``kv-audit diff`` and ``kv-audit tickets``: the week-over-week subcommands.

``register(subparsers)`` adds both to the main parser; each subparser sets ``handler`` to a
function ``(args) -> int`` (0 ok, 2 usage/input/configuration error with a message on stderr).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from audit_function.pipeline.config import load_config
from audit_function.errors import ConfigError, InputError, KvAuditError
from audit_function.history.diff import diff_reports, render_diff_text
from audit_function.quoting import terminal, terminal_lines
from audit_function.tickets import run_ticket_step
from audit_function.tickets.model import GROUP_BY
from audit_function.tickets.step import SINKS, write_atomically
from audit_function.vocabulary import SEVERITIES


def register(subparsers) -> None:
    diff = subparsers.add_parser(
        "diff", help="compare two JSON reports (new, resolved, unverified findings)",
        description="Compare two kv-audit JSON reports by finding fingerprint. Findings in "
                    "scopes the newer run could not read are unverified, never resolved.")
    diff.add_argument("old", metavar="OLD", help="the earlier kv-audit-report.json")
    diff.add_argument("new", metavar="NEW", help="the later kv-audit-report.json")
    diff.add_argument("--format", choices=("text", "json"), default="text")
    diff.set_defaults(handler=run_diff)

    tickets = subparsers.add_parser(
        "tickets", help="open, update and close tickets for a report's findings",
        description="Turn a JSON report's open, unsuppressed findings into tickets (Azure DevOps "
                    "Boards, GitHub Issues) or an import file (jsonl, csv). Re-runs update the "
                    "same tickets. Tokens: AZURE_DEVOPS_EXT_PAT or KV_AUDIT_ADO_TOKEN, "
                    "GITHUB_TOKEN.")
    tickets.add_argument("--report", required=True, metavar="FILE", help="kv-audit JSON report")
    tickets.add_argument("--sink", choices=SINKS, help="where tickets go (or tickets.sink)")
    tickets.add_argument("--group-by", choices=GROUP_BY,
                         help="one ticket per finding (default), per vault, per rule or per owner "
                              "(the owner tag of the vault, its resource group or its subscription)")
    tickets.add_argument("--close-resolved", action="store_const", const=True, default=None,
                         help="comment on and close tickets whose finding is resolved")
    tickets.add_argument("--min-severity", choices=SEVERITIES,
                         help="only findings at or above this severity get tickets")
    tickets.add_argument("--dry-run", action="store_true", help="print what would happen")
    tickets.add_argument("--out", metavar="FILE",
                         help="jsonl/csv: the import file (default: stdout); "
                              "other sinks: a JSON record of the actions")
    tickets.add_argument("--config", metavar="FILE",
                         help="configuration file (its tickets section)")
    tickets.add_argument("--organization", metavar="URL",
                         help="Azure DevOps organization URL, e.g. https://dev.azure.com/contoso")
    tickets.add_argument("--project", metavar="NAME", help="Azure DevOps project")
    tickets.add_argument("--work-item-type", metavar="TYPE", help="Azure DevOps work item type")
    tickets.add_argument("--repo", metavar="OWNER/NAME", help="GitHub repository")
    tickets.add_argument("--api-url", metavar="URL",
                         help="GitHub API base URL (GitHub Enterprise Server: https://HOST/api/v3)")
    tickets.set_defaults(handler=run_tickets)


def run_diff(args) -> int:
    try:
        old = load_report(args.old)
        new = load_report(args.new)
    except KvAuditError as e:
        return _fail(e)
    diff = diff_reports(old, new)
    if args.format == "json":
        # on a terminal every non-ASCII character is escaped: no raw C1 control (8-bit CSI) reaches it
        sys.stdout.write(json.dumps(diff, indent=2, ensure_ascii=sys.stdout.isatty()) + "\n")
    else:
        sys.stdout.write(terminal_lines(render_diff_text(diff)))
    return 0


def run_tickets(args) -> int:
    try:
        report = load_report(args.report)
        settings = _ticket_settings(args)
        summary = run_ticket_step(report, settings)
    except KvAuditError as e:
        return _fail(e)
    text = summary.render_text()
    if summary.export is not None and not summary.out and not summary.dry_run:
        sys.stdout.write(summary.export.decode("utf-8"))
        sys.stderr.write(terminal_lines(text))
        return 0
    sys.stdout.write(terminal_lines(text))
    if args.out and summary.export is None and not summary.dry_run:
        data = json.dumps(summary.to_dict(), indent=2, ensure_ascii=False).encode("utf-8")
        try:
            write_atomically(Path(args.out), data + b"\n")
        except KvAuditError as e:
            return _fail(e)
    return 0


def _ticket_settings(args) -> dict:
    settings: dict = {}
    if args.config:
        settings = dict(load_config(args.config, None).tickets or {})
    for key, value in (("sink", args.sink), ("groupBy", args.group_by),
                       ("closeResolved", args.close_resolved), ("minSeverity", args.min_severity)):
        if value is not None:
            settings[key] = value
    settings["dryRun"] = bool(args.dry_run)
    if args.out and settings.get("sink") in ("jsonl", "csv"):
        settings["out"] = args.out
    ado = dict(settings.get("azureDevOps") or {})
    for key, value in (("organizationUrl", args.organization), ("project", args.project),
                       ("workItemType", args.work_item_type)):
        if value:
            ado[key] = value
    github = dict(settings.get("github") or {})
    for key, value in (("repository", args.repo), ("apiUrl", args.api_url)):
        if value:
            github[key] = value
    settings["azureDevOps"], settings["github"] = ado, github
    if not settings.get("sink"):
        raise ConfigError("tickets: choose a sink with --sink (or tickets.sink in --config)")
    return settings


def load_report(path: str) -> dict:
    """Read a kv-audit JSON report; errors name the file (and line)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as e:
        raise InputError(path, f"cannot read the report: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise InputError(path, "the report is not UTF-8 text") from e
    try:
        report = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(path, f"not valid JSON: {e.msg} (column {e.colno})", e.lineno) from e
    except RecursionError:
        raise InputError(path, "nested too deeply to be a kv-audit report") from None
    if not isinstance(report, dict) or not isinstance(report.get("findings"), list):
        raise InputError(path, "not a kv-audit JSON report (no findings list)")
    for section in ("findings", "resolved", "unverified"):
        items = report.get(section)
        if items is not None and not (isinstance(items, list) and all(
                isinstance(f, dict) and isinstance(f.get("fingerprint"), str) for f in items)):
            raise InputError(path, f"not a kv-audit JSON report ('{section}' holds an entry that is not a finding "
                                   "with a fingerprint)")
    for section in ("run", "summary"):
        if report.get(section) is not None and not isinstance(report[section], dict):
            raise InputError(path, f"not a kv-audit JSON report ('{section}' is not an object)")
    return report


def _fail(error: KvAuditError) -> int:
    sys.stderr.write(f"kv-audit: {terminal(error)}\n")
    return getattr(error, "exit_code", 2)
