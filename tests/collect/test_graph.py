"""Directory data from Microsoft Graph: the real azure-core client against the local HTTPS fake Graph.

Waits run on the virtual clock: a Retry-After of 7 s shows up as a 7 s sleep, not as real time.
"""

from __future__ import annotations

import math
import uuid

import pytest

from audit_function.collect import clouds
from audit_function.collect.graph import BATCH_LIMIT, MEMBERSHIP_WORKERS, SELECT, add_directory, principal_ids, resolve
from audit_function.collect.graph_client import MAX_TRANSIENT, GraphClient
from audit_function.collect.pacing import Pacer
from audit_function.snapshot.load import RawSnapshot
from tests.collect.conftest import StaticCredential
from tests.fakes.graph_server import FakeGraph, GraphFaults, group, service_principal, user

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def oid(n: int, kind: str = "0") -> str:
    return str(uuid.UUID(int=(int(kind, 16) << 120) + n))


@pytest.fixture
def graph_serve(clock, tmp_path):
    started = []

    def make(objects, member_of=None, token=None, **faults):
        fake = FakeGraph(objects, member_of, clock=clock, faults=GraphFaults(**faults), token=token,
                         cert_dir=tmp_path / f"graph{len(started)}")
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.close()


@pytest.fixture
def client_for(clock):
    made = []

    def make(fake, credential=None, budget_s=None):
        pacer = Pacer(sleep=clock.sleep, clock=clock.now, budget_s=budget_s)
        client = GraphClient(credential or StaticCredential(), fake.url, GRAPH_SCOPE, str(fake.ca_path), pacer)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def small_directory():
    """u1 (member) and u2 (guest) in g1; g1 nested in g2; sp1 in g2; g3 alone."""
    objects = [user(oid(1, "a"), "Ada Lovelace"), user(oid(2, "a"), "Guest Person", "Guest"),
               group(oid(1, "b"), "Vault Readers"), group(oid(2, "b"), "All Engineering"),
               group(oid(3, "b"), "Unrelated", security=False),
               service_principal(oid(1, "c"), "deploy-pipeline", oid(99, "d"))]
    member_of = {oid(1, "a"): [oid(1, "b")], oid(2, "a"): [oid(1, "b"), oid(3, "b")],
                 oid(1, "b"): [oid(2, "b")], oid(1, "c"): [oid(2, "b")]}
    return objects, member_of


def snapshot_granting(ids, *, complete=True) -> RawSnapshot:
    """Role assignments for some ids, an access policy for the rest."""
    ids = list(ids)
    half = len(ids) // 2
    assignments = [{"id": f"/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/{i}",
                    "properties": {"principalId": p, "roleDefinitionId": "x", "scope": "/subscriptions/s"}}
                   for i, p in enumerate(ids[:half])]
    vault = {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1",
             "properties": {"accessPolicies": [{"objectId": p, "tenantId": "t", "permissions": {}} for p in ids[half:]]}}
    return RawSnapshot(tables={"vaults": [vault], "role_assignments": assignments, "subscriptions": []},
                       manifest={"complete": complete, "gaps": [], "tables": {}, "directoryData": False})


def hook(raw, fake, clock, **kw):
    target = clouds.resolve("public")
    kw.setdefault("endpoint", fake.url)
    add_directory(raw, enabled=kw.pop("enabled", True), credential=kw.pop("credential", StaticCredential()),
                  target=target, verify=str(fake.ca_path), sleep=clock.sleep, clock=clock.now, **kw)
    return raw.manifest


def directory_entry(manifest):
    (entry,) = [c for c in manifest["coverage"] if c["source"] == "directory"]
    return entry


# -- which ids are looked up -------------------------------------------------------------------

