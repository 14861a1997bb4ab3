"""`explain --live` reads only what one answer needs: the requests are counted against the fakes, and
the answer equals the one from the full demo snapshot."""

from __future__ import annotations

import pytest

from audit_function.pipeline.run import demo_snapshot
from tools.demo import make_demo as demo_estate
from audit_function.explain.live import kusto, query_text
from audit_function.explain.parse import ExplainInputError, from_arguments
from audit_function.explain.run import explain
from audit_function.snapshot.load import iter_rows
from tests.collect.conftest import StaticCredential
from tests.collect.test_graph_live import graph_objects
from tests.fakes.graph_server import FakeGraph

TABLES = ("subscriptions", "management_groups", "role_definitions", "vaults", "role_assignments",
          "role_eligibilities", "deny_assignments", "principals")


@pytest.fixture(scope="module")
def demo():
    return {t: [row for _, row in iter_rows(demo_snapshot() / f"{t}.jsonl")] for t in TABLES}


@pytest.fixture
def fakes(serve, clock, demo):
    arg = serve({t: demo[t] for t in TABLES if t != "principals"})
    objects, member_of = graph_objects(demo["principals"])
    graph = FakeGraph(objects, member_of, clock=clock, tls=(arg.ca_path, arg.ca_path.parent / "key.pem"))
    yield arg, graph
    graph.close()


def live(arg, graph, clock):
    return {"credential": StaticCredential(), "endpoint": arg.url, "connection_verify": str(arg.ca_path),
            "graph_endpoint": graph.url, "sleep": clock.sleep, "clock": clock.now}


def same(doc):
    return {k: doc[k] for k in ("verdict", "reason", "grants", "fix", "network", "model", "identity")}


@pytest.mark.parametrize("vault, principal, action, arg_requests, tables", [
    ("kv-crm-dev", "sp-crm-ci-legacy", "keys get", 3, ["vaults", "subscriptions", "role_assignments"]),
    ("kv-lab-rbac", "ivan", "getSecret", 4, ["vaults", "subscriptions", "role_assignments", "role_definitions"]),
    ("kv-web-certs", "sp-web-deploy", "secrets get", 3, ["vaults", "subscriptions", "role_assignments"]),
])
def test_live_reads_one_vault_one_principal_and_its_groups(fakes, clock, vault, principal, action, arg_requests, tables):
    arg, graph = fakes
    request = from_arguments(vault, demo_estate.PRINCIPALS[principal].id, action, None)
    doc = explain(request, "live", live=live(arg, graph, clock))
    offline = explain(request, "demo")
    assert same(doc) == same(offline)
    assert arg.requests == arg_requests and [e["table"] for e in arg.log] == tables
    sub = demo_estate.VAULTS_BY_NAME[vault].subscription.id
    grants = next(e for e in arg.log if e["table"] == "role_assignments")
    assert grants["subscriptions"] == [sub] and grants["options"]["authorizationScopeFilter"] == "AtScopeAboveAndBelow"
    assert arg.authz.requests == 2        # eligible and deny assignments of that one subscription
    assert 1 <= graph.requests <= 4       # the caller and its groups, then the vault's other principals


def test_values_are_validated_and_quoted_as_kusto_literals(fakes, clock):
    arg, graph = fakes
    with pytest.raises(ExplainInputError):
        explain(from_arguments("kv' or 1==1 //", demo_estate.PRINCIPALS["ivan"].id, "getSecret", None), "live",
                live=live(arg, graph, clock))
    assert arg.requests == 0
    assert kusto("a'b\\c") == "'a\\'b\\\\c'"
    assert "'x\\' | take 1'" in query_text("subscription", SUBSCRIPTION_ID="x' | take 1")


def test_cli_live_with_the_managed_identity_and_endpoint_overrides(fakes, demo, monkeypatch, capsys):
    import json

    from audit_function.cli.main import main
    from tests.fakes.identity_server import live_azure

    arg, graph = fakes
    with live_azure(monkeypatch, arg, graph=graph, token="fake-token"):
        code = main(["explain", "--live", "--format", "json", "--vault", "kv-crm-dev", "--principal",
                     demo_estate.PRINCIPALS["sp-crm-ci-legacy"].id, "--action", "keys get"])
    doc = json.loads(capsys.readouterr().out)
    assert (code, doc["reason"], doc["source"]) == (1, "wrong-model", "live")
    assert doc["who"]["name"] == "crm-build-pipeline (retired)"   # resolved through the fake Graph
    assert arg.requests == 3
