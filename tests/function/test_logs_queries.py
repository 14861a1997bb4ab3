"""infra/queries/*.kql: Microsoft's Kusto parser accepts them against the kv-audit custom tables."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from reports.sentinel_rows import TABLES

from .conftest import REPO

CHECK = REPO / "tests" / "collect" / "kql_check.js"
QUERIES = REPO / "infra" / "queries"
STARTER = QUERIES / "kv-audit-starter.kql"
RULE = QUERIES / "sentinel-new-high-findings.kql"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (REPO / "node_modules" / "@kusto" / "language-service-next").is_dir(),
    reason="node and node_modules/@kusto/language-service-next are needed (npm ci)")


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    path = tmp_path_factory.mktemp("kql") / "log-analytics.json"
    path.write_text(json.dumps({table: dict(columns) for table, _, columns in TABLES.values()}))
    return path


def sections() -> dict[str, str]:
    parts = re.split(r"^// ==== ([a-z0-9-]+):.*$", STARTER.read_text(), flags=re.M)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2])}


def run_check(schema, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["node", str(CHECK), f"--schema={schema}", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def test_starter_queries_and_the_analytics_rule_pass_the_kusto_parser(schema):
    queries = sections()
    assert len(queries) >= 8 and {"latest-run", "open-findings", "new-this-week", "by-owner"} <= set(queries)
    args = [str(RULE)]
    for text in queries.values():
        args += ["-e", text]
    result = run_check(schema, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split().count("OK") == len(queries) + 1


def test_the_check_knows_the_tables(schema):
    result = run_check(schema, "-e", "KvAuditFindings_CL | where Severty == 'high'",
                       "-e", "KvAuditFinding_CL | take 1", "-e", "KvAuditRuns_CL | where Complete == 'yes' | count")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(ln.startswith("<query 1>:") and "KS142" in ln for ln in lines), lines   # column
    assert any(ln.startswith("<query 2>:") and "KS204" in ln for ln in lines), lines   # table


def test_the_rule_alerts_once_per_new_unsuppressed_high_finding():
    text = RULE.read_text()
    assert "ingestion_time() > ago(1h)" in text    # hourly rule: each row is seen by exactly one run of it
    assert 'Severity == "high"' in text and 'Status == "new"' in text and "Suppressed == false" in text
    assert "ResourceId" in text                    # the entity mapping's column
