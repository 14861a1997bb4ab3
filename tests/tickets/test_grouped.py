"""Tickets per rule and per owner (``--group-by rule|owner``), owner labels and tags, and names in
ticket bodies and ``diff`` lines, against the loopback GitHub and Azure DevOps fakes."""

from __future__ import annotations

import copy
import json

import pytest

from audit_function.errors import ConfigError
from audit_function.history.diff import diff_reports, render_diff_text
from audit_function.tickets import plan_tickets, run_ticket_step
from audit_function.tickets.model import NO_OWNER_KEY, owner_key, rule_key
from audit_function.tickets.render import MARKER_RE, html_body, markdown, owner_label, plain
from tests.history.factory import SUB_A, SUB_B, finding, report, vault

A = vault("kv-a", SUB_A)
B = vault("kv-b", SUB_B)
C = vault("kv-c", SUB_B)
PID = "1cd702c2-0000-4000-8000-000000000001"
GUEST = "0b1058e2-0000-4000-8000-000000000002"


def owned(rule, on, owner, **kw):
    f = finding(rule, on, **kw)
    f["owner"] = owner
    return f


F1 = owned("public-network-open", A, "alice@contoso.com")
F2 = owned("purge-protection-disabled", A, "alice@contoso.com")
F3 = owned("public-network-open", B, "Alice@Contoso.com ")      # the same owner, spelled differently
F4 = owned("no-private-endpoint", C, "@web-team")
F5 = owned("soft-delete-disabled", C, None)


def doc(findings, run_id="w1", started="2025-03-03T06:00:00Z", **kwargs):
    return report(run_id, started, [A, B, C], copy.deepcopy(findings), **kwargs)


def github_step(server, session, sleeps, report_doc, **settings):
    settings = {"sink": "github", "github": {"repository": "contoso/security", "apiUrl": server.api_url},
                **settings}
    return run_ticket_step(report_doc, settings, env={"GITHUB_TOKEN": server.token}, session=session,
                           sleep=sleeps, clock=lambda: 1_700_000_000.0)


def ado_step(server, session, sleeps, report_doc, **settings):
    settings = {"sink": "azure-devops", "azureDevOps": {"organizationUrl": server.org_url, "project": "Sec Ops"},
                **settings}
    return run_ticket_step(report_doc, settings, env={"AZURE_DEVOPS_EXT_PAT": server.token}, session=session,
                           sleep=sleeps)


def labels(issue) -> list[str]:
    return [label["name"] for label in issue["labels"]]


def issue_with_key(server, key):
    return next(i for i in server.issues.values() if MARKER_RE.search(i["body"]).group(1) == key)


# --- keys and plans -----------------------------------------------------------------------------

def test_rule_and_owner_keys_are_stable_and_distinct():
    assert rule_key("public-network-open") == rule_key("public-network-open")
    assert rule_key("public-network-open") != rule_key("no-private-endpoint")
    assert rule_key("x").startswith("rule-") and len(rule_key("x")) == 29
    assert owner_key("alice@contoso.com") == owner_key(" Alice@CONTOSO.com ") == owner_key("alice@contoso.com")
    assert owner_key("alice@contoso.com") != owner_key("bob@contoso.com")
    assert owner_key(None) == owner_key("") == owner_key("   ") == NO_OWNER_KEY
    assert owner_key("none") != NO_OWNER_KEY      # an owner literally called "none" is an owner


def test_plan_by_rule_gives_one_ticket_per_rule_across_vaults():
    plan = plan_tickets(doc([F1, F2, F3, F4]), "rule")
    by_key = {t.key: t for t in plan.open}
    assert set(by_key) == {rule_key("public-network-open"), rule_key("purge-protection-disabled"),
                           rule_key("no-private-endpoint")}
    pno = by_key[rule_key("public-network-open")]
    assert [f["vaultName"] for f in pno.findings] == ["kv-a", "kv-b"]
    assert pno.rule_id == "public-network-open" and pno.group == "rule"
    assert pno.owner == "alice@contoso.com"   # both findings are Alice's, whatever the spelling
    assert plan.owns(pno.key) and not plan.owns(F1["fingerprint"]) and not plan.owns(owner_key("x"))


