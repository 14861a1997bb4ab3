"""``kv-audit audit``: audit an estate and write the reports (and the terminal summary)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from audit_function.cli.common import formats, out_folder, usage
from audit_function.cli.progress import Progress
from audit_function.cli.source import kind, live_scope, scope_arguments
from audit_function.vocabulary import SEVERITIES

DEFAULT_OUT = Path("reports")


def register(sub) -> None:
    audit = sub.add_parser("audit", help="audit an estate and write the reports",
                           description="Audit the demo estate, a saved snapshot, or a live estate.")
    source = audit.add_mutually_exclusive_group(required=True)
    source.add_argument("--demo", action="store_true", help="audit the embedded demo estate (offline)")
    source.add_argument("--snapshot", type=Path, metavar="DIR", help="audit a saved snapshot directory")
    source.add_argument("--live", action="store_true", help="collect from Azure Resource Graph and audit")
    scope_arguments(audit)
    audit.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                       help="folder for kv-audit-report.json / .xlsx (default: reports/)")
    audit.add_argument("--format", type=formats, default=("json", "xlsx"), metavar="FORMATS",
                       help="comma-separated report formats: json, xlsx, ocsf, html, access "
                            "(kv-audit-access.jsonl.gz: who has data access to which vault) (default: json,xlsx)")
    audit.add_argument("--fail-on", choices=SEVERITIES, metavar="SEVERITY",
                       help="exit 1 when an unsuppressed finding at or above SEVERITY exists")
    audit.add_argument("--config", type=Path, metavar="FILE", help="configuration file (suppressions, thresholds)")
    audit.add_argument("--previous", type=Path, metavar="FILE",
                       help="the previous run to compare with: its kv-audit-state.json.gz or its JSON report "
                            "(default: the state file already in --out, else the report there)")
    logs = audit.add_argument_group("Microsoft Sentinel / Log Analytics (the report in --out is written as well)")
    logs.add_argument("--sink", choices=("sentinel",), help="also send findings, vaults and the run summary "
                      "through the Logs Ingestion API (settings: AUDIT_LOGS_ENDPOINT, AUDIT_LOGS_RULE_ID, "
                      "AUDIT_LOGS_STREAM_*; a failed upload is a gap: exit 3)")
    logs.add_argument("--logs-endpoint", metavar="URL", help="data collection endpoint (default: AUDIT_LOGS_ENDPOINT)")
    logs.add_argument("--logs-rule-id", metavar="DCR_ID", help="data collection rule immutable id (default: AUDIT_LOGS_RULE_ID)")
    audit.set_defaults(handler=cmd_audit)


def _previous_report(path: Path):
    """``--previous FILE``: a state file (kv-audit-state.json.gz) or a JSON report."""
    from audit_function.errors import InputError
    from audit_function.history.previous import PreviousReportError
    from audit_function.history.state import read_previous_chunks
    from audit_function.sinks.local import file_chunks

    if not path.is_file():
        raise InputError(str(path), "previous report or state file does not exist")
    try:
        return read_previous_chunks(lambda: file_chunks(path))
    except PreviousReportError as exc:
        raise InputError(str(path), str(exc)) from None


def cmd_audit(args) -> int:
    from audit_function.pipeline.run import AuditOptions, run_audit
    from audit_function.sinks.local import LocalFolderSink

    common = {"formats": args.format, "fail_on": args.fail_on, "config_path": args.config, "workers": None}
    source = kind(args)
    if source == "live":
        options = AuditOptions(source="live", scope=live_scope(args),
                               live={"cloud": args.cloud, "directory": not args.no_directory,
                                     **({"deep": True} if args.deep else {})}, **common)
    else:
        options = AuditOptions(source=source, snapshot=args.snapshot, **common)
    if not args.live and (args.management_group or args.subscription or args.no_directory):
        raise usage("--management-group, --subscription and --no-directory go with --live")
    out_folder(args.out)
    if not args.live and args.deep:
        raise usage("--deep goes with --live (a snapshot holds the deeper tables it was collected with)")
    previous = _previous_report(args.previous) if args.previous else None
    logs = _logs_sink(args)
    sink = LocalFolderSink(args.out)
    progress = Progress()
    outcome = run_audit(options, sink, progress=progress, previous=previous, logs=logs)
    progress.end()   # the summary starts on a line of its own
    try:
        from audit_function.cli.summary import print_summary

        print_summary(outcome)
        sys.stdout.flush()
    except BrokenPipeError:  # `kv-audit audit … | head`: the reports are written; the exit code still counts
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return outcome.exit_code


def _logs_sink(args):
    """``--sink sentinel``: the Sentinel sink from AUDIT_LOGS_* (flags override), or None."""
    if args.sink != "sentinel":
        if args.logs_endpoint or args.logs_rule_id:
            raise usage("--logs-endpoint and --logs-rule-id go with --sink sentinel")
        return None
    from audit_function.function.settings import LOGS_ENDPOINT, LOGS_RULE_ID, LogsSettings

    environ = dict(os.environ)
    if args.logs_endpoint:
        environ[LOGS_ENDPOINT] = args.logs_endpoint
    if args.logs_rule_id:
        environ[LOGS_RULE_ID] = args.logs_rule_id
    settings = LogsSettings.from_env(environ, required=True)
    from azure.identity import DefaultAzureCredential

    return settings.sink(DefaultAzureCredential())
