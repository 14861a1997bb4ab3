"""The ``kv-audit`` command line (contract: shared spec cli.md): the parser, the exit codes, errors.

Each command is its own module of this package (audit, collect, rules, history: diff/tickets/
exports, plan, migrate, explain), registered here in the order ``--help`` lists them.

Exit status: 0 complete, 1 a finding at or above --fail-on, 2 usage/configuration/input error,
3 complete=false (the report lists the gaps), 4 internal error (a bug; never a traceback exiting 1),
130 interrupted (Ctrl-C), 143 terminated (SIGTERM, 128 + 15).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from audit_function import __version__
from audit_function.errors import KvAuditError
from audit_function.quoting import terminal


def build_parser() -> argparse.ArgumentParser:
    from audit_function.cli import audit, collect, explain, history, migrate, plan, rules

    parser = argparse.ArgumentParser(prog="kv-audit", description=(
        "Audit Azure Key Vault access under the permission model each vault enforces."))
    parser.add_argument("--version", action="version", version=f"kv-audit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (audit, collect, rules, history, plan, migrate, explain):
        command.register(sub)
    return parser


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
