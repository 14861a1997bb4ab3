"""The Azure Function's run: app settings and the config file read once, ``run_audit``, Blob Storage.

``function_app.py`` (the Functions host's entry point) only declares the timer and calls
:func:`run_once`; everything the run does, and every way it fails, is here.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Mapping

from audit_function import observability as obs
from audit_function.errors import ConfigError
from audit_function.function.settings import FunctionSettings
from audit_function.sinks.blob import BlobSink

log = logging.getLogger("kv_audit")

TRACKERS = ("azure-devops", "github")


class RunFailed(RuntimeError):
    """The report was published, but the run must show as a failed execution."""


def run_once(environ: Mapping[str, str], *, past_due: bool = False,
             clock: Callable[[], float] = time.monotonic) -> Any:
    """One audit run: settings -> run_audit -> Blob Storage, logged; raises when the run failed."""
    started = clock()
    if past_due:
        obs.log_event(log, logging.WARNING, obs.TIMER_PAST_DUE, {"note": "this run starts later than scheduled"})
    run_id = None
    try:
        settings = FunctionSettings.from_env(environ)
        obs.log_event(log, logging.INFO, obs.RUN_START, {"past_due": past_due, **settings.describe()})
        config = load_run_config(settings)  # read once: the audit and the ticket step use the same
        tickets = ticket_settings(settings, config)  # checked before the audit, not after it
        outcome = _audit(settings, config, clock)
        report = outcome.result.report
        run_id = report["run"]["id"]
        fields = obs.summary_fields(report, exit_code=outcome.exit_code, duration_s=clock() - started,
                                    published=outcome.published)
        obs.log_event(log, logging.INFO if outcome.exit_code == 0 else logging.WARNING, obs.RUN_COMPLETE, fields)
        if tickets is not None:
            _sync_tickets(report, tickets)
    except Exception as err:
        obs.log_event(log, logging.ERROR, obs.RUN_FAILED, {
            "run_id": run_id, "error": type(err).__name__, "duration_s": clock() - started, "message": str(err)})
        raise
    reason = failure_reason(settings, outcome)
    if reason:
        raise RunFailed(f"run {fields['run_id']}: {reason}; report at {fields['report']}")
    return outcome


def load_run_config(settings: FunctionSettings) -> Any:
    """The configuration file (AUDIT_CONFIG_PATH) as the audit reads it, or the defaults without one."""
    from audit_function.pipeline.run import load_run_config as load

    return load(settings.config_path)


def _audit(settings: FunctionSettings, config: Any, clock: Callable[[], float]) -> Any:
    from audit_function.pipeline.run import run_audit  # heavy imports stay out of host indexing

    credential = make_credential() if settings.needs_credential else None
    live = {}
    if settings.source == "live":
        live = {"credential": credential, "time_budget_s": settings.collect_budget_minutes * 60}
    logs = settings.logs.sink(credential) if settings.logs is not None else None  # Sentinel (AUDIT_LOGS_*)
    try:
        return run_audit(settings.audit_options(live=live), make_sink(settings, credential),
                         progress=obs.ProgressLogger(log, clock), logs=logs, config=config)
    finally:
        if logs is not None:
            logs.close()


def ticket_settings(settings: FunctionSettings, config: Any) -> dict | None:
    """The config file's ``tickets`` section when AUDIT_TICKETS is on (None when off)."""
    if not settings.tickets:
        return None
    section = config.tickets
    if not section:
        raise ConfigError(f"AUDIT_TICKETS: true, but {settings.config_path} (AUDIT_CONFIG_PATH) has no tickets section")
    if section.get("sink") not in TRACKERS:
        raise ConfigError(f"AUDIT_TICKETS: the Function syncs tickets to {' or '.join(TRACKERS)}; "
                          f"tickets.sink {section.get('sink')!r} in {settings.config_path} writes a local export "
                          "file, which a Function cannot keep (use kv-audit tickets on the published report)")
    return section


def _sync_tickets(report: dict, section: dict) -> None:
    from audit_function.tickets import run_ticket_step

    summary = run_ticket_step(report, section)
    obs.log_event(log, logging.INFO, obs.TICKETS, {
        "run_id": report["run"]["id"], "sink": summary.sink, "group_by": summary.group_by,
        **{kind.replace("-", "_"): n for kind, n in sorted(summary.counts.items())},
        "requests": summary.requests, "waited_s": summary.waited})


def make_credential() -> Any:
    """The Function's managed identity in Azure (az login etc. when run on a laptop)."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def make_sink(settings: FunctionSettings, credential: Any = None) -> BlobSink:
    if settings.storage_connection_string:
        return BlobSink.from_connection_string(settings.storage_connection_string, settings.container)
    return BlobSink.from_account_url(settings.storage_account_url, settings.container, credential=credential)


def failure_reason(settings: FunctionSettings, outcome: Any) -> str | None:
    """Why a published run should still fail the execution (None: it should not)."""
    run = outcome.result.report.get("run") or {}
    if outcome.exit_code == 1:
        return f"findings at or above severity {settings.fail_on} (AUDIT_FAIL_ON)"
    if not run.get("complete", False) and settings.fail_on_incomplete:
        return f"audit incomplete: {len(run.get('gaps') or ())} gap(s), see run.gaps (AUDIT_FAIL_ON_INCOMPLETE)"
    return None
