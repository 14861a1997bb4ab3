"""The Sentinel sink with the real azure-monitor-ingestion client against a loopback fake of the endpoint."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from audit_function.pipeline.run import AuditOptions, run_audit
from audit_function.sinks.logs import SentinelSink
from audit_function.sinks.local import LocalFolderSink
from reports.sentinel_rows import TABLES
from tests.fakes.identity_server import FakeIdentity
from tests.fakes.ingestion_server import FakeIngestion

WHEN = datetime(2026, 11, 23, 6, tzinfo=timezone.utc)
FINDINGS, VAULTS, RUNS = (TABLES[k][1] for k in ("findings", "vaults", "runs"))


@pytest.fixture
def identity(monkeypatch):
    fake = FakeIdentity(token="mi-token")
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    yield fake
    fake.close()


@pytest.fixture
def ingestion(tmp_path):
    fake = FakeIngestion(tmp_path / "tls", token="mi-token")
    yield fake
    fake.close()


def sink_for(fake: FakeIngestion, **kwargs) -> SentinelSink:
    from azure.identity import ManagedIdentityCredential

    sink = SentinelSink.create(fake.endpoint, fake.rule_id, ManagedIdentityCredential(),
                               connection_verify=str(fake.cert), retry_backoff_factor=0, retry_total=3)
    for name, value in kwargs.items():
        setattr(sink, name, value)
    return sink


def audit(tmp_path, sink, **kwargs):
    return run_audit(AuditOptions(source="demo", formats=("json", "html"), run_id="run-1"), LocalFolderSink(tmp_path / "out"),
                     clock=lambda: WHEN, logs=sink, **kwargs)


def test_findings_vaults_and_run_reach_their_streams(tmp_path, identity, ingestion):
    outcome = audit(tmp_path, sink_for(ingestion))
    report = outcome.result.report
    assert report["run"]["complete"] is True and outcome.exit_code == 0
    assert all(r.encoding == "gzip" and r.rule_id == ingestion.rule_id for r in ingestion.requests)
    assert {r.stream for r in ingestion.requests} == {FINDINGS, VAULTS, RUNS}
    findings = ingestion.accepted(FINDINGS)
    assert [r["Fingerprint"] for r in findings] == [f["fingerprint"] for f in report["findings"]]
    assert len(ingestion.accepted(VAULTS)) == len(report["vaults"])
    (run,) = ingestion.accepted(RUNS)
    assert run["RunId"] == "run-1" and run["Complete"] is True and run["Findings"] == len(report["findings"])
    columns = {key: {name for name, _ in cols} for key, (_, _, cols) in TABLES.items()}
    assert set(findings[0]) == columns["findings"] and set(run) == columns["runs"]
    assert identity.requests[0]["query"]["resource"] == "https://monitor.azure.com"
    assert len(identity.requests) == 1    # one token for every request


def test_429_waits_for_retry_after_and_loses_nothing(tmp_path, identity, ingestion):
    ingestion.throttle, ingestion.retry_after = 1, "1"
    report = audit(tmp_path, sink_for(ingestion)).result.report
    assert report["run"]["complete"] is True
    throttled, retried = ingestion.requests[0], ingestion.requests[1]
    assert throttled.status == 429 and retried.status == 204 and retried.rows == throttled.rows
    assert retried.at - throttled.at >= 0.9
    assert len(ingestion.accepted(FINDINGS)) == len(report["findings"])


def test_413_is_split_until_the_rows_fit(tmp_path, identity, ingestion):
    ingestion.max_rows = 10
    report = audit(tmp_path, sink_for(ingestion)).result.report
    assert report["run"]["complete"] is True
    assert any(r.status == 413 for r in ingestion.requests)
    assert all(len(r.rows) <= 10 for r in ingestion.requests if r.status == 204)
    assert sorted(r["Fingerprint"] for r in ingestion.accepted(FINDINGS)) == sorted(f["fingerprint"] for f in report["findings"])


def test_one_failed_batch_is_a_gap_and_the_report_is_still_written(tmp_path, identity, ingestion):
    ingestion.fail_streams = {VAULTS}
    outcome = audit(tmp_path, sink_for(ingestion))
    report = outcome.result.report
    assert outcome.exit_code == 3 and report["run"]["complete"] is False
    (gap,) = report["run"]["gaps"]
    assert gap["scope"] == f"logs-ingestion:{VAULTS}" and gap["table"] == "KvAuditVaults_CL"
    assert f"{len(report['vaults'])} of {len(report['vaults'])} row(s) not ingested (1 failed batch(es))" in gap["reason"]
    on_disk = json.loads((tmp_path / "out" / "kv-audit-report.json").read_text())
    assert on_disk["run"]["complete"] is False and on_disk["run"]["gaps"] == [gap]
    assert "INCOMPLETE RUN" in (tmp_path / "out" / "kv-audit-report.html").read_text()
    (run,) = ingestion.accepted(RUNS)        # the run row names the gap in the workspace too
    assert run["Complete"] is False and run["GapCount"] == 1 and run["Gaps"][0]["scope"] == gap["scope"]
    assert len(ingestion.accepted(FINDINGS)) == len(report["findings"])


def test_a_rejected_token_is_a_gap_not_a_crash(tmp_path, identity, ingestion):
    ingestion.token = "another-token"
    outcome = audit(tmp_path, sink_for(ingestion))
    gaps = outcome.result.report["run"]["gaps"]
    assert {g["table"] for g in gaps} == {"KvAuditFindings_CL", "KvAuditVaults_CL", "KvAuditRuns_CL"}
    assert all("401" in g["reason"] or "ClientAuthentication" in g["reason"] or "HttpResponseError" in g["reason"]
               for g in gaps)
    assert (tmp_path / "out" / "kv-audit-report.json").is_file() and outcome.exit_code == 3


def test_batches_of_rows_per_upload_call(tmp_path, identity, ingestion):
    report = audit(tmp_path, sink_for(ingestion, batch_rows=7)).result.report
    findings = [r for r in ingestion.requests if r.stream == FINDINGS]
    assert len(findings) == -(-len(report["findings"]) // 7) and max(len(r.rows) for r in findings) == 7


def test_cli_sink_sentinel(tmp_path, identity, ingestion, monkeypatch, capsys):
    from audit_function.cli.main import main

    monkeypatch.setenv("AUDIT_LOGS_RULE_ID", ingestion.rule_id)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ingestion.cert))
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    code = main(["audit", "--demo", "--out", str(tmp_path / "out"), "--format", "json", "--sink", "sentinel",
                 "--logs-endpoint", ingestion.endpoint])
    assert code == 0, capsys.readouterr().err
    assert len(ingestion.accepted(RUNS)) == 1 and ingestion.accepted(FINDINGS)
    assert (tmp_path / "out" / "kv-audit-report.json").is_file()


def test_cli_sink_sentinel_needs_its_settings(tmp_path, monkeypatch, capsys):
    from audit_function.cli.main import main

    monkeypatch.delenv("AUDIT_LOGS_ENDPOINT", raising=False)
    monkeypatch.setenv("AUDIT_LOGS_RULE_ID", "not-a-dcr")
    assert main(["audit", "--demo", "--out", str(tmp_path), "--sink", "sentinel"]) == 2
    err = capsys.readouterr().err
    assert "AUDIT_LOGS_ENDPOINT: not set" in err
    assert not (tmp_path / "kv-audit-report.json").exists()


def test_function_settings():
    from audit_function.errors import ConfigError
    from audit_function.function.settings import FunctionSettings

    base = {"AUDIT_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true", "AUDIT_SOURCE": "demo"}
    assert FunctionSettings.from_env(base).logs is None
    settings = FunctionSettings.from_env({**base, "AUDIT_LOGS_ENDPOINT": "https://dce-x.westeurope-1.ingest.monitor.azure.com",
                                          "AUDIT_LOGS_RULE_ID": "dcr-" + "a" * 32,
                                          "AUDIT_LOGS_STREAM_RUNS": "Custom-MyRuns_CL"})
    assert settings.logs.streams == {"findings": "Custom-KvAuditFindings_CL", "vaults": "Custom-KvAuditVaults_CL",
                                     "runs": "Custom-MyRuns_CL"}
    assert settings.needs_credential
    with pytest.raises(ConfigError) as err:
        FunctionSettings.from_env({**base, "AUDIT_LOGS_ENDPOINT": "http://x", "AUDIT_LOGS_STREAM_VAULTS": "x y"})
    text = str(err.value)
    assert "AUDIT_LOGS_ENDPOINT: 'http://x'" in text and "AUDIT_LOGS_RULE_ID: required" in text
    assert "AUDIT_LOGS_STREAM_VAULTS" in text


def test_function_run_sends_to_log_analytics_and_a_lost_batch_fails_the_execution(
        azurite, container_name, identity, ingestion, monkeypatch):
    import os

    from azure.functions.timer import TimerRequest
    from azure.storage.blob import ContainerClient

    import function_app
    from audit_function.function import run as function_run

    for name in [n for n in list(os.environ) if n.startswith("AUDIT_")]:
        monkeypatch.delenv(name)
    env = {"AUDIT_SOURCE": "demo", "AUDIT_STORAGE_CONNECTION_STRING": azurite, "AUDIT_REPORT_CONTAINER": container_name,
           "AUDIT_FORMATS": "json,ocsf,html", "AUDIT_LOGS_ENDPOINT": ingestion.endpoint,
           "AUDIT_LOGS_RULE_ID": ingestion.rule_id, "REQUESTS_CA_BUNDLE": str(ingestion.cert)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(function_run, "make_credential", lambda: __import__("azure.identity").identity.ManagedIdentityCredential())
    ingestion.fail_streams = {FINDINGS}
    with pytest.raises(function_app.RunFailed, match="audit incomplete"):
        function_app.kv_audit(TimerRequest(past_due=False))
    client = ContainerClient.from_connection_string(azurite, container_name)
    try:
        report = json.loads(client.download_blob("latest/kv-audit-report.json").readall())
        names = {b.name for b in client.list_blobs(name_starts_with="latest/")}
    finally:
        client.delete_container()
        client.close()
    assert {"latest/kv-audit-findings.ocsf.jsonl", "latest/kv-audit-report.html"} <= names
    assert [g["table"] for g in report["run"]["gaps"]] == ["KvAuditFindings_CL"]
    assert len(ingestion.accepted(VAULTS)) == len(report["vaults"]) and ingestion.accepted(RUNS)
