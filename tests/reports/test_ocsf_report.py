"""OCSF output: every event validates as an OCSF Detection Finding (py-ocsf-models, test-only)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from audit_function.pipeline.run import AuditOptions, run_audit
from audit_function.vocabulary import AuditResult
from reports import writer_for
from reports.ocsf_report import OCSF_VERSION, OcsfWriter, arm_type, compliance_of
from rules import ALL_RULES

py_ocsf_models = pytest.importorskip("py_ocsf_models")
from py_ocsf_models.events.findings.detection_finding import DetectionFinding  # noqa: E402

WHEN = datetime(2026, 11, 23, 6, tzinfo=timezone.utc)
VAULT = "/subscriptions/0000000a-aaaa-bbbb-cccc-dddddddddddd/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1"


def _events(report: dict) -> list[dict]:
    data = OcsfWriter().render(AuditResult(report))
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.splitlines()]


def _validate(event: dict) -> DetectionFinding:
    model = DetectionFinding.model_validate(event)
    # nothing silently dropped by the model: every top-level key is a Detection Finding attribute
    assert set(event) <= set(DetectionFinding.model_fields), set(event) - set(DetectionFinding.model_fields)
    return model


@pytest.fixture(scope="module")
def demo_report():
    return run_audit(AuditOptions(source="demo", formats=("json",), run_id="r1"), clock=lambda: WHEN).result.report


def test_library_and_writer_agree_on_the_ocsf_version():
    assert OCSF_VERSION == py_ocsf_models.OCSF_VERSION


def test_demo_output_validates_and_keys_on_fingerprints(demo_report):
    events = _events(demo_report)
    assert len(events) == len(demo_report["findings"])
    for event, finding in zip(events, demo_report["findings"]):
        model = _validate(event)
        assert model.class_uid == 2004 and event["metadata"]["version"] == OCSF_VERSION
        assert event["finding_info"]["uid"] == finding["fingerprint"]
        assert event["severity_id"] == {"high": 4, "medium": 3, "low": 2}[finding["severity"]]
        assert event["remediation"]["desc"] == finding["remediation"]
        assert event["type_uid"] == 2004 * 100 + event["activity_id"]
        assert event["resources"][0]["uid"] in (finding["vaultId"], finding["assignmentId"], finding["roleDefinitionId"],
                                                f"/subscriptions/{finding['subscriptionId']}")
        assert event["status"] == "New" and event["status_id"] == 1  # first run: everything is new


def test_stream_equals_render(demo_report):
    result = AuditResult(demo_report)
    assert OcsfWriter().stream(result).read_all() == OcsfWriter().render(result)
    assert writer_for("ocsf").filename == "kv-audit-findings.ocsf.jsonl"


def _finding(rule, **extra) -> dict:
    meta = rule.META
    row = {"fingerprint": "f" * 32, "ruleId": meta.id, "severity": meta.severity, "title": meta.title,
           "message": "m", "vaultId": VAULT, "vaultName": "kv1", "subscriptionId": "0000000a-aaaa-bbbb-cccc-dddddddddddd",
           "resourceGroup": "rg", "principalId": None, "assignmentId": None, "roleDefinitionId": None,
           "evidence": {"x": 1}, "remediation": "az keyvault update", "status": "new", "firstSeen": "2026-11-16T06:00:00Z"}
    row.update(extra)
    return row


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.META.id)
def test_every_catalog_rule_maps(rule):
    subject = {"vault": "vault", "estate": "grant"}[rule.META.applies_to]
    extra = {}
    if subject == "grant":
        extra = {"vaultId": None, "vaultName": None, "subject": "grant", "principalId": "p1",
                 "assignmentId": "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/a1",
                 "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/r1", "roleName": "Owner"}
    report = {"run": {"id": "r", "startedAt": "2026-11-23T06:00:00Z"}, "tool": {"version": "0"},
              "vaults": [{"id": VAULT, "name": "kv1", "location": "westeurope", "tenantId": "t1"}],
              "findings": [_finding(rule, **extra)]}
    (event,) = _events(report)
    _validate(event)
    assert event["metadata"]["event_code"] == rule.META.id
    cis = [r for r in rule.META.references if r.startswith("CIS ")]
    if cis:
        assert event["unmapped"]["compliance"], rule.META.id


def test_week_over_week_status_and_subjects():
    report = {
        "run": {"id": "r", "startedAt": "2026-11-23T06:00:00Z"},
        "findings": [
            _finding(ALL_RULES[0], status="persisting", owner="team@x", principalName="Alice"),
            _finding(ALL_RULES[0], fingerprint="s" * 32, suppressed=True, status="persisting"),
            _finding(ALL_RULES[0], fingerprint="r" * 32, subject="roleDefinition", vaultId=None,
                     roleDefinitionId="/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/c1",
                     roleName="Custom *"),
            _finding(ALL_RULES[0], fingerprint="d" * 32, subject="subscription", vaultId=None, severity="medium"),
        ],
        "resolved": [{"fingerprint": "o" * 32, "ruleId": "public-network-open", "severity": "high", "title": "t",
                      "vaultId": VAULT, "firstSeen": "2026-11-09T06:00:00Z", "lastSeen": "2026-11-16T06:00:00Z"}],
        "unverified": [_finding(ALL_RULES[0], fingerprint="u" * 32, status="unverified")],
    }
    events = _events(report)
    for event in events:
        _validate(event)
    persisting, suppressed, role, sub, resolved, unverified = events
    assert (persisting["activity_id"], persisting["status_id"], persisting["status"]) == (2, 99, "Persisting")
    assert persisting["resources"][0]["data"]["owner"] == "team@x"
    assert persisting["unmapped"]["principalName"] == "Alice"
    assert (suppressed["status_id"], suppressed["status"]) == (3, "Suppressed")
    assert role["resources"][0]["type"] == "Microsoft.Authorization/roleDefinitions"
    assert sub["resources"][0]["uid"] == "/subscriptions/0000000a-aaaa-bbbb-cccc-dddddddddddd"
    assert sub["resources"][0]["type"] == "Microsoft.Resources/subscriptions"
    assert (resolved["activity_id"], resolved["status_id"], resolved["status"]) == (3, 4, "Resolved")
    assert resolved["finding_info"]["last_seen_time"] == int(datetime(2026, 11, 16, 6, tzinfo=timezone.utc).timestamp() * 1000)
    assert unverified["status"] == "Unverified"


def test_helpers():
    assert arm_type(VAULT) == "Microsoft.KeyVault/vaults"
    assert arm_type("/subscriptions/x") == "Microsoft.Resources/subscriptions"
    assert arm_type("/providers/Microsoft.Authorization/roleDefinitions/r") == "Microsoft.Authorization/roleDefinitions"
    assert compliance_of(["CIS Microsoft Azure Foundations 8.3.6", "CIS Microsoft Azure Foundations v4.0.0 9.3.7",
                          "https://x"]) == {"CIS Microsoft Azure Foundations": ["8.3.6"],
                                            "CIS Microsoft Azure Foundations v4.0.0": ["9.3.7"]}


def test_hostile_text_stays_data():
    report = {"run": {"id": "r", "startedAt": "2026-11-23T06:00:00Z"},
              "findings": [_finding(ALL_RULES[0], vaultName='kv"\n<script>', message="line1\nline2\u2028")]}
    data = OcsfWriter().render(AuditResult(report))
    assert data.count(b"\n") == 1
    assert json.loads(data)["resources"][0]["name"] == 'kv"\n<script>'


def test_grant_findings_list_the_vaults_they_affect():
    grant = _finding(ALL_RULES[4], subject="grant", vaultId=None, vaultName=None, principalId="p1", principalName="Ops",
                     assignmentId="/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/a1",
                     affected={"vaults": 2, "rbac": 1, "accessPolicy": 1},
                     evidence={"vaultIds": [VAULT, VAULT.replace("kv1", "kv2")], "vaultCount": 2})
    report = {"run": {"id": "r", "startedAt": "2026-11-23T06:00:00Z"},
              "vaults": [{"id": VAULT, "name": "kv1", "location": "westeurope"}], "findings": [grant]}
    (event,) = _events(report)
    _validate(event)
    subject, *vaults = event["resources"]
    assert subject["type"] == "Microsoft.Authorization/roleAssignments"
    assert subject["data"]["affected"] == {"vaults": 2, "rbac": 1, "accessPolicy": 1}
    assert subject["data"]["principalName"] == "Ops"
    assert [v["name"] for v in vaults] == ["kv1", "kv2"] and vaults[0]["region"] == "westeurope"
    assert all(v["labels"] == ["affected"] and v["type"] == "Microsoft.KeyVault/vaults" for v in vaults)
