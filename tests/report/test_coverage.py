"""run.coverage: every source named, its state from what was loaded and from the collector's notes."""

from __future__ import annotations

from audit_function.report.coverage import SOURCES, coverage
from audit_function.snapshot.load import RawSnapshot, load_estate
from tests.factories import OWNER, assignment_row, mg_scope, principal_row, subscription_row, vault_row


def _coverage(tables: dict, manifest: dict | None = None, unknown: int = 0) -> dict:
    base = {"subscriptions": [subscription_row()], "role_definitions": [], "vaults": [vault_row()],
            "role_assignments": []}
    estate = load_estate(RawSnapshot(tables={**base, **tables}, manifest=manifest))
    return {c["source"]: c for c in coverage(estate, unknown)}


def test_absent_optional_tables_are_not_collected_with_what_they_hide():
    c = _coverage({})
    assert list(c) == list(SOURCES)
    assert c["eligible assignments (PIM)"]["state"] == "not collected"
    assert "activate" in c["eligible assignments (PIM)"]["note"]
    assert c["deny assignments"]["state"] == "not collected"
    assert c["directory data (Microsoft Graph)"]["state"] == "not collected"
    assert c["role assignments"]["state"] == "collected"


def test_present_tables_are_collected_and_a_collection_gap_makes_them_partial():
    manifest = {"complete": False, "gaps": [{"scope": "/subscriptions/x", "table": "deny_assignments",
                                            "reason": "forbidden"}]}
    c = _coverage({"role_eligibilities": [], "deny_assignments": []}, manifest)
    assert c["eligible assignments (PIM)"]["state"] == "collected"
    assert c["deny assignments"]["state"] == "partial"


def test_the_collectors_directory_note_is_kept():
    manifest = {"coverage": [{"source": "directory", "state": "partial",
                              "note": "memberships could not be read (403)"}]}
    c = _coverage({"principals": [principal_row("u1")]}, manifest)
    assert c["directory data (Microsoft Graph)"]["state"] == "partial"
    assert c["directory data (Microsoft Graph)"]["note"].startswith("memberships could not be read (403)")
    refused = {"coverage": [{"source": "directory", "state": "not collected", "note": "Graph answered 403"}]}
    c = _coverage({}, refused)
    assert c["directory data (Microsoft Graph)"]["state"] == "not collected"
    assert "403" in c["directory data (Microsoft Graph)"]["note"]


def test_unknown_ancestry_makes_management_group_ancestry_partial():
    c = _coverage({"role_assignments": [assignment_row(mg_scope("corp"), OWNER, "o")]}, unknown=3)
    assert c["management-group ancestry"]["state"] == "partial"
    assert c["management-group ancestry"]["note"].startswith("3 vault(s) have unknown management-group ancestry")


def test_resource_group_tags_are_a_source_of_their_own():
    source = "resource group tags (owners)"
    assert _coverage({})[source]["state"] == "not collected"
    assert "resource group's" in _coverage({})[source]["note"]
    assert _coverage({"resource_groups": []})[source]["state"] == "collected"
    manifest = {"complete": False, "gaps": [{"scope": "/subscriptions/x", "table": "resource_groups",
                                            "reason": "forbidden"}]}
    c = _coverage({"resource_groups": []}, manifest)
    assert c[source]["state"] == "partial" and c["role assignments"]["state"] == "collected"
