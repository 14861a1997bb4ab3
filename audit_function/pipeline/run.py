"""``run_audit``: the one pipeline the CLI and the Azure Function both call.

source (demo | snapshot | live) -> estate -> access engine + rules -> report -> writers -> sink.
"""

from __future__ import annotations

import gc
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from audit_function.access.engine import AccessIndex
from audit_function.engine.evaluate import evaluate
from audit_function.pipeline.config import AuditConfig, load_config
from audit_function.errors import ConfigError, PreviousReportUnusable
from audit_function.engine.findings import FindingStore
from audit_function.history.gaps import GapCoverage, groups_of
from audit_function.history.diff import History
from audit_function.migration import plan_vault
from audit_function.migration.report_entry import report_entry
from audit_function.estate.owners import Owners
from audit_function.estate.directory import deleted_identities
from audit_function.engine.parallel import default_workers
from audit_function.report.document import build_report, run_gaps
from audit_function.history.state import load_previous
from audit_function.vocabulary import AuditResult
from audit_function.pipeline.source import SOURCES, demo_snapshot, open_source  # noqa: F401  (demo_snapshot: callers)
from audit_function.snapshot.load import RawSnapshot, load_estate
from audit_function.history.suppressions import Suppressor
from reports import FORMATS, writer_for
from reports.state_writer import StateWriter
from rules import ALL_RULES, RULE_IDS
from audit_function.vocabulary import SEVERITIES, RuleContext



