"""collect_snapshot against the local Resource Graph endpoint: rows, request counts, scopes, gaps."""

from __future__ import annotations

import json

import pytest

from audit_function.collect import LiveScope
from audit_function.collect.collector import SUBSCRIPTION_BATCH
from audit_function.errors import CollectionError
from tests.collect.conftest import expected_rows, ids, minimum_requests
from tests.fakes.estate import TENANT, synthetic_estate


@pytest.fixture(scope="module")
def estate():
    return synthetic_estate(subscriptions=12, vaults=2500, assignments=40000, seed=11)


def test_tenant_scope_collects_every_table_in_minimum_requests(serve, collect, estate):
    fake = serve(estate)
    snap = collect(fake)
    want = expected_rows(estate)
    for table, rows in want.items():
        assert ids(snap.tables[table]) == ids(rows), table
    # vaults keep every column exactly as ARG returned them
    by_id = {r["id"]: r for r in estate["vaults"]}
    by_sub = {r["id"]: r for r in estate["subscriptions"]}
    assert all(row == by_id[row["id"]] for row in snap.tables["vaults"])
    # the other tables carry only the projected columns
    assert set(snap.tables["role_assignments"][0]) == {"id", "name", "type", "tenantId", "properties"}  # tenantId binds / and MG scopes
    # subscriptions and resource groups carry their tags: they name the owners of findings
    assert set(snap.tables["subscriptions"][0]) == {"id", "name", "type", "tenantId", "subscriptionId", "tags",
                                                    "properties"}
    assert set(snap.tables["resource_groups"][0]) == {"id", "name", "type", "subscriptionId", "tags"}
    assert all(row["tags"] == by_sub[row["id"]]["tags"] for row in snap.tables["subscriptions"])
    assert any(row["tags"].get("owner") for row in snap.tables["resource_groups"])
    minimum = minimum_requests(want)
    assert fake.requests == snap.manifest["requests"] == minimum
    assert fake.requests <= 1.1 * minimum
    # most assignments sit on other resources and never cross the wire
    assert len(want["role_assignments"]) < 0.15 * len(estate["role_assignments"])
    m = snap.manifest
    assert m["format"] == "kv-audit-snapshot/1" and m["source"] == "live" and m["complete"] is True
    assert m["gaps"] == [] and m["directoryData"] is False and "principals" not in snap.tables
    assert m["tables"] == {t: len(r) for t, r in snap.tables.items()}
    assert m["scope"] == {"managementGroups": [], "subscriptions": []}
    assert m["collectedAt"].endswith("Z") and m["throttleWaits"] == 0 and m["apiVersion"] == "2024-04-01"
    json.dumps(m)  # the manifest is plain JSON


def test_requests_pages_use_skip_token_and_full_pages(serve, collect, estate):
    fake = serve(estate)
    collect(fake)
    vault_requests = [e for e in fake.log if e["table"] == "vaults"]
    assert len(vault_requests) == 3  # 2500 vaults
    assert "$skipToken" not in vault_requests[0]["options"]
    assert all("$skipToken" in e["options"] for e in vault_requests[1:])
    assert all(e["options"]["$top"] == 1000 and e["options"]["resultFormat"] == "objectArray" for e in fake.log)
    assert all(e["apiVersion"] == "2024-04-01" for e in fake.log)
    # tenant scope: no subscriptions in the body, partial scopes allowed, no scope filter needed
    assert all(not e["subscriptions"] and not e["managementGroups"] for e in fake.log)
    assert all(e["options"].get("allowPartialScopes") is True for e in fake.log)


