"""The fake endpoint models the Resource Graph behaviours the collector depends on."""

from __future__ import annotations

import pytest

from audit_function.collect import queries
from tests.fakes.arg_server import FakeArg, Faults
from tests.fakes.estate import TENANT, synthetic_estate


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    with FakeArg(synthetic_estate(subscriptions=3, vaults=30, assignments=3000, seed=9),
                 cert_dir=tmp_path_factory.mktemp("tls")) as server:
        yield server


def scopes(rows):
    return {r["properties"]["scope"].lower() for r in rows}


def test_subscription_scope_alone_misses_inherited_assignments(fake):
    sub = fake.estate.tables["subscriptions"][0]["subscriptionId"]
    q = queries.query("role_assignments")
    below, _ = fake.rows_for("role_assignments", q, [sub], [], {}, "2024-04-01")
    both, _ = fake.rows_for("role_assignments", q, [sub], [], {"authorizationScopeFilter": "AtScopeAboveAndBelow"},
                            "2024-04-01")
    old_api, _ = fake.rows_for("role_assignments", q, [sub], [],
                               {"authorizationScopeFilter": "AtScopeAboveAndBelow"}, "2021-03-01")
    assert all(s.startswith(f"/subscriptions/{sub}") for s in scopes(below))
    assert "/" in scopes(both) and f"/providers/microsoft.management/managementgroups/{TENANT}" in scopes(both)
    assert scopes(old_api) == scopes(below)  # api-version 2021-03-01 has no authorizationScopeFilter


def test_builtin_role_definitions_live_at_tenant_scope(fake):
    sub = fake.estate.tables["subscriptions"][0]["subscriptionId"]
    q = queries.query("role_definitions")
    tenant, _ = fake.rows_for("role_definitions", q, [], [], {}, "2024-04-01")
    in_sub, _ = fake.rows_for("role_definitions", q, [sub], [], {}, "2024-04-01")
    assert len(tenant) == 7 and [r["properties"]["type"] for r in in_sub] == ["CustomRole"]


def test_paging_honours_top_and_binds_the_token_to_the_query(fake):
    q = queries.query("vaults")
    status, _, first = fake.handle_query({"query": q, "options": {"$top": 7}}, "2024-04-01")
    assert status == 200 and first["count"] == 7 and first["totalRecords"] == 30 and first["$skipToken"]
    status, _, nxt = fake.handle_query({"query": q, "options": {"$top": 7, "$skipToken": first["$skipToken"]}},
                                       "2024-04-01")
    assert [r["id"] for r in nxt["data"]] == sorted(r["id"] for r in fake.estate.tables["vaults"])[7:14]
    status, _, err = fake.handle_query({"query": queries.query("subscriptions"),
                                        "options": {"$skipToken": first["$skipToken"]}}, "2024-04-01")
    assert status == 400 and err["error"]["details"][0]["code"] == "CouldNotDecodeSkipToken"
    assert err["error"]["message"].startswith("Please provide below info when asking for support")
    assert fake.handle_query({"query": q, "options": {"$top": 5000}}, "2024-04-01")[0] == 400


def test_subscription_limit_needs_partial_scopes(fake):
    fake.faults = Faults(subscription_limit=2)
    try:
        status, headers, body = fake.handle_query({"query": queries.query("vaults"), "options": {}}, "2024-04-01")
        assert status == 400 and body["error"]["details"][0]["code"] == "TooManySubscriptionsUnderScope"
        status, headers, body = fake.handle_query({"query": queries.query("vaults"),
                                                   "options": {"allowPartialScopes": True}}, "2024-04-01")
        assert status == 200 and headers["x-ms-tenant-subscription-limit-hit"] == "true"
        assert len({r["subscriptionId"] for r in body["data"]}) == 2
    finally:
        fake.faults = Faults()
