"""role_eligibilities and deny_assignments: the real azure-mgmt-authorization client against the local
HTTPS ARM endpoint (served by the same fake as Resource Graph), on the virtual clock."""

from __future__ import annotations

import json

import pytest

from audit_function.cli.main import main
from audit_function.collect import LiveScope
from audit_function.collect.arm_authorization import CONTRACT_KEYS, MAX_THROTTLED, MAX_TRANSIENT
from audit_function.snapshot.load import iter_rows, load_estate
from tests.fakes.arm_server import ArmFaults
from tests.fakes.estate import TENANT, synthetic_estate
from tests.fakes.identity_server import live_azure

MG = "/providers/Microsoft.Management/managementGroups/"
TABLES = ("role_eligibilities", "deny_assignments")


def _guid(n: int, kind: int) -> str:
    return f"{kind:08x}-0000-4000-8000-{n:012x}"


def eligibility(scope: str, n: int) -> dict:
    base = "" if scope == "/" else scope
    return {"id": f"{base}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances/{_guid(n, 1)}",
            "name": _guid(n, 1), "type": "Microsoft.Authorization/roleEligibilityScheduleInstances",
            "properties": {"scope": scope,
                           "roleDefinitionId": f"{base}/providers/Microsoft.Authorization/roleDefinitions/"
                                               "00482a5a-887f-4fb3-b363-3b7fe8e74483",
                           "principalId": _guid(n, 2), "principalType": "User",
                           "roleEligibilityScheduleId": f"{base}/providers/Microsoft.Authorization/"
                                                        f"roleEligibilitySchedules/{_guid(n, 3)}",
                           "status": "Provisioned", "startDateTime": "2026-01-01T08:00:00.000Z",
                           "endDateTime": None if n % 2 else "2027-01-01T08:00:00.000Z",
                           "memberType": "Direct", "condition": None,
                           "createdOn": "2026-01-01T08:00:00.000Z"}}


def deny_assignment(scope: str, n: int) -> dict:
    base = "" if scope == "/" else scope
    return {"id": f"{base}/providers/Microsoft.Authorization/denyAssignments/{_guid(n, 4)}",
            "name": _guid(n, 4), "type": "Microsoft.Authorization/denyAssignments",
            "properties": {"denyAssignmentName": f"Deny assignment {n} created by Deployment Stack", "scope": scope,
                           "description": "deployment stack deny setting",
                           "permissions": [{"actions": ["*"], "notActions": ["*/read"],
                                            "dataActions": [], "notDataActions": []}],
                           "principals": [{"id": "00000000-0000-0000-0000-000000000000", "type": "SystemDefined"}],
                           "excludePrincipals": [{"id": _guid(n, 5), "type": "ServicePrincipal"}],
                           "doNotApplyToChildScopes": False, "isSystemProtected": True}}


def lighthouse(sub: str, n: int) -> dict:
    rid = f"/subscriptions/{sub}/providers/Microsoft.ManagedServices/registrationAssignments/{_guid(n, 6)}"
    return {"id": rid, "name": _guid(n, 6), "type": "microsoft.managedservices/registrationassignments",
            "tenantId": TENANT, "subscriptionId": sub, "resourceGroup": "",
            "properties": {"registrationDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.ManagedServices/"
                                                       f"registrationDefinitions/{_guid(n, 7)}",
                           "provisioningState": "Succeeded",
                           "registrationDefinition": {"properties": {
                               "managedByTenantId": "99999999-0000-0000-0000-000000000001",
                               "managedByTenantName": "Contoso MSP", "registrationDefinitionName": "MSP ops",
                               "authorizations": [{"principalId": _guid(n, 8), "principalIdDisplayName": "MSP admins",
                                                   "roleDefinitionId": "b24988ac-6180-42a0-ab88-20f7382dd24c"}]}}}}


def estate_with_authorization(subscriptions: int = 6) -> dict:
    """A synthetic estate plus eligibilities and deny assignments at '/', every management group,
    every subscription, one resource group per subscription and one vault per subscription."""
    tables = synthetic_estate(subscriptions=subscriptions, vaults=subscriptions * 2, assignments=100, seed=3)
    scopes = ["/"] + [MG + m["name"] for m in tables["management_groups"]]
    for row in tables["subscriptions"]:
        sub = row["subscriptionId"]
        scopes += [f"/subscriptions/{sub}", f"/subscriptions/{sub}/resourceGroups/rg-1"]
        scopes += [v["id"] for v in tables["vaults"] if v["subscriptionId"] == sub][:1]
    tables["role_eligibilities"] = [eligibility(s, i) for i, s in enumerate(scopes)]
    tables["deny_assignments"] = [deny_assignment(s, i) for i, s in enumerate(scopes)]
    tables["lighthouse_delegations"] = [lighthouse(r["subscriptionId"], i) for i, r in enumerate(tables["subscriptions"])]
    return tables