def test_plan_by_owner_groups_case_insensitively_and_collects_the_unowned():
    plan = plan_tickets(doc([F1, F2, F3, F4, F5]), "owner")
    by_key = {t.key: t for t in plan.open}
    assert set(by_key) == {owner_key("alice@contoso.com"), owner_key("@web-team"), NO_OWNER_KEY}
    alice = by_key[owner_key("alice@contoso.com")]
    assert len(alice.findings) == 3 and alice.owner == "alice@contoso.com" and alice.severity == "high"
    assert by_key[NO_OWNER_KEY].owner is None and len(by_key[NO_OWNER_KEY].findings) == 1
    with pytest.raises(ValueError, match="finding, vault, rule, owner"):
        plan_tickets(doc([F1]), "team")


def test_bodies_say_who_owns_and_name_the_principal():
    named = owned("stranded-access-policy", A, "alice@contoso.com", principal=PID)
    named.update(principalName="crm-build-pipeline (retired)", principalType="servicePrincipal")
    guest = owned("stranded-access-policy", B, "alice@contoso.com", principal=GUEST)
    guest.update(principalName="Eve Guest", principalType="user", userType="Guest")
    bare = owned("stranded-access-policy", C, "alice@contoso.com", principal="99999999-0000-0000-0000-000000000009")
    plan = plan_tickets(doc([named, guest, bare]), "owner")
    [ticket] = plan.open
    md = markdown(ticket)
    assert f"Principal: crm-build-pipeline (retired) ({PID})" in md
    assert f"Principal: Eve Guest (guest) ({GUEST})" in md
    assert "Principal: 99999999-0000-0000-0000-000000000009\n" in md
    assert "Owner: alice@contoso.com" in md
    # in Markdown an owner's '@' cannot mention anyone (a zero-width space follows it)
    assert "3 open finding(s) owned by alice@\u200bcontoso.com, highest severity high." in md
    assert "### Stranded access policy (kv-a)" in md    # a grouped ticket says where each finding is
    assert "crm-build-pipeline (retired) (" + PID + ")" in plain(ticket) and "owned by" in html_body(ticket)
    # names and owners are part of the digest: a ticket written before they were known is rewritten
    from audit_function.tickets.render import digest
    renamed = copy.deepcopy(plan.open[0].findings[0])
    renamed["principalName"] = "crm-build-pipeline"
    other = plan_tickets(doc([renamed, guest, bare]), "owner").open[0]
    assert digest(other) != digest(ticket)


def test_an_owner_tag_cannot_mention_or_inject_anything():
    hostile = owned("public-network-open", A, "@octocat <b>x</b>, [y](http://e)")
    [ticket] = plan_tickets(doc([hostile]), "owner").open
    md = markdown(ticket)
    head = md.split("###")[0]
    assert "@octocat" not in head and "@\u200boctocat" in head and "<b>" not in head
    assert "<b>" not in html_body(ticket).split("<h3>")[0] and "&lt;b&gt;" in html_body(ticket)
    assert owner_label("@octocat <b>x</b>, [y](http://e)") == "owner:@octocat <b>x</b> [y](http://e)"
    assert owner_label("a;b,\nc") == "owner:a b c" and owner_label("   ") is None
    assert len(owner_label("x" * 80)) == 50


# --- GitHub -------------------------------------------------------------------------------------

def test_github_one_issue_per_owner_labelled_and_updated_in_place(github, session, sleeps):
    first = github_step(github, session, sleeps, doc([F1, F2, F3, F4, F5]), groupBy="owner")
    assert first.counts == {"create": 3}
    alice = issue_with_key(github, owner_key("alice@contoso.com"))
    assert alice["title"] == "kv-audit: open Key Vault findings owned by alice@contoso.com"
    assert labels(alice) == ["kv-audit", "severity:high", "owner:alice@contoso.com"]
    nobody = issue_with_key(github, NO_OWNER_KEY)
    assert nobody["title"] == "kv-audit: open Key Vault findings with no owner tag"
    assert not [n for n in labels(nobody) if n.startswith("owner:")]
    assert "owner:@web-team" in labels(issue_with_key(github, owner_key("@web-team")))
    assert "one per owner" in first.render_text()

    again = github_step(github, session, sleeps, doc([F1, F2, F3, F4, F5], "w2"), groupBy="owner")
    assert again.counts == {"unchanged": 3}

    # Alice fixed kv-b; the web team's vault is re-tagged to nobody: its ticket is resolved
    moved = copy.deepcopy(F4)
    moved["owner"] = None
    gone = doc([F1, F2, moved, F5], "w3", "2025-03-17T06:00:00Z")
    gone["resolved"] = [dict(F3, lastSeen="2025-03-10T06:00:00Z")]
    third = github_step(github, session, sleeps, gone, groupBy="owner", closeResolved=True)
    assert third.counts == {"update": 2, "close": 1}
    assert alice["state"] == "open" and "kv-b" not in alice["body"]
    web = issue_with_key(github, owner_key("@web-team"))
    assert (web["state"], web["state_reason"]) == ("closed", "completed")
    assert "kv-c" in issue_with_key(github, NO_OWNER_KEY)["body"]
    assert len([i for i in github.issues.values()]) == 3