@dataclass(frozen=True)
class AuditOptions:
    source: str = "demo"                       # "demo" | "snapshot" | "live"
    snapshot: Path | RawSnapshot | None = None
    scope: object | None = None                # audit_function.collect.LiveScope for live runs
    formats: tuple[str, ...] = ("json", "xlsx")
    fail_on: str | None = None                 # "high" | "medium" | "low"
    config_path: Path | None = None
    live: dict = field(default_factory=dict)   # extra keyword arguments for collect_snapshot
    run_id: str | None = None
    workers: int | None = 1                    # processes for the vault pass and the spreadsheet's big tables;
                                               # None: by estate size and CPUs (the CLI), 1: one (the Function)

    def validate(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError(f"unknown source {self.source!r} (one of {', '.join(SOURCES)})")
        if self.source == "snapshot" and self.snapshot is None:
            raise ConfigError("a snapshot audit needs a snapshot directory")
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown or not self.formats:
            raise ConfigError(f"unknown report format(s) {', '.join(unknown) or '(none)'}; known: {', '.join(FORMATS)}")
        if self.fail_on is not None and self.fail_on not in SEVERITIES:
            raise ConfigError(f"--fail-on must be one of {', '.join(SEVERITIES)}, not {self.fail_on!r}")


@dataclass(frozen=True)
class FailingFindings:
    """Why ``--fail-on`` exits 1: how many unsuppressed findings are at or above it, the first few."""

    fail_on: str
    count: int
    first: list[dict]


@dataclass(frozen=True)
class AuditOutcome:
    result: AuditResult
    files: dict[str, bytes]
    published: list[str]
    exit_code: int
    failing: FailingFindings | None = None
    suppressions: dict | None = None


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def exit_code(suppressor, complete: bool, fail_on: str | None) -> int:
    """1 when an unsuppressed finding is at or above ``fail_on``; else 3 when incomplete; else 0.

    From the counts the run already has (``suppressor.open_by_severity``), not from the report."""
    if fail_on is not None and suppressor.open_at_or_above(fail_on)[0]:
        return 1
    return 0 if complete else 3


def run_audit(options: AuditOptions, sink=None, *, clock: Callable[[], datetime] = _utcnow,
              progress: Callable[..., None] | None = None, previous: dict | None = None,
              logs=None, config: AuditConfig | None = None) -> AuditOutcome:
    """Audit, render every requested format, publish through ``sink`` (if any).

    ``previous`` is the previous run to compare with (a :class:`~audit_function.history.previous.PreviousIndex`
    or a report dict); by default the sink's own state file (or, without one, its latest report).
    The state file of this run is published with the reports, in the same atomic set.
    ``logs`` (an :class:`~audit_function.sinks.logs.SentinelSink`) also sends the rows to Log
    Analytics before the files are rendered: a failed upload is a gap in the report they contain.
    """
    options.validate()
    started = clock()
    config = config if config is not None else load_run_config(options.config_path)
    note = None   # run.weekOverWeek: why week over week is off, or read from a fallback
    if previous is None and sink is not None:
        try:
            previous, note = load_previous(sink)
        except PreviousReportUnusable as err:
            note = {"used": False, "reason": f"{err}; this run has no week-over-week status (every finding is new)"}
    source, scope = open_source(options.source, options.snapshot, scope=options.scope, live=options.live,
                                progress=progress)
    # The estate is millions of long-lived, acyclic objects: the cyclic garbage collector would
    # rescan them on every collection, while loading and while the rules allocate findings.
    gc.disable()
    try:
        estate = load_estate(source, progress=progress)
    finally:
        gc.enable()
    gc.freeze()
    ctx = RuleContext(as_of=started, thresholds=config.thresholds, severity_overrides=dict(config.severity_overrides),
                      groups_expanded=estate.directory_data, principals=estate.principals,
                      owner_tags=config.owner_tags, owners=Owners(estate, config.owner_tags),
                      deleted=deleted_identities(estate))
    index = AccessIndex(estate)
    suppressor = Suppressor(config.suppressions, _vault_fields(estate), started.date())
    if previous is not None and (note is None or note.get("used")):
        other = _other_estate(previous, estate)
        if other:
            previous, note = None, {"used": False, "reason": other}
    history = History(previous, _iso(started))
    store = FindingStore(decorators=(suppressor, history))

    def plan(vault, access, rule_ctx, roles=estate.role_definitions, principals=estate.principals):
        return report_entry(plan_vault(vault, access, roles, rule_ctx, principals=principals))

    workers = options.workers if options.workers is not None else default_workers(len(estate.vaults))
    evaluation = evaluate(estate, ALL_RULES, ctx, index=index, with_access=bool({"xlsx", "access"} & set(options.formats)),
                          planner=plan, store=store, workers=workers, progress=progress)
    run_id = options.run_id or f"{started.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"
    gaps, not_evaluated = run_gaps(estate, evaluation)
    coverage = GapCoverage(gaps, not_evaluated, feeds=table_feeds(ALL_RULES), under_group=groups_of(estate.subscriptions))
    week = history.result(coverage, suppressor.open_by_severity, audited_subscriptions=frozenset(estate.subscriptions))
    run = {"id": run_id, "startedAt": _iso(started), "finishedAt": _iso(clock()), "asOf": _iso(started),
           "source": options.source, "scope": scope}
    report = build_report(estate, evaluation, RULE_IDS, run=run, suppressions=suppressor, week=week, note=note)
    access_rows = evaluation.access   # a spool: iterable, read back in vault order
    del estate, index, evaluation  # the report holds what is needed from here on
    if logs is not None:
        _forward_logs(report, logs)
    result = AuditResult(report=report, access=access_rows, progress=progress)
    files = {}
    for name in (*options.formats, "state"):
        writer = writer_for(name) if name != "state" else StateWriter(history.records)
        if hasattr(writer, "workers"):   # the spreadsheet's big tables: as many processes as the vault pass may use
            writer.workers = options.workers
        stream = getattr(writer, "stream", None)
        files[writer.filename] = stream(result) if stream else writer.render(result)
    published = sink.publish(files, report) if sink is not None else []
    fail_count, failing = suppressor.open_at_or_above(options.fail_on) if options.fail_on else (0, [])
    return AuditOutcome(result, files, published, exit_code(suppressor, report["run"]["complete"], options.fail_on),
                        failing=FailingFindings(options.fail_on, fail_count, failing) if fail_count else None,
                        suppressions=report["suppressions"])


def _forward_logs(report: dict, logs) -> None:
    """Sentinel / Log Analytics (issue 17): kept apart from report building on purpose."""
    from audit_function.sinks.logs import forward_report

    forward_report(report, logs)


def _other_estate(previous, estate) -> str | None:
    """Why ``previous`` is not this estate's last report (none of its subscriptions is here), or None."""
    from audit_function.history.previous import PreviousIndex

    if not isinstance(previous, PreviousIndex):
        previous = PreviousIndex.from_report(previous)
    theirs = previous.subscriptions
    ours = {(v.subscription_id or "").lower() for v in estate.vaults} - {""}
    if not theirs or not ours or theirs & ours:
        return None
    return (f"the previous report (run {previous.run.get('id')!s}) is of another estate: none of its "
            f"{len(theirs)} subscription(s) is in this one; this run has no week-over-week status")


def _vault_fields(estate) -> dict[str, dict]:
    """What suppressions match on, per lower-cased vault id."""
    subscriptions = estate.subscriptions
    out = {}
    for vault in estate.vaults + estate.hsms:
        sub = subscriptions.get(vault.subscription_key or "")
        out[vault.key] = {"id": vault.id, "name": vault.name, "subscriptionId": vault.subscription_id,
                          "subscriptionName": sub.name if sub else None, "resourceGroup": vault.resource_group,
                          "tags": vault.tags}
    return out


def load_run_config(path: Path | None) -> AuditConfig:
    """The configuration file as a run reads it (rule ids checked), or the defaults without one."""
    return load_config(path, set(RULE_IDS)) if path is not None else AuditConfig.default()


def table_feeds(rules):
    """``feeds(table, rule_id)`` for :class:`~audit_function.history.gaps.GapCoverage`, from the rules' metadata:
    grant and role tables feed the rules that read RBAC (and grant / role-definition findings),
    a rule's optional tables feed it, the inventory tables (vaults, subscriptions…) feed every rule,
    and a table the metadata does not place feeds every rule (conservative)."""
    metas = {r.META.id: r.META for r in rules}
    rbac = {"role_assignments", "role_definitions", "role_eligibilities", "deny_assignments", "lighthouse_delegations",
            "management_groups", "principals"}
    optional = {t for m in metas.values() for t in m.tables}

    def feeds(table: str, rule_id: str) -> bool:
        meta = metas.get(rule_id)
        if meta is None:
            return True
        if table in rbac:
            return meta.uses_rbac or meta.subject in ("grant", "roleDefinition") or table in meta.tables
        if table in optional:
            return table in meta.tables
        return True

    return feeds


__all__ = ["AuditOptions", "AuditOutcome", "FailingFindings", "run_audit", "exit_code", "demo_snapshot"]
