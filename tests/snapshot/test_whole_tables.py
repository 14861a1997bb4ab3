"""A required table that is empty as a whole (no subscriptions at all; no role definitions while grants
exist): the rules that depend on it are not evaluated, the run is incomplete (exit 3), and no banner
says "every rule evaluated"."""

from __future__ import annotations

import io
import json
import shutil

import openpyxl
import pytest

from audit_function.cli.main import main
from audit_function.data.demo import __file__ as demo_init
from pathlib import Path
from rules import broad_data_role, public_network_open, self_grant_path, stranded_access_policy
from tests.factories import KV_SECRETS_USER, assignment_row, policy, run_rules, vault_id, vault_row

DEMO = Path(demo_init).parent
RBAC_RULES = {"broad-data-role", "dead-access-policy", "inert-role-assignment", "latent-grant", "migration-gap",
              "self-grant-path", "stranded-access-policy", "template-deployment-path", "wildcard-custom-role"}


def demo_without(tmp_path, table: str) -> Path:
    snap = tmp_path / "snap"
    shutil.copytree(DEMO, snap, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (snap / f"{table}.jsonl").write_text("")
    manifest = json.loads((snap / "manifest.json").read_text())
    if isinstance(manifest.get("tables"), dict) and table in manifest["tables"]:
        manifest["tables"][table] = 0
    (snap / "manifest.json").write_text(json.dumps(manifest))
    return snap


def banner(out: Path) -> str:
    wb = openpyxl.load_workbook(io.BytesIO((out / "kv-audit-report.xlsx").read_bytes()), read_only=True)
    return wb["Summary"]["A2"].value


@pytest.mark.parametrize("table, rules", [
    ("subscriptions", RBAC_RULES | {"defender-for-key-vault-off"}),
    ("role_definitions", RBAC_RULES),
])
def test_empty_required_table_is_incomplete_and_its_rules_not_evaluated(tmp_path, capsys, table, rules):
    out = tmp_path / "out"
    assert main(["audit", "--snapshot", str(demo_without(tmp_path, table)), "--out", str(out)]) == 3
    run = json.loads((out / "kv-audit-report.json").read_text())["run"]
    assert run["complete"] is False
    (gap,) = run["gaps"]
    assert gap["scope"] == "/" and gap["table"] == table and "not evaluated" in gap["reason"]
    whole = {n["ruleId"] for n in run["notEvaluated"] if n.get("scope") == "/" and n["vaultId"] is None
             and f"required table {table} is empty" in n["reason"]}
    assert whole == rules
    err = capsys.readouterr().err
    assert f"INCOMPLETE: 1 gap(s), {len(run['notEvaluated'])} rule evaluation(s) not done" in err
    text = banner(out)
    assert text.startswith(f"INCOMPLETE RUN: 1 gap(s), {len(run['notEvaluated'])} rule evaluation(s) not done")
    assert "every rule evaluated" not in text


def test_vault_property_rules_still_run_without_subscriptions():
    run = run_rules([public_network_open, stranded_access_policy], vaults=[vault_row(publicNetworkAccess="Enabled", networkAcls=None)],
                   subscriptions=[])
    assert [g["table"] for g in run.gaps] == ["subscriptions"]
    assert run.of("public-network-open") and {n["ruleId"] for n in run.not_evaluated} == {"stranded-access-policy"}


def test_no_role_definitions_without_any_grant_is_not_a_gap():
    run = run_rules([broad_data_role, self_grant_path], vaults=[vault_row()], definitions=[])
    assert run.gaps == [] and run.not_evaluated == [] and run.report["run"]["complete"] is True


def test_no_role_definitions_with_grants_leaves_their_rules_unevaluated():
    from audit_function.access.engine import AccessIndex
    from audit_function.engine.evaluate import evaluate
    from audit_function.snapshot.load import RawSnapshot, load_estate
    from rules.base import RuleContext
    from tests.factories import AS_OF, subscription_row

    tables = {"subscriptions": [subscription_row()], "role_definitions": [],
              "vaults": [vault_row(rbac=False, policies=[policy("p1", secrets=["get"])])],
              "role_assignments": [assignment_row(vault_id(), KV_SECRETS_USER, "u1")]}
    estate = load_estate(RawSnapshot(tables=tables))
    out = evaluate(estate, (stranded_access_policy, public_network_open), RuleContext(as_of=AS_OF),
                   index=AccessIndex(estate))
    assert [(g.scope, g.table) for g in out.gaps] == [("/", "role_definitions")]
    assert [(n.rule_id, n.scope) for n in out.not_evaluated] == [("stranded-access-policy", "/")]
    assert not [f for f in out.findings if f.rule_id == "stranded-access-policy"]


def test_complete_demo_banner_counts_what_was_not_evaluated(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["audit", "--demo", "--out", str(out)]) == 0
    run = json.loads((out / "kv-audit-report.json").read_text())["run"]
    assert run["complete"] is True
    text, printed = banner(out), capsys.readouterr().out
    if run["notEvaluated"]:
        n = len(run["notEvaluated"])
        assert text.startswith(f"Complete run: every scope was read, but {n} rule evaluation(s) were not done")
        assert f"complete: every scope read; {n} rule evaluation(s) not done" in printed
        assert "every rule evaluated" not in text + printed
    else:
        assert text == "Complete run: every scope was read and every rule evaluated."
        assert "complete: every scope read and every rule evaluated" in printed


def test_banner_says_every_rule_evaluated_only_when_nothing_was_skipped():
    from tests.reports.test_xlsx_report import load, render
    from tests.reports import factory_xlsx as make
    from audit_function.vocabulary import AuditResult

    small = make.small_estate()
    doc = make.report(small.report["vaults"], small.report["findings"])
    doc["run"].update(complete=True, gaps=[], notEvaluated=[])
    assert load(render(AuditResult(doc, ())))["Summary"]["A2"].value == \
        "Complete run: every scope was read and every rule evaluated."
    doc["run"]["notEvaluated"] = [{"ruleId": "latent-grant", "vaultId": None, "reason": "x", "scope": "/"}] * 3
    text = load(render(AuditResult(doc, ())))["Summary"]["A2"].value
    assert text.startswith("Complete run: every scope was read, but 3 rule evaluation(s) were not done")
