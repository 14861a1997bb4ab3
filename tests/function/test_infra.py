"""infra/: Bicep parses (pycep), checkov passes, and the permissions are the ones we mean."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from pycep import BicepParser

from audit_function.function import settings as function_settings

from .conftest import REPO

INFRA = REPO / "infra"
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
BLOB_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"


def parse(path: Path) -> dict:
    return BicepParser().parse(text=path.read_text())


@pytest.fixture(scope="module")
def app() -> dict:
    return parse(INFRA / "modules" / "app.bicep")


def resources_of(doc: dict, type_: str) -> dict[str, dict]:
    return {name: r for name, r in doc["resources"].items() if r["type"] == type_}


def body(resource: dict) -> dict:
    """A resource's body (for a ``[for ...]`` loop, the body inside the loop)."""
    config = resource["config"]
    return config["config"] if "loop_type" in config else config


def role_guid(doc: dict, role_definition_id: dict) -> str:
    """The role GUID behind ``subscriptionResourceId(..., roles.x)`` / ``tenantResourceId(..., var)``."""
    ref = role_definition_id["function"]["parameters"]["resource_name_1"]
    value = doc["variables"]
    for part in ref.split("."):
        value = value[part]["value"] if isinstance(value.get(part), dict) and "value" in value[part] else value[part]
    return value


def test_every_bicep_file_parses():
    assert {p.relative_to(INFRA).as_posix() for p in BICEP_FILES} >= {
        "main.bicep", "modules/hosting.bicep", "modules/app.bicep", "modules/mg-reader.bicep", "modules/logs.bicep"}
    for path in BICEP_FILES:
        doc = parse(path)
        assert doc["globals"]["scope"]["value"] in ("managementGroup", "subscription", "resourceGroup"), path


def test_deployment_is_management_group_scoped_with_reader_on_the_audited_group():
    main = parse(INFRA / "main.bicep")
    assert main["globals"]["scope"]["value"] == "managementGroup"
    assert main["parameters"]["auditSchedule"]["default"] == function_settings.DEFAULT_SCHEDULE
    reader = parse(INFRA / "modules" / "mg-reader.bicep")
    assert reader["globals"]["scope"]["value"] == "managementGroup"
    (assignment,) = resources_of(reader, "Microsoft.Authorization/roleAssignments").values()
    assert role_guid(reader, assignment["config"]["properties"]["roleDefinitionId"]) == READER
    assert assignment["config"]["properties"]["principalType"] == "ServicePrincipal"


def test_role_assignments_are_exactly_the_intended_ones(app):
    assignments = resources_of(app, "Microsoft.Authorization/roleAssignments")
    granted = {name: (role_guid(app, body(r)["properties"]["roleDefinitionId"]), body(r)["scope"])
               for name, r in assignments.items()}
    assert granted == {
        "hostStorageOwner": (BLOB_OWNER, "hostStorage"),
        "reportWriter": (BLOB_CONTRIBUTOR, "reportContainer"),  # container, not account
        "reportReaders": (BLOB_READER, "reportContainer"),
        "telemetryPublisher": (METRICS_PUBLISHER, "appInsights"),
        "logsPublisher": (METRICS_PUBLISHER, "dataCollectionRule"),  # the rule, not the workspace
    }
    rule = app["resources"]["dataCollectionRule"]
    assert rule["type"] == "Microsoft.Insights/dataCollectionRules" and rule["existing"] is True
    assert rule["config"]["name"] == "dataCollectionRuleName"
    assert app["modules"]["logs"]["config"]["params"]["dataCollectionRuleName"] == "dataCollectionRuleName"


def test_no_key_vault_role_anywhere():
    """The auditor reads Resource Graph only: no Key Vault role (data plane or otherwise) is granted."""
    roles = json.loads((REPO / "audit_function" / "data" / "builtin_roles.json").read_text())
    rows = roles["roles"]
    key_vault_guids = {r["name"] for r in rows if "Key Vault" in r["roleName"]
                       or any("Microsoft.KeyVault" in a for p in r["permissions"] for a in p.get("dataActions", []))}
    assert len(key_vault_guids) >= 10
    text = " ".join(p.read_text().lower() for p in BICEP_FILES)
    referenced = set(re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text))
    assert referenced == {READER, BLOB_OWNER, BLOB_CONTRIBUTOR, BLOB_READER, METRICS_PUBLISHER}
    assert not referenced & key_vault_guids


def test_storage_accounts_are_identity_only(app):
    accounts = resources_of(app, "Microsoft.Storage/storageAccounts")
    assert set(accounts) == {"hostStorage", "reportStorage"}
    for account in accounts.values():
        props = account["config"]["properties"]
        assert props["allowSharedKeyAccess"] is False
        assert props["allowBlobPublicAccess"] is False
        assert props["minimumTlsVersion"] == "TLS1_2"
        assert props["supportsHttpsTrafficOnly"] is True
    for container in resources_of(app, "Microsoft.Storage/storageAccounts/blobServices/containers").values():
        assert container["config"]["properties"]["publicAccess"] == "None"
    report_blobs = app["resources"]["reportBlobs"]["config"]["properties"]
    assert report_blobs["isVersioningEnabled"] is True
    assert report_blobs["deleteRetentionPolicy"]["enabled"] is True


