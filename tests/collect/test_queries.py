"""The .kql files: Microsoft's Kusto parser accepts them against ARG's schema, the check can fail,
and the queries keep ARG's paging rules and carry exactly the filter the Python twin implements."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from audit_function.collect import filters, queries

ROOT = Path(__file__).resolve().parents[2]
CHECK = Path(__file__).with_name("kql_check.js")
QUERY_DIR = ROOT / "audit_function" / "collect" / "queries"
KQL_FILES = sorted(QUERY_DIR.glob("*.kql"))

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "node_modules" / "@kusto" / "language-service-next").is_dir(),
    reason="node and node_modules/@kusto/language-service-next are needed (npm ci)")


def run_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["node", str(CHECK), *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_one_query_per_collected_table():
    assert sorted(p.stem for p in KQL_FILES) == sorted(queries.TABLES + queries.DEEP_TABLES)


BROKEN = {  # query -> the diagnostic the check must report
    "resources | where type =~ 'microsoft.keyvault/vaults' | project id, subscriptonId": "KS142",  # column
    "resourcez | where type =~ 'microsoft.keyvault/vaults'": "KS204",                               # table
    "resources | where (type =~ 'microsoft.keyvault/vaults'": "KS005",                              # syntax
    "resources | extend s = tolowerr(name)": "KS211",                                                # function
    "resources | where type =~ 'x' | render table": "ARG001",                                       # not in ARG
}


@needs_node
def test_every_query_passes_the_kusto_parser():
    result = run_check(*map(str, KQL_FILES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(result.stdout.split()) == sorted(f"{p}:" for p in KQL_FILES) + ["OK"] * len(KQL_FILES)


@needs_node
def test_the_check_fails_on_broken_queries(tmp_path):
    broken = tmp_path / "broken.kql"
    broken.write_text(queries.source("vaults").replace("order by id asc", "order by idd asc"))
    args = [str(broken)]
    for query in BROKEN:
        args += ["-e", query]
    result = run_check(*args)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(ln.startswith(f"{broken}:") and "error KS142" in ln for ln in lines)
    for i, code in enumerate(BROKEN.values(), 1):
        assert any(ln.startswith(f"<query {i}>:") and f"error {code}" in ln for ln in lines), (code, lines)
    assert "OK" not in result.stdout


@pytest.mark.parametrize("table", queries.TABLES + queries.DEEP_TABLES)
def test_queries_page_in_a_stable_order_and_keep_id(table):
    text = queries.query(table)
    assert text.rstrip().endswith("| order by id asc"), "paging needs a unique, stable order"
    assert not re.search(r"\|\s*(take|limit|sample|summarize|distinct)\b", text), "would disable $skipToken paging"
    projected = re.search(r"\|\s*project\s+([^|]+)", text)
    if projected:
        assert "id" in [c.strip() for c in projected.group(1).split(",")], "ARG pages only when id is projected"
    assert "//" not in text, "comments are stripped before sending"


def test_role_assignment_query_carries_the_twin_filter_verbatim():
    text = " ".join(queries.query("role_assignments").split())
    assert " ".join(filters.KQL_EXTEND.split()) in text
    assert " ".join(filters.KQL_WHERE.split()) in text
    literals = re.findall(r"matches regex @'([^']*)'", text)
    assert literals == [filters.RESOURCE_SCOPE, filters.VAULT_SCOPE]
    # case-insensitive matching: the scope is lower-cased before both regexes, the type compared with =~
    assert "tolower(tostring(properties.scope))" in text and "type =~ 'microsoft.authorization/roleassignments'" in text


def test_only_the_role_assignment_query_filters_rows():
    for table in queries.TABLES:
        wheres = re.findall(r"\|\s*where\s+([^|]+)", queries.query(table))
        if table == "role_assignments":
            assert len(wheres) == 2
        else:
            assert len(wheres) == 1 and wheres[0].strip().startswith("type =~ '"), table


EXPLAIN_KQL = sorted((ROOT / "audit_function" / "explain" / "queries").glob("*.kql"))


@needs_node
def test_explain_queries_pass_the_kusto_parser():
    """explain --live's targeted queries (placeholders are string literals, so the files parse as they are)."""
    assert [p.stem for p in EXPLAIN_KQL] == ["grants", "role_definitions", "subscription", "vault"]
    result = run_check(*map(str, EXPLAIN_KQL))
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(result.stdout.split()) == sorted(f"{p}:" for p in EXPLAIN_KQL) + ["OK"] * len(EXPLAIN_KQL)


@pytest.mark.parametrize("path", EXPLAIN_KQL, ids=lambda p: p.stem)
def test_explain_queries_page_in_a_stable_order_and_keep_id(path):
    from audit_function.explain.live import query_text

    text = query_text(path.stem)
    assert text.rstrip().endswith("| order by id asc")
    assert not re.search(r"\|\s*(take|limit|sample|summarize|distinct)\b", text)
    projected = re.search(r"\|\s*project\s+([^|]+)", text)
    if projected:
        assert "id" in [c.strip() for c in projected.group(1).split(",")]