def test_principal_ids_come_from_assignments_policies_eligibilities_and_deny_assignments():
    a, b, c, d, e = (oid(n) for n in range(1, 6))
    tables = {
        "role_assignments": [{"properties": {"principalId": a.upper()}}, {"properties": {}}, "not a row"],
        "vaults": [{"properties": {"accessPolicies": [{"objectId": b}, {"objectId": "not-a-guid"}, None]}},
                   {"properties": None}],
        "role_eligibilities": [{"properties": {"principalId": c}}],
        "deny_assignments": [{"properties": {"principals": [{"id": "00000000-0000-0000-0000-000000000000",
                                                             "type": "SystemDefined"}, {"id": d}],
                                             "excludePrincipals": [{"id": e, "type": "ServicePrincipal"}]}}],
    }
    assert principal_ids(tables) == {a, b, c, d, e}


# -- names, batching, types ---------------------------------------------------------------------

def test_2500_ids_take_three_get_by_ids_calls_and_deleted_ids_are_listed(graph_serve, client_for):
    live = [user(oid(n, "a"), f"User {n}", "Guest" if n % 10 == 0 else "Member") for n in range(1200)]
    live += [group(oid(n, "b"), f"Group {n}") for n in range(600)]
    live += [service_principal(oid(n, "c"), f"app-{n}", oid(n, "d")) for n in range(600)]
    deleted = [oid(n, "e") for n in range(100)]
    fake = graph_serve(live)
    ids = [o["id"] for o in live] + deleted
    res = resolve(client_for(fake), ids)

    calls = [e for e in fake.log if e.get("path") == "/v1.0/directoryObjects/getByIds"]
    assert len(calls) == 3 and fake.get_by_ids_calls == 3
    assert sorted(len(e["body"]["ids"]) for e in calls) == [500, 1000, 1000]
    assert all(e["body"]["types"] == ["user", "group", "servicePrincipal"] for e in calls)
    assert all(e["query"]["$select"] == SELECT for e in calls)
    assert len(res.rows) == 2400 and res.not_found == sorted(deleted) and not res.failed
    guest = res.rows[oid(10, "a")]
    assert guest == {"id": oid(10, "a"), "type": "user", "displayName": "User 10", "userType": "Guest",
                     "appId": None, "memberOf": []}
    assert res.rows[oid(3, "c")]["type"] == "servicePrincipal" and res.rows[oid(3, "c")]["appId"] == oid(3, "d")
    assert res.rows[oid(3, "b")]["type"] == "group" and res.rows[oid(3, "b")]["userType"] is None
    # memberships: every resolved principal once, 20 per $batch
    batches = [e for e in fake.log if e.get("path") == "/v1.0/$batch"]
    assert len(batches) == math.ceil(2400 / BATCH_LIMIT)
    assert all(len(e["body"]["requests"]) <= 20 for e in batches)


def test_without_select_graph_would_drop_user_type(graph_serve, client_for):
    """Why the request selects: the fake, like Graph v1.0, returns users' default subset otherwise."""
    fake = graph_serve([user(oid(1, "a"), "Guest Person", "Guest")])
    answer = client_for(fake).call("POST", "/directoryObjects/getByIds", {"ids": [oid(1, "a")], "types": ["user"]})
    assert "userType" not in answer["value"][0]


def test_a_bad_id_is_isolated_and_the_rest_resolve(graph_serve, client_for):
    objects, member_of = small_directory()
    fake = graph_serve(objects, member_of)
    res = resolve(client_for(fake), [o["id"] for o in objects] + ["not-a-guid"])
    assert set(res.rows) == {o["id"] for o in objects}
    assert res.failed == {"not-a-guid"} and "not-a-guid" not in res.not_found
    assert any("Invalid object identifier" in e for e in res.errors)


def test_a_refused_select_is_dropped_once_and_names_still_resolve(graph_serve, clock):
    live = [user(oid(n, "a"), f"User {n}", "Guest") for n in range(1500)]
    fake = graph_serve(live, refuse_select=True)
    raw = snapshot_granting([o["id"] for o in live])
    m = hook(raw, fake, clock)
    calls = [e for e in fake.log if e.get("path") == "/v1.0/directoryObjects/getByIds"]
    assert [("$select" in e["query"], e["status"]) for e in calls] == [(True, 400), (False, 200), (False, 200)]
    assert len(raw.tables["principals"]) == 1500 and all(r["userType"] is None for r in raw.tables["principals"])
    assert directory_entry(m)["state"] == "partial" and "userType is unknown" in directory_entry(m)["note"]