def test_github_rule_tickets_and_other_groupings_leave_each_other_alone(github, session, sleeps):
    summary = github_step(github, session, sleeps, doc([F1, F2, F3]), groupBy="rule")
    assert summary.counts == {"create": 2}
    pno = issue_with_key(github, rule_key("public-network-open"))
    assert pno["title"] == "kv-audit: Public network open (rule public-network-open)"
    assert "2 open finding(s) of rule public-network-open" in pno["body"]
    assert "owner:alice@contoso.com" in labels(pno)
    # a complete run grouped by finding does not treat the rule tickets as resolved
    by_finding = github_step(github, session, sleeps, doc([F1], "w2"), groupBy="finding", closeResolved=True)
    assert by_finding.counts == {"create": 1, "leave": 2}
    assert pno["state"] == "open"


def test_github_owner_label_follows_the_owner_and_keeps_labels_people_added(github, session, sleeps):
    github_step(github, session, sleeps, doc([F1]))
    issue = issue_with_key(github, F1["fingerprint"])
    assert labels(issue) == ["kv-audit", "severity:high", "owner:alice@contoso.com"]
    issue["labels"].append({"name": "triaged"})
    handed_over = copy.deepcopy(F1)
    handed_over["owner"] = "bob@contoso.com"
    assert github_step(github, session, sleeps, doc([handed_over], "w2")).counts == {"update": 1}
    assert labels(issue) == ["kv-audit", "triaged", "severity:high", "owner:bob@contoso.com"]
    assert "Owner: bob@contoso.com" in issue["body"]


# --- Azure DevOps -------------------------------------------------------------------------------

def ado_tags(item) -> list[str]:
    return [t.strip() for t in item["fields"]["System.Tags"].split(";")]


def test_azure_devops_one_work_item_per_owner_with_an_owner_tag(ado, session, sleeps):
    first = ado_step(ado, session, sleeps, doc([F1, F2, F3, F4, F5]), groupBy="owner")
    assert first.counts == {"create": 3}
    titles = {i["fields"]["System.Title"]: i for i in ado.items.values()}
    alice = titles["kv-audit: open Key Vault findings owned by alice@contoso.com"]
    assert "owner:alice@contoso.com" in ado_tags(alice)
    assert f"kv-audit-fp-{owner_key('alice@contoso.com')}" in ado_tags(alice)
    assert "3 open finding(s) owned by alice@contoso.com" in alice["fields"]["System.Description"]
    nobody = titles["kv-audit: open Key Vault findings with no owner tag"]
    assert not [t for t in ado_tags(nobody) if t.lower().startswith("owner:")]
    assert ado_step(ado, session, sleeps, doc([F1, F2, F3, F4, F5], "w2"), groupBy="owner").counts == {
        "unchanged": 3}


def test_azure_devops_owner_tag_is_replaced_when_the_owner_changes(ado, session, sleeps):
    ado_step(ado, session, sleeps, doc([F1]))
    item = ado.items[100]
    assert "owner:alice@contoso.com" in ado_tags(item)
    handed_over = copy.deepcopy(F1)
    handed_over["owner"] = "bob@contoso.com"
    assert ado_step(ado, session, sleeps, doc([handed_over], "w2")).counts == {"update": 1}
    tags = ado_tags(item)
    assert "owner:bob@contoso.com" in tags and "owner:alice@contoso.com" not in tags
    assert f"kv-audit-fp-{F1['fingerprint']}" in tags


def test_azure_devops_rule_tickets(ado, session, sleeps):
    assert ado_step(ado, session, sleeps, doc([F1, F3, F4]), groupBy="rule").counts == {"create": 2}
    keys = {next(t[len("kv-audit-fp-"):] for t in ado_tags(i) if t.startswith("kv-audit-fp-"))
            for i in ado.items.values()}
    assert keys == {rule_key("public-network-open"), rule_key("no-private-endpoint")}


