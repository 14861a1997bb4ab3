"""The ``kv-audit`` command line (contract: shared spec cli.md). Argument handling only.

Exit status: 0 complete, 1 a finding at or above --fail-on, 2 usage/configuration/input error,
3 complete=false (the report lists the gaps), 4 internal error (a bug; never a traceback exiting 1),
130 interrupted (Ctrl-C), 143 terminated (SIGTERM, 128 + 15).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from audit_function import __version__
from audit_function.errors import KvAuditError
from audit_function.quoting import terminal
from audit_function.vocabulary import SEVERITIES

DEFAULT_OUT = Path("reports")


class Progress:
    """Progress lines on a terminal (stderr); silent when stderr is not a terminal."""

    def __init__(self, stream=None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self._last = 0.0
        self._open = False      # a progress line is on screen without its newline

    def end(self) -> None:
        """End the progress line on screen, if any (before anything else is printed)."""
        if self.enabled and self._open:
            self.stream.write("\n")
            self.stream.flush()
        self._open = False

    def __call__(self, event: str, **fields) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        final = event in ("table", "done", "throttle", "gap") or fields.get("done") is True
        if not final and now - self._last < 0.2:
            return
        self._last = now
        text = fields.get("text")   # an event that words itself ("principals resolved N of M")
        line = (terminal(text) if isinstance(text, str)
                else f"{event} " + " ".join(f"{k}={terminal(v)}" for k, v in fields.items()))
        self.stream.write(f"\r\x1b[K[{now - self.started:6.1f}s] {line}")
        if final:
            self.stream.write("\n")
        self._open = not final
        self.stream.flush()


def _scope_arguments(parser: argparse.ArgumentParser) -> None:
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


def _formats(text: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in text.split(",") if part.strip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kv-audit", description=(
        "Audit Azure Key Vault access under the permission model each vault enforces."))
    parser.add_argument("--version", action="version", version=f"kv-audit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    audit = sub.add_parser("audit", help="audit an estate and write the reports",
                           description="Audit the demo estate, a saved snapshot, or a live estate.")
    source = audit.add_mutually_exclusive_group(required=True)
    source.add_argument("--demo", action="store_true", help="audit the embedded demo estate (offline)")
    source.add_argument("--snapshot", type=Path, metavar="DIR", help="audit a saved snapshot directory")
    source.add_argument("--live", action="store_true", help="collect from Azure Resource Graph and audit")
    _scope_arguments(audit)
    audit.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                       help="folder for kv-audit-report.json / .xlsx (default: reports/)")
    audit.add_argument("--format", type=_formats, default=("json", "xlsx"), metavar="FORMATS",
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

    collect = sub.add_parser("collect", help="collect a snapshot from Azure Resource Graph",
                             description="Write a snapshot directory (see docs/contracts/snapshot.md).")
    collect.add_argument("--live", action="store_true", help="(default) collect from Azure Resource Graph")
    _scope_arguments(collect)
    collect.add_argument("--out", type=Path, required=True, metavar="DIR", help="snapshot directory to write")
    collect.add_argument("--gzip", action="store_true", help="compress the tables (.jsonl.gz)")
    collect.set_defaults(handler=cmd_collect)

    rules = sub.add_parser("rules", help="list the rule catalog with severities")
    rules.add_argument("--format", choices=("text", "json"), default="text")
    rules.set_defaults(handler=cmd_rules)

    _register_optional(sub)
    return parser


def _register_optional(sub) -> None:
    """Commands that live in their own modules (diff, tickets, plan)."""
    from audit_function.cli import history as cli_history
    from audit_function.cli import plan as cli_plan
    from audit_function.cli import explain as explain_command
    from audit_function.cli import migrate as migrate_command

    cli_history.register(sub)
    cli_plan.register(sub)
    migrate_command.register(sub)
    explain_command.register(sub)


def _live_scope(args):
    from audit_function.collect import LiveScope

    return LiveScope(management_groups=tuple(args.management_group), subscriptions=tuple(args.subscription))


def _previous_report(path: Path):
    """``--previous FILE``: a state file (kv-audit-state.json.gz) or a JSON report."""
    from audit_function.errors import InputError
    from audit_function.history.previous import PreviousReportError, read_previous_chunks
    from audit_function.sinks.publish import file_chunks

    if not path.is_file():
        raise InputError(str(path), "previous report or state file does not exist")
    try:
        return read_previous_chunks(lambda: file_chunks(path))
    except PreviousReportError as exc:
        raise InputError(str(path), str(exc)) from None


def _out_folder(path: Path) -> None:
    """``--out`` must be a folder (or not exist yet): checked before any work is done."""
    if path.exists() and not path.is_dir():
        raise _usage(f"--out {path}: is not a folder")


def cmd_audit(args) -> int:
    from audit_function.pipeline.run import AuditOptions, run_audit
    from audit_function.sinks.publish import LocalFolderSink

    common = {"formats": args.format, "fail_on": args.fail_on, "config_path": args.config, "workers": None}
    if args.demo:
        options = AuditOptions(source="demo", **common)
    elif args.snapshot is not None:
        options = AuditOptions(source="snapshot", snapshot=args.snapshot, **common)
    else:
        options = AuditOptions(source="live", scope=_live_scope(args),
                               live={"cloud": args.cloud, "directory": not args.no_directory,
                                     **({"deep": True} if args.deep else {})}, **common)
    if not args.live and (args.management_group or args.subscription or args.no_directory):
        raise _usage("--management-group, --subscription and --no-directory go with --live")
    _out_folder(args.out)
    if not args.live and args.deep:
        raise _usage("--deep goes with --live (a snapshot holds the deeper tables it was collected with)")
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
            raise _usage("--logs-endpoint and --logs-rule-id go with --sink sentinel")
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


def cmd_collect(args) -> int:
    from audit_function.collect import collect_snapshot, write_snapshot

    _out_folder(args.out)
    raw = collect_snapshot(_live_scope(args), cloud=args.cloud, progress=Progress(),
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


class _UsageError(KvAuditError):
    pass


def _usage(message: str) -> _UsageError:
    return _UsageError(message)


REPORT_BUGS = "the kv-audit project's issue tracker"


class Terminated(KeyboardInterrupt):
    """SIGTERM (what every timeout sends), handled like Ctrl-C: cleanup runs, exit 128 + 15."""

    exit_code = 143


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0, 1 (findings), 2 (usage/input), 3 (incomplete), 4 (internal error, never a
    traceback), 130 (Ctrl-C) and 143 (SIGTERM): interrupted runs remove their temporary files and
    workers and leave the previous report as it was."""
    import signal

    try:
        previous_handler = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (an embedding program): leave signals to it
        previous_handler = None
    try:
        return _main(argv)
    except KeyboardInterrupt as exc:  # interrupted outside a handler (argument parsing, imports)
        return _interrupted(exc)
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except KvAuditError as exc:
        print(f"kv-audit: error: {terminal(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    except BrokenPipeError:
        return _broken_pipe()
    except RecursionError:
        return _internal("input nested too deeply to process (RecursionError)")
    except MemoryError:
        return _internal("out of memory (MemoryError)")
    except Exception as exc:  # noqa: BLE001 - a bug: exit 4 with a short message, never a traceback and 1
        return _internal(f"{type(exc).__name__}: {exc}", exc)


def _interrupted(exc: BaseException) -> int:
    what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
    try:
        print(f"kv-audit: {what}; no report was written under a final name", file=sys.stderr)
    except (OSError, ValueError):
        pass
    return getattr(exc, "exit_code", 130)


def _broken_pipe() -> int:
    """`kv-audit rules --format json | head`: the reader went away; exit quietly."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 0


def _internal(reason: str, exc: BaseException | None = None) -> int:
    where = ""
    if exc is not None and exc.__traceback__ is not None:
        import traceback

        last = traceback.extract_tb(exc.__traceback__)[-1]
        where = f" at {Path(last.filename).name}:{last.lineno}"
    if os.environ.get("KV_AUDIT_DEBUG") and exc is not None:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    print(f"kv-audit: internal error{where}: {terminal(reason)[:500]}. This is a bug in kv-audit {__version__}, "
          f"not in your input or estate; no report was written under a final name and the previous report is "
          f"untouched. Please report it at {REPORT_BUGS} with the command line and this message "
          f"(KV_AUDIT_DEBUG=1 shows the traceback).", file=sys.stderr)
    return 4


if __name__ == "__main__":
    sys.exit(main())