def test_a_bad_id_costs_one_probe_without_select_then_splits(graph_serve, client_for):
    objects, member_of = small_directory()
    fake = graph_serve(objects, member_of)
    res = resolve(client_for(fake), [o["id"] for o in objects] + ["not-a-guid"])
    calls = [e for e in fake.log if e.get("path") == "/v1.0/directoryObjects/getByIds"]
    assert sum("$select" not in e["query"] for e in calls) == 1 and not res.select_refused
    assert res.rows[oid(2, "a")]["userType"] == "Guest"


# -- memberships ------------------------------------------------------------------------------

def test_memberships_are_transitive_for_users_groups_and_service_principals(graph_serve, client_for):
    objects, member_of = small_directory()
    fake = graph_serve(objects, member_of)
    res = resolve(client_for(fake), [o["id"] for o in objects])
    assert res.rows[oid(1, "a")]["memberOf"] == sorted([oid(1, "b"), oid(2, "b")])          # via nesting
    assert res.rows[oid(2, "a")]["memberOf"] == sorted([oid(1, "b"), oid(2, "b"), oid(3, "b")])  # not only security
    assert res.rows[oid(1, "b")]["memberOf"] == [oid(2, "b")]
    assert res.rows[oid(1, "c")]["memberOf"] == [oid(2, "b")]
    assert res.rows[oid(2, "b")]["memberOf"] == []
    bodies = [r["body"] for e in fake.log if e.get("path") == "/v1.0/$batch" for r in e["body"]["requests"]]
    assert bodies and all(b == {"securityEnabledOnly": False} for b in bodies)


def test_over_the_get_member_groups_limit_falls_back_to_paged_transitive_member_of(graph_serve, client_for):
    objects, member_of = small_directory()
    many = [group(oid(n, "f"), f"Team {n}") for n in range(7)]
    member_of[oid(1, "a")] = [g["id"] for g in many] + [oid(1, "b")]
    fake = graph_serve(objects + many, member_of, result_limit=5, page_size=3)
    res = resolve(client_for(fake), [oid(1, "a"), oid(2, "a")])
    assert res.rows[oid(1, "a")]["memberOf"] == sorted([g["id"] for g in many] + [oid(1, "b"), oid(2, "b")])
    pages = [e for e in fake.log if e.get("path", "").endswith(f"/users/{oid(1, 'a')}/transitiveMemberOf")]
    assert len(pages) == 3 and "$skiptoken" in pages[-1]["query"]   # 9 groups, 3 per page, via @odata.nextLink
    assert not res.memberships_failed


# -- throttling and failures -------------------------------------------------------------------

@pytest.mark.parametrize("fault", ["429", "429-lower"])
def test_429_waits_for_retry_after_whatever_its_case(graph_serve, client_for, clock, fault):
    objects, member_of = small_directory()
    fake = graph_serve(objects, member_of, script={1: fault, 2: fault}, retry_after=7)
    res = resolve(client_for(fake), [o["id"] for o in objects])
    assert fake.statuses[429] == 2
    assert clock.sleeps[:2] == [7.0, 7.0]
    assert len(res.rows) == len(objects) and not res.failed and not res.errors


def test_throttled_answers_inside_a_batch_are_asked_again(graph_serve, client_for, clock):
    objects, member_of = small_directory()
    fake = graph_serve(objects, member_of, inner_throttle={oid(1, "a"): 2}, retry_after=4)
    res = resolve(client_for(fake), [o["id"] for o in objects])
    assert res.rows[oid(1, "a")]["memberOf"] == sorted([oid(1, "b"), oid(2, "b")])
    assert clock.sleeps == [4.0, 4.0]
    assert len([e for e in fake.log if e.get("path") == "/v1.0/$batch"]) == 3