def test_subscription_scope_includes_assignments_inherited_from_management_groups_and_root(serve, collect, estate):
    fake = serve(estate)
    corp = [r["subscriptionId"] for r in estate["subscriptions"]
            if r["properties"]["managementGroupAncestorsChain"][0]["name"] == "corp"]
    snap = collect(fake, LiveScope(subscriptions=tuple(corp)))
    want = expected_rows(estate, subs=corp)
    for table in ("subscriptions", "vaults", "role_assignments"):
        assert ids(snap.tables[table]) == ids(want[table]), table
    scopes = {r["properties"]["scope"].lower() for r in snap.tables["role_assignments"]}
    assert "/" in scopes
    assert "/providers/microsoft.management/managementgroups/corp" in scopes
    assert f"/providers/microsoft.management/managementgroups/{TENANT}" in scopes
    assert "/providers/microsoft.management/managementgroups/platform" not in scopes  # not above corp
    ra_requests = [e for e in fake.log if e["table"] == "role_assignments"]
    assert all(e["options"]["authorizationScopeFilter"] == "AtScopeAboveAndBelow" for e in ra_requests)
    assert all(sorted(e["subscriptions"]) == sorted(corp) for e in ra_requests)
    # built-in role definitions and management groups live outside subscriptions: read at tenant scope
    defs = [e for e in fake.log if e["table"] in ("role_definitions", "management_groups")]
    assert defs and all(not e["subscriptions"] for e in defs)
    assert ids(snap.tables["role_definitions"]) == ids(estate["role_definitions"])
    assert snap.manifest["complete"] is True
    assert snap.manifest["requests"] <= 1.1 * minimum_requests(want)


def test_management_group_scope(serve, collect, estate):
    fake = serve(estate)
    snap = collect(fake, LiveScope(management_groups=("/providers/Microsoft.Management/managementGroups/landing-zones",)))
    under = [r["subscriptionId"] for r in estate["subscriptions"]
             if any(m["name"] == "landing-zones" for m in r["properties"]["managementGroupAncestorsChain"])]
    want = expected_rows(estate, subs=under)
    for table in ("subscriptions", "vaults"):
        assert ids(snap.tables[table]) == ids(want[table]), table
    scopes = {r["properties"]["scope"].lower() for r in snap.tables["role_assignments"]}
    assert "/" in scopes and "/providers/microsoft.management/managementgroups/landing-zones" in scopes
    assert "/providers/microsoft.management/managementgroups/platform" not in scopes
    scoped = [e for e in fake.log if e["table"] in ("subscriptions", "vaults", "role_assignments")]
    assert all(e["managementGroups"] == ["landing-zones"] and e["options"]["allowPartialScopes"] for e in scoped)
    assert snap.manifest["scope"]["managementGroups"] == ["landing-zones"]


def test_one_forbidden_subscription_becomes_a_gap_and_every_other_vault_is_collected(serve, collect, estate):
    subs = [r["subscriptionId"] for r in estate["subscriptions"]]
    denied = subs[5]
    fake = serve(estate, forbidden_subscriptions={denied})
    snap = collect(fake, LiveScope(subscriptions=tuple(subs)))
    want = expected_rows(estate, subs=subs, forbidden=[denied])
    for table in ("subscriptions", "vaults", "role_assignments"):
        assert ids(snap.tables[table]) == ids(want[table]), table
    assert not any(r["subscriptionId"] == denied for r in snap.tables["vaults"])
    m = snap.manifest
    assert m["complete"] is False
    gap_keys = {(g["scope"], g["table"]) for g in m["gaps"]}
    assert gap_keys == {(f"/subscriptions/{denied}", t) for t in ("subscriptions", "vaults", "role_assignments",
                                                                  "lighthouse_delegations", "resource_groups",
                                                                  "role_eligibilities", "deny_assignments",
                                                                  "managed_hsms")}
    assert all(g["reason"] for g in m["gaps"])
    # the 403 batch was split until the denied subscription stood alone; later tables skip it
    assert [e["subscriptions"] for e in fake.log if e["status"] == 403][-1] == [denied]
    assert not any(denied in e["subscriptions"] for e in fake.log if e["table"] in ("vaults", "role_assignments"))


def test_every_requested_subscription_forbidden_is_an_error(serve, collect, estate):
    subs = [r["subscriptionId"] for r in estate["subscriptions"][:2]]
    fake = serve(estate, forbidden_subscriptions=set(subs))
    with pytest.raises(CollectionError, match="can read none of the requested scopes"):
        collect(fake, LiveScope(subscriptions=tuple(subs)))


def test_unknown_subscription_is_a_gap(serve, collect, estate):
    ghost = "00000000-0000-0000-0000-0000000000aa"
    real = estate["subscriptions"][0]["subscriptionId"]
    fake = serve(estate)
    snap = collect(fake, LiveScope(subscriptions=(real, ghost.upper())))
    assert ids(snap.tables["vaults"]) == ids(expected_rows(estate, subs=[real])["vaults"])
    assert snap.manifest["gaps"] == [{"scope": f"/subscriptions/{ghost}", "table": "subscriptions",
                                      "reason": snap.manifest["gaps"][0]["reason"]}]
    assert "not returned" in snap.manifest["gaps"][0]["reason"]