def test_function_app_is_flex_python_311_with_identity_based_host_storage(app):
    plan = app["resources"]["plan"]["config"]
    assert plan["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    site = app["resources"]["functionApp"]["config"]
    assert site["identity"]["type"] == "SystemAssigned"
    config = site["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    assert config["deployment"]["storage"]["authentication"]["type"] == "SystemAssignedIdentity"
    settings = {s["name"]: s["value"] for s in site["properties"]["siteConfig"]["appSettings"]}
    assert settings["AzureWebJobsStorage__accountName"] == "hostStorage.name"
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    # Flex Consumption deprecations and secrets that must not appear
    for name in ("AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION",
                 "WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_TIME_ZONE", "AUDIT_STORAGE_CONNECTION_STRING"):
        assert name not in settings
    # every AUDIT_* setting the infra writes is one the Function reads
    known = {v for k, v in vars(function_settings).items() if k.isupper() and isinstance(v, str) and v.startswith("AUDIT_")}
    audit_settings = {n for n in settings if n.startswith("AUDIT_")}
    assert audit_settings <= known
    assert {"AUDIT_SCHEDULE", "AUDIT_SOURCE", "AUDIT_MANAGEMENT_GROUPS", "AUDIT_STORAGE_ACCOUNT_URL",
            "AUDIT_REPORT_CONTAINER"} <= audit_settings


@pytest.fixture(scope="module")
def checkov_report() -> dict:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed ({CHECKOV} is missing): run ./dev setup", pytrace=False)
    done = subprocess.run(
        [str(CHECKOV), "-d", str(INFRA), "--framework", "bicep", "-o", "json", "--skip-download"],
        capture_output=True, text=True, timeout=240, cwd=REPO,
    )
    try:
        report = json.loads(done.stdout)
    except ValueError:
        pytest.fail(f"checkov gave no JSON (exit {done.returncode}): {done.stderr[-2000:]}")
    report = report[0] if isinstance(report, list) else report
    report["exit_code"] = done.returncode
    return report


def test_checkov_passes_with_no_parsing_errors(checkov_report):
    summary = checkov_report["summary"]
    failed = [f"{c['check_id']} {c['resource']}" for c in checkov_report.get("results", {}).get("failed_checks", [])]
    assert summary["parsing_errors"] == 0
    assert summary["failed"] == 0, failed
    assert summary["passed"] >= 20
    assert summary["resource_count"] >= 20
    assert checkov_report["exit_code"] == 0


def test_every_checkov_skip_is_justified(checkov_report):
    skipped = checkov_report["results"]["skipped_checks"]
    assert skipped, "expected the documented skips"
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment") or ""
        assert len(reason.split()) >= 6, f"{check['check_id']} on {check['resource']} skipped without a reason"


# ---------------------------------------------------------------------------------------------
# Sentinel / Log Analytics (issue 17)


@pytest.fixture(scope="module")
def logs() -> dict:
    return parse(INFRA / "modules" / "logs.bicep")


def _columns(doc: dict, ref) -> list[tuple[str, str]]:
    value = doc["variables"][ref]["value"] if isinstance(ref, str) else ref
    return [(c["name"], c["type"]) for c in value]


def test_tables_and_streams_match_the_rows_the_sink_sends(logs):
    from reports.sentinel_rows import TABLES

    rule = logs["resources"]["rule"]["config"]["properties"]
    declared = {name.strip("'"): _columns(logs, d["columns"]) for name, d in rule["streamDeclarations"].items()}
    assert declared == {stream: columns for _, stream, columns in TABLES.values()}
    tables = {t["name"]: _columns(logs, t["columns"]) for t in logs["variables"]["tables"]["value"]}
    assert tables == {table: columns for table, _, columns in TABLES.values()}
    assert all(c[0] == ("TimeGenerated", "datetime") for c in tables.values())
    flows = {f["streams"][0]: f["outputStream"] for f in rule["dataFlows"]}
    assert flows == {stream: f"Custom-{table}" for table, stream, _ in TABLES.values()}
    assert all(f["destinations"] == ["kvAuditWorkspace"] for f in rule["dataFlows"])
    assert rule["dataCollectionEndpointId"] == "endpoint.id"
    assert logs["resources"]["customTables"]["config"]["config"]["properties"]["schema"]["columns"] == "table.columns"
    assert {"logsEndpoint", "ruleImmutableId"} <= set(logs["outputs"])


def test_the_function_is_told_where_to_send(app):
    site = app["resources"]["functionApp"]["config"]
    settings = {s["name"]: s["value"] for s in site["properties"]["siteConfig"]["appSettings"]}
    assert settings["AUDIT_LOGS_ENDPOINT"] == "logs.outputs.logsEndpoint"
    assert settings["AUDIT_LOGS_RULE_ID"] == "logs.outputs.ruleImmutableId"
    main = parse(INFRA / "main.bicep")
    assert main["parameters"]["enableSentinel"]["default"] is False
    assert {"logsEndpoint", "logsRuleId"} <= set(main["outputs"])


def test_sentinel_rule_ships_its_query_file(logs):
    text = (INFRA / "modules" / "logs.bicep").read_text()
    (path,) = re.findall(r"loadTextContent\('([^']+)'\)", text)
    query = (INFRA / "modules" / path).resolve()
    assert query == INFRA / "queries" / "sentinel-new-high-findings.kql" and query.is_file()
    rule = logs["resources"]["newHighFindings"]
    assert rule["type"] == "Microsoft.SecurityInsights/alertRules"
    assert "enableSentinel" in json.dumps(rule)