def test_5xx_is_retried_a_bounded_number_of_times_then_that_batch_is_unresolved(graph_serve, client_for, clock):
    live = [user(oid(n, "a"), f"User {n}") for n in range(2500)]
    fake = graph_serve(live, always_fail_get_by_ids={2, 3, 4, 5, 6, 7})   # the 2nd batch never succeeds
    res = resolve(client_for(fake), [o["id"] for o in live])
    assert fake.get_by_ids_calls == 2 + 1 + MAX_TRANSIENT
    assert len(res.rows) == 1500 and len(res.failed) == 1000 and not res.not_found
    assert len(clock.sleeps) == MAX_TRANSIENT and all(s == 1.0 for s in clock.sleeps)  # Retry-After: 1


# -- the collector's hook: manifest, coverage, optional permission ---------------------------------

def test_without_the_permission_no_principals_are_written_and_the_run_stays_complete(graph_serve, clock):
    objects, _ = small_directory()
    fake = graph_serve(objects, denied=True)
    raw = snapshot_granting([o["id"] for o in objects])
    m = hook(raw, fake, clock)
    assert "principals" not in raw.tables and "principals" not in m["tables"]
    assert m["complete"] is True and m["gaps"] == [] and m["directoryData"] is False
    entry = directory_entry(m)
    assert entry["state"] == "not collected"
    assert "Authorization_RequestDenied" in entry["note"] and "Insufficient privileges" in entry["note"]
    assert "Directory.Read.All" in entry["note"]
    assert m["directory"]["requested"] == len(objects) and m["directory"]["resolved"] == 0
    assert "notFound" not in m["directory"]          # nothing was read: no id can be called deleted
    assert fake.requests == 1                        # one refusal is enough


def test_collected_directory_writes_rows_counts_and_not_found_ids(graph_serve, clock):
    objects, member_of = small_directory()
    gone = [oid(7, "e"), oid(8, "e")]
    fake = graph_serve(objects, member_of)
    credential = StaticCredential()
    raw = snapshot_granting([o["id"] for o in objects] + gone)
    m = hook(raw, fake, clock, credential=credential)
    assert credential.scopes and all(s == (GRAPH_SCOPE,) for s in credential.scopes)
    assert [r["id"] for r in raw.tables["principals"]] == sorted(o["id"] for o in objects)
    assert m["tables"]["principals"] == len(objects) and m["directoryData"] is True
    assert directory_entry(m)["state"] == "collected"
    assert "2 not found" in directory_entry(m)["note"]
    d = m["directory"]
    assert d["notFound"] == sorted(gone) and d["deleted"] == 2 and d["resolved"] == len(objects)
    assert d["requests"] == fake.requests and d["endpoint"] == fake.url
    assert m["complete"] is True


def test_memberships_refused_gives_partial_with_null_member_of(graph_serve, clock):
    objects, member_of = small_directory()
    fake = graph_serve(objects, member_of, deny_memberships=True)
    raw = snapshot_granting([o["id"] for o in objects])
    m = hook(raw, fake, clock)
    assert directory_entry(m)["state"] == "partial" and "memberships unknown" in directory_entry(m)["note"]
    assert all(r["memberOf"] is None and r["displayName"] for r in raw.tables["principals"])
    assert m["directory"]["membershipsUnknown"] == len(objects) and m["complete"] is True


def test_memberships_refused_are_not_asked_for_again_and_again(graph_serve, client_for):
    live = [user(oid(n, "a"), f"User {n}") for n in range(100)]
    fake = graph_serve(live, deny_memberships=True)
    res = resolve(client_for(fake), [o["id"] for o in live])
    assert len(res.rows) == 100 and res.memberships_failed == set(res.rows)
    # the first round of batches in flight is refused: nothing more is asked (100 principals = 5 batches)
    assert len([e for e in fake.log if e.get("path") == "/v1.0/$batch"]) == MEMBERSHIP_WORKERS < 5


