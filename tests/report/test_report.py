"""Report determinism: ordering and fingerprints are stable across runs and id casing."""

import hashlib
import json
from datetime import datetime, timezone

import orjson

from audit_function.pipeline.run import AuditOptions, run_audit
from audit_function.snapshot.load import RawSnapshot
from reports.json_report import JsonWriter
from rules import (
    dead_access_policy,
    public_network_open,
    self_grant_path,
    wildcard_custom_role,
)
from rules.base import fingerprint
from tests.factories import (
    KV_SECRETS_USER,
    OWNER,
    assignment_row,
    policy,
    rg_scope,
    role_definition_row,
    run_rules,
    vault_id,
    vault_row,
)

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


def subject_id(f: dict) -> str:
    """The id a finding is keyed by (catalog 2): vault id, grant id, role-definition GUID or subscription id."""
    return {"vault": lambda: f["vaultId"], "grant": lambda: f["assignmentId"],
            "roleDefinition": lambda: f["roleDefinitionId"].rstrip("/").rsplit("/", 1)[-1],
            "subscription": lambda: f["subscriptionId"]}[f["subject"]]()


def test_fingerprint_is_sha256_of_rule_id_and_lower_cased_subject_id():
    expected = hashlib.sha256(f"public-network-open|{vault_id('KV1').lower()}".encode()).hexdigest()[:32]
    assert fingerprint("public-network-open", vault_id("KV1")) == expected
    assert fingerprint("public-network-open", vault_id("KV1").upper()) == expected
    assert fingerprint("dead-access-policy", vault_id("KV1")) != expected
    assert len(expected) == 32


def test_fingerprint_ignores_id_casing():
    row = vault_row("KV1", rbac=False, publicNetworkAccess="Enabled", networkAcls=None)
    upper = dict(row, id=row["id"].upper())
    fp_lower = run_rules([public_network_open], vaults=[row]).findings[0]["fingerprint"]
    fp_upper = run_rules([public_network_open], vaults=[upper]).findings[0]["fingerprint"]
    assert fp_lower == fp_upper == fingerprint("public-network-open", row["id"])


def test_one_finding_per_cause_keyed_by_the_vault_not_the_principal():
    entries = [policy("u1", secrets=["get"]), policy("u2", secrets=["get"])]
    run = run_rules([dead_access_policy], vaults=[vault_row(policies=entries)],
                    assignments=[assignment_row(vault_id(), KV_SECRETS_USER, "u1"),
                                 assignment_row(vault_id(), KV_SECRETS_USER, "u2")])
    (f,) = run.findings
    assert f["subject"] == "vault" and f["fingerprint"] == fingerprint("dead-access-policy", vault_id())


def test_grant_and_role_definition_fingerprints():
    ra = assignment_row(rg_scope(), OWNER, "u1", name="RA-Owner")
    (grant,) = run_rules([self_grant_path], vaults=[vault_row()], assignments=[ra]).findings
    assert grant["subject"] == "grant" and grant["fingerprint"] == fingerprint("self-grant-path", ra["id"].lower())
    guid = "cccccccc-0000-0000-0000-0000000000AA"
    role = role_definition_row(guid, "Star", data_actions=["*"])
    uses = [assignment_row(rg_scope(), guid.lower(), "u1")]
    (rd,) = run_rules([wildcard_custom_role], assignments=uses, definitions=[role]).findings
    assert rd["subject"] == "roleDefinition" and rd["fingerprint"] == fingerprint("wildcard-custom-role", guid)


def test_demo_fingerprints_follow_the_definition_and_are_unique():
    findings = demo_report("r")["findings"]
    assert {f["subject"] for f in findings} >= {"vault", "grant", "roleDefinition"}
    for f in findings:
        assert f["fingerprint"] == fingerprint(f["ruleId"], subject_id(f)), f["ruleId"]
    assert len({f["fingerprint"] for f in findings}) == len(findings)


def test_streamed_json_equals_rendered_and_parses():
    report = demo_report("r")
    from audit_function.vocabulary import AuditResult

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