def test_subscriptions_are_batched_within_limits_and_inherited_rows_kept_once(serve, collect):
    tables = synthetic_estate(subscriptions=600, vaults=1200, assignments=6000, seed=5)
    fake = serve(tables)
    subs = tuple(r["subscriptionId"] for r in tables["subscriptions"])
    snap = collect(fake, LiveScope(subscriptions=subs))
    want = expected_rows(tables, subs=subs)
    sizes = [len(e["subscriptions"]) for e in fake.log if e["table"] == "vaults"]
    assert sizes == [250, 250, 100] and max(len(e["subscriptions"]) for e in fake.log) <= SUBSCRIPTION_BATCH
    got = [r["id"].lower() for r in snap.tables["role_assignments"]]
    assert len(got) == len(set(got))  # '/' and MG assignments come back with every batch, kept once
    assert ids(snap.tables["role_assignments"]) == ids(want["role_assignments"])
    # each extra batch of a subscription-scoped table may cost one more (partial) page
    assert snap.manifest["requests"] <= 1.1 * minimum_requests(want) + (3 - 1) * 5   # 5 subscription-scoped tables


def test_bad_scope_values_are_refused_before_any_request(serve, collect, estate):
    fake = serve(estate)
    with pytest.raises(CollectionError, match="subscription id"):
        collect(fake, LiveScope(subscriptions=("Production",)))
    with pytest.raises(CollectionError, match="management group id"):
        collect(fake, LiveScope(management_groups=("Platform Team",)))
    with pytest.raises(CollectionError, match="tuples"):
        collect(fake, LiveScope(subscriptions="abc"))
    assert fake.requests == 0


def test_progress_reports_tables_pages_and_waits(serve, collect, estate):
    fake = serve(estate, quota=(3, 5.0))
    events = []
    collect(fake, progress=lambda event, **fields: events.append((event, fields)))
    kinds = [e for e, _ in events]
    assert kinds[0] == "start" and "done" in kinds
    # after Resource Graph is done, the ARM listings (eligibilities, deny assignments) follow
    assert {f["table"] for e, f in events[kinds.index("done"):] if e == "table"} == {"role_eligibilities",
                                                                                   "deny_assignments"}
    pages = [f for e, f in events if e == "page"]
    assert len(pages) == fake.requests + fake.authz.requests
    assert {p["table"] for p in pages} == {"subscriptions", "management_groups", "role_definitions", "vaults",
                                           "role_assignments", "lighthouse_delegations", "resource_groups", "managed_hsms",
                                           "role_eligibilities", "deny_assignments"}
    assert sum(p["rows"] for p in pages if p["table"] == "vaults") == 2500
    assert any(e == "wait" and f["reason"] == "quota" for e, f in events)
    done = [f for e, f in events if e == "table" and f["state"] == "done"]
    assert [d["table"] for d in done] == ["subscriptions", "management_groups", "role_definitions", "vaults",
                                          "role_assignments", "lighthouse_delegations", "resource_groups", "managed_hsms",
                                          "role_eligibilities", "deny_assignments"]


def test_forbidden_management_group_is_isolated(serve, collect, estate):
    fake = serve(estate, forbidden_management_groups={"corp"})
    snap = collect(fake, LiveScope(management_groups=("corp", "platform")))
    platform = [r["subscriptionId"] for r in estate["subscriptions"]
                if r["properties"]["managementGroupAncestorsChain"][0]["name"] == "platform"]
    assert ids(snap.tables["vaults"]) == ids(expected_rows(estate, subs=platform)["vaults"])
    corp = "/providers/Microsoft.Management/managementGroups/corp"
    assert {(g["scope"], g["table"]) for g in snap.manifest["gaps"]} == {
        (corp, "subscriptions"), (corp, "vaults"), (corp, "role_assignments"), (corp, "lighthouse_delegations"),
        (corp, "resource_groups"), (corp, "role_eligibilities"), (corp, "deny_assignments"), (corp, "managed_hsms")}
    assert [e["managementGroups"] for e in fake.log if e["status"] == 403] == [["corp", "platform"], ["corp"]]