def test_partial_failure_keeps_what_resolved(graph_serve, clock):
    live = [user(oid(n, "a"), f"User {n}") for n in range(2500)]
    fake = graph_serve(live, always_fail_get_by_ids={1, 2, 3, 4, 5, 6})
    raw = snapshot_granting([o["id"] for o in live])
    m = hook(raw, fake, clock)
    assert directory_entry(m)["state"] == "partial" and "1000 id(s) unresolved" in directory_entry(m)["note"]
    assert len(raw.tables["principals"]) == 1500 == m["tables"]["principals"]
    assert m["directory"]["unresolved"] == 1000 and m["directory"]["notFound"] == []


def test_no_directory_and_an_overridden_arm_endpoint_skip_graph(graph_serve, clock, monkeypatch):
    objects, _ = small_directory()
    fake = graph_serve(objects)
    raw = snapshot_granting([o["id"] for o in objects])
    m = hook(raw, fake, clock, enabled=False)
    assert directory_entry(m)["state"] == "not collected" and "--no-directory" in directory_entry(m)["note"]
    target = clouds.resolve("public", "https://127.0.0.1:1")
    add_directory(raw, enabled=True, credential=StaticCredential(), target=target, verify=True,
                  sleep=clock.sleep, clock=clock.now)
    assert "KV_AUDIT_GRAPH_ENDPOINT" in directory_entry(raw.manifest)["note"]
    assert len(raw.manifest["coverage"]) == 1 and fake.requests == 0 and "principals" not in raw.tables
    monkeypatch.setenv("KV_AUDIT_GRAPH_ENDPOINT", fake.url)
    assert clouds.graph(target).endpoint == fake.url and clouds.graph(target).token_scope == GRAPH_SCOPE
    monkeypatch.delenv("KV_AUDIT_GRAPH_ENDPOINT")
    usgov = clouds.graph(clouds.resolve("usgov"))
    assert (usgov.endpoint, usgov.token_scope) == ("https://graph.microsoft.us", "https://graph.microsoft.us/.default")


def test_a_rejected_token_is_not_collected_and_says_why(graph_serve, clock):
    objects, _ = small_directory()
    fake = graph_serve(objects, token="the-right-token")
    raw = snapshot_granting([o["id"] for o in objects])
    m = hook(raw, fake, clock, credential=StaticCredential("a-token-for-another-audience"))
    assert directory_entry(m)["state"] == "not collected" and "InvalidAuthenticationToken" in directory_entry(m)["note"]
    assert "principals" not in raw.tables and m["complete"] is True and fake.requests == 1


def test_the_time_budget_stops_graph_waits_without_failing_the_collection(graph_serve, clock):
    objects, member_of = small_directory()
    fake = graph_serve(objects, member_of, script={1: "429"}, retry_after=100)
    raw = snapshot_granting([o["id"] for o in objects])
    m = hook(raw, fake, clock, budget_s=50)
    entry = directory_entry(m)
    assert entry["state"] == "not collected" and "time budget exhausted" in entry["note"]
    assert clock.sleeps == [] and m["complete"] is True and "principals" not in raw.tables


def test_budget_spent_on_memberships_keeps_names_and_deleted_ids(graph_serve, clock):
    objects, member_of = small_directory()
    gone = oid(9, "e")
    fake = graph_serve(objects, member_of, inner_throttle={oid(1, "a"): 1}, retry_after=100)
    raw = snapshot_granting([o["id"] for o in objects] + [gone])
    m = hook(raw, fake, clock, budget_s=50)
    assert directory_entry(m)["state"] == "partial" and "time budget ran out" in directory_entry(m)["note"]
    assert len(raw.tables["principals"]) == len(objects) and m["directory"]["notFound"] == [gone]
    assert m["directory"]["unresolved"] == 0 and m["directory"]["membershipsUnknown"] == 1
    (unknown,) = [r for r in raw.tables["principals"] if r["memberOf"] is None]
    assert unknown["id"] == oid(1, "a")