def applies(tables: dict, table: str, scopes: list[str]) -> list[str]:
    """Ids of the rows at, above or below any of the scopes (what listing each must return), computed
    from the subscriptions' management-group ancestry."""
    chains = {}
    for row in tables["subscriptions"]:
        chain = [MG.lower() + m["name"].lower() for m in row["properties"]["managementGroupAncestorsChain"]]
        chains[f"/subscriptions/{row['subscriptionId']}".lower()] = chain
    for row in tables["management_groups"]:
        chains[row["id"].lower()] = [MG.lower() + m["name"].lower()
                                     for m in row["properties"]["details"]["managementGroupAncestorsChain"]]

    def above(scope: str) -> set[str]:  # the scope and everything above it
        scope = scope.lower()
        parts = scope.split("/")
        sub = "/".join(parts[:3]) if scope.startswith("/subscriptions/") else None
        out = {"/", scope, *chains.get(sub or scope, [])}
        if sub:
            out |= {"/".join(parts[:i]) for i in range(3, len(parts) + 1)}
        return out

    out = set()
    for row in tables[table]:
        loc = row["properties"]["scope"].lower()
        if any(loc in above(s) or s.lower() in above(loc) for s in scopes):
            out.add(row["id"])
    return sorted(out)


def ids(rows):
    return sorted(r["id"] for r in rows)


@pytest.fixture(scope="module")
def estate():
    return estate_with_authorization()


def sub_ids(tables):
    return [r["subscriptionId"] for r in tables["subscriptions"]]


def test_rows_are_arm_objects_with_tenant_id_and_the_contract_keys(serve, collect, estate):
    fake = serve(estate)
    sub = sub_ids(estate)[0]
    snap = collect(fake, LiveScope(subscriptions=(sub,)))
    for table in TABLES:
        assert ids(snap.tables[table]) == applies(estate, table, [f"/subscriptions/{sub}"]), table
        source = {r["id"]: r for r in estate[table]}
        for row in snap.tables[table]:
            assert row["tenantId"] == TENANT
            assert set(CONTRACT_KEYS[table]) <= set(row["properties"])
            # the SDK model serialized back: the ARM object as served (camelCase keys), plus tenantId
            assert row == {**source[row["id"]], "tenantId": TENANT}, row["id"]
    assert snap.manifest["tables"]["role_eligibilities"] == len(snap.tables["role_eligibilities"])
    assert snap.manifest["tables"]["deny_assignments"] == len(snap.tables["deny_assignments"])
    assert snap.manifest["complete"] is True
    # no $filter: rows at, above and below the scope
    assert all(e["filter"] is None for e in fake.authz.log)
    scopes = {r["properties"]["scope"].lower() for r in snap.tables["deny_assignments"]}
    assert "/" in scopes and f"/subscriptions/{sub}/resourcegroups/rg-1" in scopes


