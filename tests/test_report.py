"""Report determinism: ordering and fingerprints are stable across runs and id casing."""

import json
from datetime import datetime, timezone

import orjson

from audit_function.audit import AuditOptions, run_audit
from audit_function.snapshot import RawSnapshot
from reports.json_report import JsonWriter
from rules import dead_access_policy, public_network_open
from tests.factories import KV_SECRETS_USER, assignment_row, policy, run_rules, vault_id, vault_row


WHEN = datetime(2026, 11, 23, 6, tzinfo=timezone.utc)


def demo_report(run_id: str) -> dict:
    # the same audit time: firstSeen of a new finding is the run's start (run metadata)
    return run_audit(AuditOptions(source="demo", formats=("json",), run_id=run_id), clock=lambda: WHEN).result.report


def test_two_runs_of_the_same_estate_give_byte_identical_findings():
    first, second = demo_report("run-a"), demo_report("run-b")
    assert first["run"]["id"] != second["run"]["id"]
    assert orjson.dumps(first["findings"]) == orjson.dumps(second["findings"])
    assert orjson.dumps(first["migration"]) == orjson.dumps(second["migration"])


def test_findings_are_sorted_by_severity_rule_vault_subject():
    findings = demo_report("r")["findings"]
    rank = {"high": 0, "medium": 1, "low": 2}
    keys = [(rank[f["severity"]], f["ruleId"], (f["vaultId"] or "").lower()) for f in findings]
    assert keys == sorted(keys)


def test_fingerprint_ignores_id_casing_and_is_unique_per_subject():
    row = vault_row("KV1", rbac=False, publicNetworkAccess="Enabled", networkAcls=None)
    upper = dict(row, id=row["id"].upper())
    fp_lower = run_rules([public_network_open], vaults=[row]).findings[0]["fingerprint"]
    fp_upper = run_rules([public_network_open], vaults=[upper]).findings[0]["fingerprint"]
    assert fp_lower == fp_upper
    entries = [policy("u1", secrets=["get"]), policy("u2", secrets=["get"])]
    run = run_rules([dead_access_policy], vaults=[vault_row(policies=entries)],
                    assignments=[assignment_row(vault_id(), KV_SECRETS_USER, "u1"),
                                 assignment_row(vault_id(), KV_SECRETS_USER, "u2")])
    assert len({f["fingerprint"] for f in run.findings}) == 2


def test_streamed_json_equals_rendered_and_parses():
    report = demo_report("r")
    from audit_function.result import AuditResult

    result = AuditResult(report)
    writer = JsonWriter()
    rendered = writer.render(result)
    assert writer.stream(result).read_all() == rendered
    assert json.loads(rendered) == json.loads(orjson.dumps(report))


def test_estate_text_is_escaped_in_json():
    hostile = vault_row('kv"}\n{"injected": true', publicNetworkAccess="Enabled", networkAcls=None,
                        tags={"owner": "=HYPERLINK(\"http://x\")", "note": "\u2028line"})
    outcome = run_audit(AuditOptions(source="snapshot", formats=("json",), snapshot=RawSnapshot(tables={
        "subscriptions": [], "role_definitions": [], "vaults": [hostile], "role_assignments": []})))
    text = outcome.files["kv-audit-report.json"].read_all()
    parsed = json.loads(text)
    assert parsed["vaults"][0]["name"] == 'kv"}\n{"injected": true'
    assert "injected" not in json.loads(text).keys()
