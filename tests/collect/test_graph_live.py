"""Collection end to end with directory data: the demo estate served by the fake Resource Graph, its
directory by the fake Microsoft Graph, both over loopback HTTPS."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from audit_function.pipeline.run import AuditOptions, demo_snapshot, run_audit
from audit_function.cli.main import main
from audit_function.collect import write_snapshot
from audit_function.collect.graph import principal_ids
from audit_function.snapshot.load import RawSnapshot, iter_rows
from tests.fakes.graph_server import FakeGraph, GraphFaults
from tests.fakes.identity_server import live_azure

WHEN = datetime(2026, 11, 23, 6, tzinfo=timezone.utc)
ARG_TABLES = ("subscriptions", "management_groups", "role_definitions", "vaults", "role_assignments")


@pytest.fixture(scope="module")
def demo():
    return {t: [row for _, row in iter_rows(demo_snapshot() / f"{t}.jsonl")] for t in ARG_TABLES + ("principals",)}


def graph_objects(principals):
    """The demo's principals as Graph returns them (full objects, @odata.type) and their memberships."""
    objects = []
    for p in principals:
        obj = {"@odata.type": f"#microsoft.graph.{p['type']}", "id": p["id"], "displayName": p["displayName"]}
        if p["type"] == "user":
            obj.update(userType=p["userType"], userPrincipalName=f"{p['id'][:8]}@contoso.example")
        if p["type"] == "servicePrincipal":
            obj.update(appId=p["appId"], servicePrincipalType="Application")
        objects.append(obj)
    return objects, {p["id"]: p["memberOf"] for p in principals if p["memberOf"]}


@pytest.fixture
def fake_graph(clock, tmp_path, demo):
    fakes = []

    def make(arg, token="fake-token", **faults):
        """A fake Graph serving the fake Resource Graph's certificate: one CA file trusts both."""
        objects, member_of = graph_objects(demo["principals"])
        fake = FakeGraph(objects, member_of, clock=clock, faults=GraphFaults(**faults), token=token,
                         tls=(arg.ca_path, arg.ca_path.parent / "key.pem"))
        fakes.append(fake)
        return fake

    yield make
    for fake in fakes:
        fake.close()


def findings_of(report):
    return [{k: v for k, v in f.items() if k not in ("firstSeen", "status")} for f in report["findings"]]


def audit(snapshot):
    return run_audit(AuditOptions(source="snapshot", snapshot=snapshot, formats=("json",)),
                     clock=lambda: WHEN).result.report


def test_collect_writes_principals_the_audit_reads_like_the_demo_directory(serve, collect, fake_graph, demo, tmp_path):
    arg = serve({t: demo[t] for t in ARG_TABLES})
    graph = fake_graph(arg)
    events = []
    raw = collect(arg, graph_endpoint=graph.url, progress=lambda e, **f: events.append((e, f)))
    write_snapshot(raw, tmp_path / "snap")

    wanted = principal_ids(raw.tables)
    known = {p["id"]: p for p in demo["principals"]}
    expected = sorted((known[i] for i in wanted if i in known), key=lambda p: p["id"])
    written = [row for _, row in iter_rows(tmp_path / "snap" / "principals.jsonl")]
    assert written == expected and len(written) > 10
    manifest = json.loads((tmp_path / "snap" / "manifest.json").read_text())
    assert manifest["tables"]["principals"] == len(written) and manifest["directoryData"] is True
    assert manifest["complete"] is True
    assert {"source": "directory", "state": "collected"}.items() <= manifest["coverage"][0].items()
    assert manifest["directory"]["notFound"] == sorted(wanted - set(known))
    assert manifest["directory"]["requested"] == len(wanted)
    assert manifest["directory"]["requests"] == graph.requests   # counted right with batches in flight together
    assert len(wanted) > 2 * 20                                  # ... which they were (3 $batch requests)
    texts = [f["text"] for e, f in events if e == "principals"]
    assert texts[-1] == f"principals resolved {len(written)} of {len(wanted)} (done)"
    assert any(t.startswith("principals resolved ") and t.endswith(f"of {len(wanted)}") for t in texts)

    # the audit of the collected snapshot names people exactly as the audit of the demo directory does
    with_directory = RawSnapshot(tables={t: list(demo[t]) for t in ARG_TABLES} | {"principals": expected})
    collected = audit(tmp_path / "snap")
    assert collected["run"]["directoryData"] is True
    assert findings_of(collected) == findings_of(audit(with_directory))
    # ... and the directory matters: memberships change what the findings say
    assert findings_of(collected) != findings_of(audit(RawSnapshot(tables={t: list(demo[t]) for t in ARG_TABLES})))


def test_collect_command_resolves_names_and_no_directory_skips_them(serve, fake_graph, demo, tmp_path, monkeypatch,
                                                                    capsys):
    arg = serve({t: demo[t] for t in ARG_TABLES}, token="mi-token")
    graph = fake_graph(arg, token="mi-token")
    with live_azure(monkeypatch, arg, graph=graph, token="mi-token") as identity:
        assert main(["collect", "--live", "--out", str(tmp_path / "snap"), "--gzip"]) == 0
        first = capsys.readouterr()
        requests = graph.requests
        assert main(["collect", "--live", "--no-directory", "--out", str(tmp_path / "bare")]) == 0
        second = capsys.readouterr()
    assert (tmp_path / "snap" / "principals.jsonl.gz").exists() and "principals" in first.out
    assert "directory:" not in first.err
    resources = {r["query"].get("resource") for r in identity.requests}
    assert "https://graph.microsoft.com" in resources          # the managed identity's Graph token
    assert graph.requests == requests and requests > 0          # --no-directory sent nothing to Graph
    assert not (tmp_path / "bare" / "principals.jsonl").exists()
    assert "directory: not collected" in second.err and "--no-directory" in second.err
    bare = json.loads((tmp_path / "bare" / "manifest.json").read_text())
    assert bare["complete"] is True and bare["directoryData"] is False


def test_live_audit_without_the_graph_permission_is_complete_and_leaves_names_null(serve, clock, fake_graph, demo,
                                                                                   tmp_path):
    from tests.collect.conftest import StaticCredential

    arg = serve({t: demo[t] for t in ARG_TABLES})
    graph = fake_graph(arg, denied=True)
    outcome = run_audit(AuditOptions(source="live", formats=("json",), live={
        "credential": StaticCredential(), "endpoint": arg.url, "graph_endpoint": graph.url,
        "connection_verify": str(arg.ca_path), "sleep": clock.sleep, "clock": clock.now}), clock=lambda: WHEN)
    report = outcome.result.report
    assert report["run"]["complete"] is True and outcome.exit_code in (0, 1)
    assert graph.statuses[403] == 1 and report["run"]["directoryData"] is False
    reference = audit(RawSnapshot(tables={t: list(demo[t]) for t in ARG_TABLES}))
    assert findings_of(report) == findings_of(reference)


def test_no_directory_goes_with_live_only(tmp_path, capsys):
    assert main(["audit", "--demo", "--no-directory", "--out", str(tmp_path)]) == 2
    assert "--no-directory go with --live" in capsys.readouterr().err
    assert not (tmp_path / "kv-audit-report.json").exists()


def test_terminal_progress_shows_principals_resolved_n_of_m():
    import io

    from audit_function.cli.progress import Progress

    out = io.StringIO()
    Progress(out, enabled=True)("principals", text="principals resolved 40 of 43 (done)", resolved=40, of=43,
                                phase="done", done=True)
    assert out.getvalue().endswith("] principals resolved 40 of 43 (done)\n")