def test_pages_follow_next_link_with_each_listings_own_api_version(serve, collect, estate):
    fake = serve(estate, authz=ArmFaults(page_size=2))
    sub = sub_ids(estate)[1]
    snap = collect(fake, LiveScope(subscriptions=(sub,)))
    want = {t: applies(estate, t, [f"/subscriptions/{sub}"]) for t in TABLES}
    for table in TABLES:
        assert ids(snap.tables[table]) == want[table]
        pages = [e for e in fake.authz.log if e["table"] == table]
        assert len(pages) == -(-len(want[table]) // 2) > 2
        assert [e["skip"] for e in pages] == [None] + [str(2 * i) for i in range(1, len(pages))]
        # azure-mgmt-authorization sets a next page's api-version from shared client config: one
        # client per listing keeps each on its own version
        assert {e["apiVersion"] for e in pages} == {"2020-10-01" if table == "role_eligibilities" else "2022-04-01"}
    assert {e["status"] for e in fake.authz.log} == {200}
    assert snap.manifest["armRequests"] == len(fake.authz.log)


def test_management_group_and_subscription_rows_are_kept_once(serve, collect, estate):
    fake = serve(estate, authz=ArmFaults(page_size=3))
    corp_subs = [r["subscriptionId"] for r in estate["subscriptions"]
                 if r["properties"]["managementGroupAncestorsChain"][0]["name"] == "corp"]
    scope = LiveScope(management_groups=("landing-zones",), subscriptions=tuple(corp_subs))
    snap = collect(fake, scope)
    scopes = [MG + "landing-zones"] + [f"/subscriptions/{s}" for s in corp_subs]
    for table in TABLES:
        got = [r["id"].lower() for r in snap.tables[table]]
        assert len(got) == len(set(got)), "rows returned by several scopes are kept once"
        assert ids(snap.tables[table]) == applies(estate, table, scopes)
        # the MG listing returned the corp subscriptions' rows (below it) and '/' (above it) again
        served = [e for e in fake.authz.log if e["table"] == table]
        assert {e["scope"] for e in served} == {s.lower() for s in scopes}
    assert snap.manifest["tables"]["deny_assignments"] == len(snap.tables["deny_assignments"])


def test_tenant_wide_lists_every_subscription_resource_graph_returned(serve, collect, estate):
    fake = serve(estate)
    snap = collect(fake)
    listed = {e["scope"] for e in fake.authz.log}
    assert listed == {f"/subscriptions/{s}".lower() for s in sub_ids(estate)}
    for table in TABLES:
        assert ids(snap.tables[table]) == applies(estate, table, [f"/subscriptions/{s}" for s in sub_ids(estate)])
    assert snap.manifest["complete"] is True


def test_429_honours_retry_after_in_any_case(serve, collect, clock, estate):
    fake = serve(estate, authz=ArmFaults(retry_after=7, script={1: "429-retry-after", 2: "429-lower"}))
    sub = sub_ids(estate)[0]
    snap = collect(fake, LiveScope(subscriptions=(sub,)))
    assert fake.authz.statuses[429] == 2
    assert clock.sleeps.count(7.0) == 2, clock.sleeps  # 'Retry-After: 7' and 'retry-after: 7'
    assert snap.manifest["armThrottleWaits"] == 2 and snap.manifest["complete"] is True
    for table in TABLES:
        assert ids(snap.tables[table]) == applies(estate, table, [f"/subscriptions/{sub}"])


def test_low_read_bucket_pauses_every_worker_so_nothing_is_throttled(serve, collect, clock, estate):
    # ARM's token bucket (here 12 reads, refilled 5 per second): x-ms-ratelimit-remaining-*-reads
    # on every answer; the workers pause once no more reads are left than they may have in flight
    fake = serve(estate, authz=ArmFaults(page_size=1, bucket=(12, 5.0), retry_after=2))
    subs = tuple(sub_ids(estate)[:3])
    events = []
    snap = collect(fake, LiveScope(subscriptions=subs), progress=lambda e, **f: events.append((e, f)))
    assert snap.manifest["complete"] is True
    assert len(fake.authz.log) > 3 * 12  # more requests than the bucket holds
    assert fake.authz.statuses[429] == 0
    assert [f for e, f in events if e == "wait" and f["reason"] == "quota"]
    for table in TABLES:
        assert ids(snap.tables[table]) == applies(estate, table, [f"/subscriptions/{s}" for s in subs])


def test_forbidden_subscription_is_a_gap_naming_it_and_the_rest_is_collected(serve, collect, estate):
    subs = sub_ids(estate)
    denied = subs[2]
    fake = serve(estate, authz=ArmFaults(forbidden={denied}))
    snap = collect(fake, LiveScope(subscriptions=tuple(subs)))
    gaps = [g for g in snap.manifest["gaps"] if g["table"] in TABLES]
    assert {(g["scope"], g["table"]) for g in gaps} == {(f"/subscriptions/{denied}", t) for t in TABLES}
    for gap in gaps:
        assert "HTTP 403 AuthorizationFailed" in gap["reason"]
        assert f"over scope '/subscriptions/{denied}'" in gap["reason"]  # ARM's own words, not boilerplate
    readable = [f"/subscriptions/{s}" for s in subs if s != denied]
    for table in TABLES:
        assert ids(snap.tables[table]) == applies(estate, table, readable)
    assert snap.manifest["complete"] is False
    assert snap.manifest["tables"]["role_eligibilities"] == len(snap.tables["role_eligibilities"])
    assert [e for e in fake.authz.log if e["scope"] == f"/subscriptions/{denied}" and e["status"] == 403]


def test_server_errors_then_success_are_retried(serve, collect, clock, estate):
    fake = serve(estate, authz=ArmFaults(page_size=2, script={1: "500", 2: "503", 3: "reset", 5: "500"}))
    sub = sub_ids(estate)[0]
    snap = collect(fake, LiveScope(subscriptions=(sub,)))
    assert snap.manifest["complete"] is True and snap.manifest["armRetries"] == 4
    for table in TABLES:
        assert ids(snap.tables[table]) == applies(estate, table, [f"/subscriptions/{sub}"])
    assert fake.authz.statuses["reset"] == 1


def test_a_scope_failing_forever_is_a_bounded_gap_with_the_cause(serve, collect, clock, estate):
    subs = sub_ids(estate)[:3]
    broken = f"/subscriptions/{subs[1]}"
    fake = serve(estate, authz=ArmFaults(scope_faults={broken: "503"}))
    snap = collect(fake, LiveScope(subscriptions=tuple(subs)))
    gaps = [g for g in snap.manifest["gaps"] if g["table"] in TABLES]
    assert {(g["scope"], g["table"]) for g in gaps} == {(broken, t) for t in TABLES}
    for gap in gaps:
        assert f"still failing after {MAX_TRANSIENT} retries" in gap["reason"]
        assert "BackendUnavailable" in gap["reason"] and "timed out" in gap["reason"]  # error.details[].message
    for table in TABLES:
        asked = [e for e in fake.authz.log if e["scope"] == broken.lower() and e["table"] == table]
        assert len(asked) == MAX_TRANSIENT + 1
        others = [f"/subscriptions/{s}" for s in subs if f"/subscriptions/{s}" != broken]
        assert ids(snap.tables[table]) == applies(estate, table, others)


def test_throttled_forever_is_a_bounded_gap(serve, collect, clock, estate):
    sub = sub_ids(estate)[0]
    fake = serve(estate, authz=ArmFaults(scope_faults={f"/subscriptions/{sub}": "429"}))
    snap = collect(fake, LiveScope(subscriptions=(sub,)))
    gaps = [g for g in snap.manifest["gaps"] if g["table"] in TABLES]
    assert len(gaps) == 2 and all(f"still throttled after {MAX_THROTTLED} retries" in g["reason"] for g in gaps)
    assert all("SubscriptionRequestsThrottled" in g["reason"] for g in gaps)
    assert len(fake.authz.log) == 2 * (MAX_THROTTLED + 1)
    assert snap.tables["role_eligibilities"] == [] and snap.manifest["tables"]["role_eligibilities"] == 0


def test_unknown_management_group_is_a_gap(serve, collect, estate):
    fake = serve(estate)
    snap = collect(fake, LiveScope(management_groups=("corp", "no-such-group")))
    gaps = {(g["scope"], g["table"]): g["reason"] for g in snap.manifest["gaps"] if g["table"] in TABLES}
    assert set(gaps) == {(MG + "no-such-group", t) for t in TABLES}
    assert all("ManagementGroupNotFound" in r for r in gaps.values())
    for table in TABLES:
        assert ids(snap.tables[table]) == applies(estate, table, [MG + "corp"])


def test_time_budget_spent_by_resource_graph_leaves_arm_scopes_as_gaps(serve, collect, estate):
    fake = serve(estate, latency_s=1.0)  # every Resource Graph request costs one virtual second
    sub = sub_ids(estate)[0]
    snap = collect(fake, LiveScope(subscriptions=(sub,)), time_budget_s=6.0)
    gaps = {(g["scope"], g["table"]): g["reason"] for g in snap.manifest["gaps"] if g["table"] in TABLES}
    assert set(gaps) == {(f"/subscriptions/{sub}", t) for t in TABLES}
    assert all("time budget" in r for r in gaps.values())
    assert fake.authz.requests == 0


def test_collect_command_writes_both_tables_and_their_counts(serve, estate, tmp_path, monkeypatch, capsys):
    fake = serve(estate, token="mi-token", authz=ArmFaults(page_size=4))
    with live_azure(monkeypatch, fake, token="mi-token"):
        assert main(["collect", "--live", "--out", str(tmp_path / "snap")]) == 0
    assert "snapshot written" in capsys.readouterr().out
    snap = tmp_path / "snap"
    manifest = json.loads((snap / "manifest.json").read_text())
    assert manifest["complete"] is True
    everywhere = [f"/subscriptions/{s}" for s in sub_ids(estate)]
    for table in TABLES + ("lighthouse_delegations",):
        rows = [row for _, row in iter_rows(snap / f"{table}.jsonl")]
        assert manifest["tables"][table] == len(rows) > 0, table
        if table in TABLES:
            assert ids(rows) == applies(estate, table, everywhere)
            assert all(r["tenantId"] == TENANT for r in rows)
        else:
            assert ids(rows) == ids(estate["lighthouse_delegations"])
            props = rows[0]["properties"]["registrationDefinition"]["properties"]
            assert props["managedByTenantId"] and props["authorizations"][0]["principalId"]
    # the audit still reads the snapshot (the new tables are optional)
    assert load_estate(snap).vaults
