"""The timer function, invoked offline through azure-functions, writing to Azurite."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from azure.functions.timer import TimerRequest
from azure.storage.blob import ContainerClient
from croniter import croniter

import function_app
from audit_function.function import run as function_run
from audit_function.sinks import blob as sinks
from audit_function.errors import ConfigError, SinkError
from audit_function.function.settings import DEFAULT_SCHEDULE
from audit_function.sinks.blob import BlobSink

from .conftest import REPO, connection_string, free_port
from .helpers import FailingTransport, fail_put_of, fast_retry

JSON, XLSX, STATE = "kv-audit-report.json", "kv-audit-report.xlsx", "kv-audit-state.json.gz"
DATED = re.compile(r"^(\d{4})/(\d{2})/(\d{2})/([^/]+)/(kv-audit-report\.(?:json|xlsx)|kv-audit-state\.json\.gz)$")


@pytest.fixture(scope="module")
def registered():
    """The app's function list (azure-functions allows get_functions() once per app instance)."""
    functions = function_app.app.get_functions()
    yield functions
    function_app.app.functions_bindings = None


@pytest.fixture
def demo_env(monkeypatch, azurite, container_name):
    env = {
        "AUDIT_SOURCE": "demo",
        "AUDIT_STORAGE_CONNECTION_STRING": azurite,
        "AUDIT_REPORT_CONTAINER": container_name,
    }
    for name in [n for n in list(__import__("os").environ) if n.startswith("AUDIT_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def no_credential():  # nothing in these tests may reach for a token (no IMDS probing)
        raise AssertionError("a credential was requested for a demo run against a connection string")

    monkeypatch.setattr(function_run, "make_credential", no_credential)
    return env


@pytest.fixture
def reports(azurite, container_name):
    client = ContainerClient.from_connection_string(azurite, container_name)
    yield client
    if client.exists():
        client.delete_container()
    client.close()


def stored(container: ContainerClient) -> dict[str, bytes]:
    if not container.exists():
        return {}
    return {b.name: container.download_blob(b.name).readall() for b in container.list_blobs()}


def fire(past_due: bool = False):
    """Invoke the decorated function object the way the worker does: with a TimerRequest."""
    return function_app.kv_audit(TimerRequest(past_due=past_due))


def events(caplog, event: str) -> list[dict[str, str]]:
    out = []
    for record in caplog.records:
        message = record.getMessage()
        if message.startswith(event + " "):
            out.append(dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', message)))
    return out


# --- binding --------------------------------------------------------------------------------


def test_binding_reads_schedule_from_app_setting(registered):
    (fn,) = registered
    assert fn.get_function_name() == "kv_audit"
    binding = json.loads(fn.get_function_json())["bindings"][0]
    assert binding["type"] == "timerTrigger"
    assert binding["schedule"] == "%AUDIT_SCHEDULE%"
    assert binding["runOnStartup"] is False
    assert binding["useMonitor"] is True
    assert binding["name"] == "timer"


def test_default_schedule_is_mondays_0600_utc_everywhere():
    assert DEFAULT_SCHEDULE == "0 0 6 * * Mon"
    assert croniter.is_valid(DEFAULT_SCHEDULE, second_at_beginning=True)
    it = croniter(DEFAULT_SCHEDULE, datetime(2025, 3, 5, 12, 0, tzinfo=timezone.utc), second_at_beginning=True)
    fires = [it.get_next(datetime) for _ in range(3)]
    assert [f.isoformat() for f in fires] == [
        "2025-03-10T06:00:00+00:00", "2025-03-17T06:00:00+00:00", "2025-03-24T06:00:00+00:00"]
    example = json.loads((REPO / "local.settings.example.json").read_text())
    assert example["Values"]["AUDIT_SCHEDULE"] == DEFAULT_SCHEDULE
    main = (REPO / "infra" / "main.bicep").read_text()
    assert f"param auditSchedule string = '{DEFAULT_SCHEDULE}'" in main


def test_host_json_suits_flex_consumption():
    host = json.loads((REPO / "host.json").read_text())
    assert host["version"] == "2.0"
    hours, minutes, seconds = map(int, host["functionTimeout"].split(":"))
    assert 10 * 60 < hours * 3600 + minutes * 60 + seconds <= 2 * 3600  # above Consumption's cap, bounded
    excluded = host["logging"]["applicationInsights"]["samplingSettings"]["excludedTypes"]
    assert "Trace" in excluded.split(";")  # the run summary line is never sampled away


# --- a run ----------------------------------------------------------------------------------


def test_demo_run_publishes_dated_and_latest_reports(demo_env, reports, caplog):
    caplog.set_level(logging.INFO, logger="kv_audit")
    fire()

    blobs = stored(reports)
    dated = {name: DATED.match(name) for name in blobs if not name.startswith("latest/")}
    assert len(dated) == 3 and all(dated.values()), sorted(blobs)
    report = json.loads(next(blobs[n] for n in dated if n.endswith(JSON)))
    run = report["run"]
    day = datetime.fromisoformat(run["startedAt"].replace("Z", "+00:00")).astimezone(timezone.utc)
    assert {m.group(1, 2, 3, 4) for m in dated.values()} == {(f"{day:%Y}", f"{day:%m}", f"{day:%d}", run["id"])}
    assert {m.group(5) for m in dated.values()} == {JSON, XLSX, STATE}
    prefix = f"{day:%Y/%m/%d}/{run['id']}"
    assert blobs[f"latest/{JSON}"] == blobs[f"{prefix}/{JSON}"]
    assert blobs[f"latest/{XLSX}"] == blobs[f"{prefix}/{XLSX}"]
    assert blobs[f"latest/{STATE}"] == blobs[f"{prefix}/{STATE}"]   # the state file travels with the report
    assert set(blobs) == {f"{prefix}/{n}" for n in (JSON, XLSX, STATE)} | {f"latest/{n}" for n in (JSON, XLSX, STATE)}

    assert run["source"] == "demo" and run["complete"] is True
    assert report["summary"]["vaults"] > 0 and report["summary"]["findings"] > 0
    from openpyxl import load_workbook
    assert load_workbook(io.BytesIO(blobs[f"{prefix}/{XLSX}"]), read_only=True).sheetnames

    (summary,) = events(caplog, "KVAUDIT_RUN_COMPLETE")
    severities = report["summary"]["bySeverity"]
    assert summary["run_id"] == run["id"]
    assert summary["complete"] == "true" and summary["exit_code"] == "0"
    assert int(summary["findings"]) == report["summary"]["findings"]
    for severity in ("high", "medium", "low"):
        assert int(summary[severity]) == severities.get(severity, 0)
    assert summary["gaps"] == "0" and float(summary["duration_s"]) >= 0
    assert summary["report"].endswith(f"/{prefix}/{JSON}")
    (start,) = events(caplog, "KVAUDIT_RUN_START")
    assert start["source"] == "demo" and start["past_due"] == "false"


def test_second_run_diffs_against_latest(demo_env, reports, caplog):
    caplog.set_level(logging.INFO, logger="kv_audit")
    fire()
    fire()
    first, second = (e["run_id"] for e in events(caplog, "KVAUDIT_RUN_COMPLETE"))
    blobs = stored(reports)
    assert {DATED.match(n).group(4) for n in blobs if DATED.match(n)} == {first, second}
    latest = json.loads(blobs[f"latest/{JSON}"])
    assert latest["run"]["id"] == second
    assert {f["status"] for f in latest["findings"]} == {"persisting"}  # the first run was loaded as previous


def test_past_due_is_logged(demo_env, reports, caplog):
    caplog.set_level(logging.INFO, logger="kv_audit")
    fire(past_due=True)
    (late,) = events(caplog, "KVAUDIT_TIMER_PAST_DUE")
    assert late
    assert [r.levelname for r in caplog.records if r.getMessage().startswith("KVAUDIT_TIMER_PAST_DUE")] == ["WARNING"]
    assert events(caplog, "KVAUDIT_RUN_START")[0]["past_due"] == "true"


# --- failures -------------------------------------------------------------------------------


def test_failed_upload_fails_the_run_and_leaves_no_partial_report(demo_env, reports, azurite, container_name,
                                                                 monkeypatch, caplog):
    fire()  # a previous run, so latest/ exists
    before = stored(reports)

    transport = FailingTransport(fail_put_of(JSON))  # every JSON upload fails (after the XLSX went up)

    def failing_sink(settings, credential=None):
        return BlobSink.from_connection_string(settings.storage_connection_string, settings.container,
                                               retry=fast_retry(1), transport=transport)

    monkeypatch.setattr(function_run, "make_sink", failing_sink)
    caplog.set_level(logging.INFO, logger="kv_audit")
    with pytest.raises(SinkError, match="upload failed"):
        fire()

    assert transport.failed  # the failure really happened mid-publish
    assert any(url.endswith(XLSX) and method == "PUT" for method, url in transport.attempts)
    assert stored(reports) == before  # no blob of the failed run, latest/ untouched
    (failed,) = events(caplog, "KVAUDIT_RUN_FAILED")
    assert failed["error"] == "SinkError"
    assert not events(caplog, "KVAUDIT_RUN_COMPLETE")


def test_unreachable_storage_fails_the_run(demo_env, monkeypatch, caplog):
    monkeypatch.setenv("AUDIT_STORAGE_CONNECTION_STRING", connection_string(free_port()))  # nothing listens
    monkeypatch.setattr(sinks, "default_retry", lambda: fast_retry(0))
    caplog.set_level(logging.INFO, logger="kv_audit")
    with pytest.raises(SinkError):
        fire()
    assert events(caplog, "KVAUDIT_RUN_FAILED")[0]["error"] == "SinkError"


def test_bad_setting_fails_before_any_work(demo_env, reports, monkeypatch, caplog):
    monkeypatch.setenv("AUDIT_FAIL_ON", "urgent")
    caplog.set_level(logging.INFO, logger="kv_audit")
    with pytest.raises(ConfigError, match="AUDIT_FAIL_ON: 'urgent' is not one of high, medium, low"):
        fire()
    assert stored(reports) == {}
    assert events(caplog, "KVAUDIT_RUN_FAILED")[0]["error"] == "ConfigError"


def test_fail_on_threshold_publishes_then_fails(demo_env, reports, monkeypatch, caplog):
    monkeypatch.setenv("AUDIT_FAIL_ON", "high")
    caplog.set_level(logging.INFO, logger="kv_audit")
    with pytest.raises(function_app.RunFailed, match="at or above severity high"):
        fire()
    assert f"latest/{JSON}" in stored(reports)  # the report is there for whoever investigates
    (summary,) = events(caplog, "KVAUDIT_RUN_COMPLETE")
    assert summary["exit_code"] == "1" and int(summary["high"]) > 0


def test_incomplete_run_fails_unless_allowed(demo_env, reports, monkeypatch):
    from audit_function.pipeline import run as audit

    real = audit.run_audit

    def incomplete(options, sink=None, **kwargs):
        outcome = real(options, sink, **kwargs)
        outcome.result.report["run"].update(complete=False, gaps=[{"scope": "/subscriptions/x", "reason": "denied"}])
        return audit.AuditOutcome(outcome.result, outcome.files, outcome.published, 3)

    monkeypatch.setattr(audit, "run_audit", incomplete)
    with pytest.raises(function_app.RunFailed, match="incomplete: 1 gap"):
        fire()
    monkeypatch.setenv("AUDIT_FAIL_ON_INCOMPLETE", "false")
    assert fire() is None


def test_ticket_step_needs_a_tracker_in_the_config(demo_env, reports, monkeypatch, tmp_path: Path):
    config = tmp_path / "kv-audit.yaml"
    config.write_text("tickets:\n  sink: jsonl\n  out: tickets.jsonl\n")
    monkeypatch.setenv("AUDIT_TICKETS", "true")
    monkeypatch.setenv("AUDIT_CONFIG_PATH", str(config))
    with pytest.raises(ConfigError, match="AUDIT_TICKETS: the Function syncs tickets to azure-devops or github"):
        fire()
    config.write_text("suppressions: []\n")
    with pytest.raises(ConfigError, match="has no tickets section"):
        fire()
    assert stored(reports) == {}  # refused before the audit ran


def test_the_config_file_is_read_once_per_run(demo_env, reports, monkeypatch, tmp_path: Path):
    """The audit and the ticket step get the same parsed config: the file is read once, not twice."""
    from audit_function.pipeline import config as pipeline_config, run as pipeline_run

    config = tmp_path / "kv-audit.yaml"
    config.write_text("tickets:\n  sink: github\n  github:\n    repository: contoso/security\n")
    monkeypatch.setenv("AUDIT_TICKETS", "true")
    monkeypatch.setenv("AUDIT_CONFIG_PATH", str(config))
    reads, synced = [], []
    real = pipeline_run.load_config

    def counting(path, rule_ids):
        reads.append(path)
        return real(path, rule_ids)

    monkeypatch.setattr(pipeline_run, "load_config", counting)       # every way a run can read it
    monkeypatch.setattr(pipeline_config, "load_config", counting)
    monkeypatch.setattr(function_run, "_sync_tickets", lambda report, section: synced.append(section))
    fire()
    assert reads == [config]
    assert synced and synced[0]["sink"] == "github" and synced[0]["github"]["repository"] == "contoso/security"
    assert "latest/kv-audit-report.json" in stored(reports)


def test_live_run_passes_scope_identity_and_time_budget_to_collection(demo_env, reports, monkeypatch):
    from audit_function import collect
    from audit_function.pipeline import run as audit

    credential, calls = object(), []

    def fake_collect(scope, *, progress=None, **live):
        calls.append((scope, live))
        return audit.demo_snapshot()  # stands in for what Resource Graph would return

    monkeypatch.setattr(collect, "collect_snapshot", fake_collect)
    monkeypatch.setattr(function_run, "make_credential", lambda: credential)
    monkeypatch.setenv("AUDIT_SOURCE", "live")
    monkeypatch.setenv("AUDIT_MANAGEMENT_GROUPS", "mg-corp")
    monkeypatch.setenv("AUDIT_COLLECT_BUDGET_MINUTES", "30")
    fire()

    ((scope, live),) = calls
    assert scope.management_groups == ("mg-corp",) and scope.subscriptions == ()
    assert live == {"credential": credential, "time_budget_s": 1800, "deep": True}   # AUDIT_DEEP: on by default
    latest = json.loads(stored(reports)[f"latest/{JSON}"])
    assert latest["run"]["source"] == "live"
    assert latest["run"]["scope"]["managementGroups"] == ["mg-corp"]


def test_funcignore_ships_the_app_and_nothing_else(tmp_path: Path):
    """Check .funcignore with git's own gitignore matcher (Core Tools uses the same syntax)."""
    import subprocess

    (tmp_path / ".gitignore").write_text((REPO / ".funcignore").read_text())
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    shipped = ["function_app.py", "host.json", "requirements.txt", "audit_function/pipeline/run.py",
               "audit_function/data/builtin_roles.json", "audit_function/data/demo/vaults.jsonl",
               "audit_function/collect/queries/vaults.kql", "rules/__init__.py", "reports/json_report.py",
               "reports/schema/report.schema.json"]
    left_out = ["tests/function/test_function_app.py", "infra/main.bicep", ".venv/bin/python",
                ".venv-checkov/bin/checkov", "node_modules/azurite/package.json", "local.settings.json",
                "audit_function/__pycache__/audit.cpython-311.pyc", "reports/kv-audit-report.json",
                ".git/config", "bench/run.py", "docs/architecture.md"]
    done = subprocess.run(["git", "-C", str(tmp_path), "check-ignore", "--no-index", *shipped, *left_out],
                          capture_output=True, text=True)
    ignored = set(done.stdout.split())
    assert ignored == set(left_out), sorted(set(shipped) & ignored)
