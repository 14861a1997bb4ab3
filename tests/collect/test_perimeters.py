"""perimeter_associations (collect --deep): the real Resource Graph client pages the networkresources query
out of the ARG fake, the rows reach the snapshot as Resource Graph returns them, and the audit judges the
perimeter (or lists the SecuredByPerimeter vault as not evaluated when the perimeter could not be read)."""

from __future__ import annotations

import copy

import pytest

from audit_function.collect import LiveScope
from tests.collect.test_deep import _audit
from tests.fakes.estate import add_deep_tables, synthetic_estate

RULE = "perimeter-allows-public"


@pytest.fixture
def estate():
    tables = add_deep_tables(synthetic_estate(subscriptions=3, vaults=6, assignments=20, seed=5))
    tables["vaults"][0]["properties"]["publicNetworkAccess"] = "SecuredByPerimeter"
    return tables


def ids(rows):
    return sorted(r["id"].lower() for r in rows)


def perimeter_findings(report):
    return [f for f in report["findings"] if f["ruleId"] == RULE]


def test_deep_collection_pages_perimeter_rows_from_networkresources(serve, collect, estate):
    fake = serve(estate, page_size=2)
    snap = collect(fake, deep=True)
    assert snap.manifest["complete"] is True, snap.manifest["gaps"]
    rows = snap.tables["perimeter_associations"]
    assert ids(rows) == ids(estate["perimeter_associations"]) and len(rows) == 5
    assert snap.manifest["tables"]["perimeter_associations"] == 5
    sent = [e for e in fake.log if e["table"] == "perimeter_associations"]
    assert len(sent) == 3                                   # 5 rows, 2 per page, followed by $skipToken
    assert all(set(r) <= {"id", "name", "type", "tenantId", "subscriptionId", "resourceGroup", "location",
                          "properties"} for r in rows)
    report = _audit(snap)
    assert perimeter_findings(report) == []                 # a /24 and a subscription rule: narrow
    cov = {c["source"]: c["state"] for c in report["run"]["coverage"]}
    assert cov["network security perimeters"] == "collected"


def test_a_broad_inbound_rule_read_live_is_a_finding_for_the_enforced_member(serve, collect, estate):
    wide = copy.deepcopy(estate)
    rule = next(r for r in wide["perimeter_associations"] if r["name"] == "office")
    rule["properties"]["addressPrefixes"] = ["0.0.0.0/1", "128.0.0.0/1"]
    snap = collect(serve(wide), deep=True)
    found = perimeter_findings(_audit(snap))
    members = {r["properties"]["privateLinkResource"]["id"] for r in wide["perimeter_associations"]
               if r["type"].endswith("resourceassociations")}
    assert {f["vaultId"] for f in found} == members and len(found) == 2
    enforced = next(f for f in found if f["vaultId"] == wide["vaults"][0]["id"])
    assert enforced["evidence"]["accessMode"] == "Enforced" and enforced["evidence"]["addressesCovered"] == 2 ** 32


def test_without_deep_the_secured_by_perimeter_vault_is_not_evaluated(serve, collect, estate):
    snap = collect(serve(estate))
    assert "perimeter_associations" not in snap.tables
    report = _audit(snap)
    listed = [n for n in report["run"]["notEvaluated"] if n["ruleId"] == RULE]
    assert [n["vaultId"] for n in listed] == [estate["vaults"][0]["id"]]
    cov = {c["source"]: c for c in report["run"]["coverage"]}
    assert cov["network security perimeters"]["state"] == "not collected"


def test_an_unreadable_perimeter_subscription_leaves_secured_vaults_not_evaluated(serve, collect, estate):
    """The perimeter lives in subscription 0; a 403 there is a gap, and vaults elsewhere with no association
    found may have one in it: the SecuredByPerimeter vault of another subscription is not judged locked down."""
    subs = [r["subscriptionId"] for r in estate["subscriptions"]]
    other = next(v for v in estate["vaults"] if v["subscriptionId"] != subs[0])
    other["properties"]["publicNetworkAccess"] = "SecuredByPerimeter"
    fake = serve(estate, forbidden_subscriptions={subs[0]})
    snap = collect(fake, scope=LiveScope(subscriptions=tuple(subs)), deep=True)
    assert any(g["table"] == "perimeter_associations" for g in snap.manifest["gaps"])
    report = _audit(snap)
    listed = {n["vaultId"] for n in report["run"]["notEvaluated"] if n["ruleId"] == RULE}
    assert other["id"] in listed