# --- exports, settings, CLI ---------------------------------------------------------------------

def test_export_rows_carry_the_owner_and_the_principal_name():
    named = owned("stranded-access-policy", A, "alice@contoso.com", principal=PID)
    named["principalName"] = "crm-build-pipeline (retired)"
    d = doc([named, F4, F5])
    rows = [json.loads(line) for line in run_ticket_step(d, {"sink": "jsonl"}).export.decode().splitlines()]
    first = next(r for r in rows if r["fingerprint"] == named["fingerprint"])
    assert (first["owner"], first["principalName"], first["principalId"]) == (
        "alice@contoso.com", "crm-build-pipeline (retired)", PID)
    assert "owner-alice@contoso.com" in first["labels"]
    grouped = [json.loads(line) for line in
               run_ticket_step(d, {"sink": "jsonl", "groupBy": "owner"}).export.decode().splitlines()]
    assert {r["fingerprint"]: r["owner"] for r in grouped} == {
        owner_key("alice@contoso.com"): "alice@contoso.com", owner_key("@web-team"): "@web-team",
        NO_OWNER_KEY: None}
    assert all(r["principalName"] is None and r["principalId"] is None for r in grouped)


def test_group_by_setting_is_validated(tmp_path):
    with pytest.raises(ConfigError, match="groupBy must be one of finding, vault, rule, owner"):
        run_ticket_step(doc([F1]), {"sink": "jsonl", "groupBy": "team"})
    from audit_function.pipeline.config import load_config
    path = tmp_path / "kv.yaml"
    path.write_text("tickets:\n  sink: jsonl\n  groupBy: Owner\n", encoding="utf-8")
    assert load_config(path, None).tickets["groupBy"] == "owner"
    path.write_text("tickets:\n  sink: jsonl\n  groupBy: team\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"kv.yaml:3: tickets.groupBy: 'team' is not one of finding, vault, rule, owner"):
        load_config(path, None)


def test_cli_tickets_group_by_owner(tmp_path, capsys):
    import argparse

    from audit_function.cli.history import register

    path = tmp_path / "report.json"
    path.write_text(json.dumps(doc([F1, F3, F5])), encoding="utf-8")
    parser = argparse.ArgumentParser(prog="kv-audit")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["tickets", "--report", str(path), "--sink", "jsonl", "--group-by", "owner"])
    assert args.handler(args) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(r["fingerprint"] for r in rows) == sorted([owner_key("alice@contoso.com"), NO_OWNER_KEY])
    with pytest.raises(SystemExit):
        parser.parse_args(["tickets", "--report", str(path), "--sink", "jsonl", "--group-by", "team"])


# --- diff ----------------------------------------------------------------------------------------

def test_diff_lines_name_the_principal_and_the_owner():
    named = owned("stranded-access-policy", A, "alice@contoso.com", principal=PID)
    named["principalName"] = "crm-build-pipeline (retired)"
    bare = owned("stranded-access-policy", B, None, principal=GUEST)
    new_one = owned("public-network-open", C, "@web-team")
    old = doc([named, bare])
    new = doc([new_one], "w2", "2025-03-10T06:00:00Z")
    diff = diff_reports(old, new)
    resolved = {r["fingerprint"]: r for r in diff["resolved"]}
    assert resolved[named["fingerprint"]]["principalName"] == "crm-build-pipeline (retired)"
    assert resolved[named["fingerprint"]]["owner"] == "alice@contoso.com"
    assert diff["new"][0]["owner"] == "@web-team"
    text = render_diff_text(diff)
    assert f"[principal crm-build-pipeline (retired) ({PID})] [owner alice@contoso.com]" in text
    assert f"[principal {GUEST}]" in text and f"{GUEST}] [owner" not in text
    assert "kv-c: Public network open [owner @web-team]" in text
    # estate text cannot drive the terminal
    evil = copy.deepcopy(new_one)
    evil["owner"] = "x\x1b[2Jy"
    assert "\x1b" not in render_diff_text(diff_reports(old, doc([evil], "w2")))


def test_a_resource_group_gap_unverifies_only_its_own_subscription():
    from audit_function.history.diff import gap_covers

    gap = {"scope": f"/subscriptions/{SUB_B}", "table": "resource_groups", "reason": "403"}
    assert gap_covers(gap, F3) and not gap_covers(gap, F1)