def test_streamed_findings_store_gives_the_same_report_as_the_list():
    from audit_function.access.engine import AccessIndex
    from audit_function.pipeline.run import demo_snapshot
    from audit_function.engine.evaluate import evaluate
    from audit_function.engine.findings import FindingStore
    from audit_function.report.document import build_report
    from audit_function.vocabulary import AuditResult
    from audit_function.snapshot.load import load_estate
    from rules import ALL_RULES, RULE_IDS
    from rules.base import RuleContext

    def report(limit):
        estate = load_estate(demo_snapshot())
        evaluation = evaluate(estate, ALL_RULES, RuleContext(as_of=WHEN), index=AccessIndex(estate))
        return build_report(estate, evaluation, RULE_IDS, run={"id": "r"}, materialize_limit=limit)

    as_list, as_store = report(10**9), report(0)
    assert isinstance(as_list["findings"], list) and isinstance(as_store["findings"], FindingStore)
    assert len(as_store["findings"]) == len(as_list["findings"]) > 50
    assert list(as_store["findings"]) == as_list["findings"]
    writer = JsonWriter()
    assert writer.render(AuditResult(as_store)) == writer.render(AuditResult(as_list))


def test_store_spills_to_disk_and_keeps_order(monkeypatch):
    from audit_function.engine import findings as store_module
    from audit_function.engine.findings import FindingStore, sort_key

    monkeypatch.setattr(store_module, "SPOOL_BYTES", 256)
    store = FindingStore()
    made = []
    for vault in ("b", "a", "c"):
        for severity, rule in (("low", "z-rule"), ("high", "a-rule"), ("high", "b-rule")):
            batch = [{"severity": severity, "ruleId": rule, "vaultId": f"/v/{vault}", "assignmentId": None,
                      "subject": "vault", "fingerprint": fingerprint(rule, f"/v/{vault}/{i}"), "subscriptionId": None, "pad": "x" * 100} for i in (2, 1)]
            made.extend(dict(f) for f in batch)
            store.add_vault(batch)
    assert any(part._rolled for s in store._spools.values() for part in s.parts)
    # vaults were added out of order here, so compare per (severity, rule, vault) run
    got = list(store)
    def order(f):
        return (*sort_key(f), f["fingerprint"])

    assert len(got) == len(made) and sorted(got, key=order) == sorted(made, key=order)
    assert [f["ruleId"] for f in got[:4]] == ["a-rule"] * 4 and got[-1]["ruleId"] == "z-rule"


def test_json_list_body_drops_only_the_last_separator_whatever_the_chunking():
    from audit_function.engine.findings import json_list_body

    stored = b'  {"a":1},\n  {"b":2},\n'
    for cut in range(1, len(stored)):
        chunks = [stored[i:i + cut] for i in range(0, len(stored), cut)]
        assert b"".join(json_list_body(iter(chunks))) == b'  {"a":1},\n  {"b":2}\n'


def test_roles_are_named_once_per_report_and_findings_refer_to_them():
    from audit_function.pipeline import run as audit
    from audit_function.estate.scopes import trailing_guid

    report = audit.run_audit(audit.AuditOptions(source="demo", formats=("json",))).result.report
    roles = report["roles"]
    owner = roles["8e3af657-a8ff-443c-a75c-2fe8c4bcb635"]
    assert owner["roleName"] == "Owner" and "Microsoft.Authorization/roleAssignments/write" in owner["controlActions"]
    assert roles["4633458b-17de-408a-b874-0445c86b69e6"]["dataActions"] == [
        "Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"]
    assert "acdd72a7-3385-48ef-bd42-f606fba81ae7" not in roles   # Reader reaches neither data nor control actions
    for f in report["findings"]:
        for ref in [f.get("roleDefinitionId")] * (f["subject"] == "grant") + f["evidence"].get("roles", []):
            assert trailing_guid(ref) in roles, (f["ruleId"], ref)
    names = {n for f in report["findings"] if f["ruleId"] == "latent-grant" for p in f["evidence"]["principals"]
             for n in [p["principalName"]] + [g.get("principalName") for g in p["grants"]]}
    assert "Platform Engineering" in names   # evidence carries names from directory data
