"""JSONL and CSV ticket exports for Jira / ServiceNow imports."""

from __future__ import annotations

import copy
import csv
import io
import json

from audit_function.tickets import run_ticket_step
from audit_function.tickets.export import COLUMNS
from tests.history.factory import SUB_A, finding, report, vault

A = vault("=HYPERLINK(\"http://evil\")", SUB_A, "+rg")
B = vault("kv-b", SUB_A)
F1 = finding("public-network-open", A)
F2 = finding("no-private-endpoint", B)
F3 = finding("soft-delete-disabled", B)


def doc(findings):
    d = report("w2", "2025-03-10T06:00:00Z", [A, B], copy.deepcopy(findings))
    for f in d["findings"]:
        f.update(status="new", firstSeen="2025-03-10T06:00:00Z", suppressed=False)
    return d


def test_jsonl_has_one_flat_row_per_open_unsuppressed_finding():
    d = doc([F1, F2, F3])
    d["findings"][2]["suppressed"] = True
    summary = run_ticket_step(d, {"sink": "jsonl"})
    rows = [json.loads(line) for line in summary.export.decode().splitlines()]
    assert [r["fingerprint"] for r in rows] == [F1["fingerprint"], F2["fingerprint"]]
    assert list(rows[0]) == list(COLUMNS)
    assert rows[0]["priority"] == "High" and rows[1]["priority"] == "Low"
    assert rows[0]["labels"] == ["kv-audit", "severity-high", "rule-public-network-open"]
    assert rows[0]["status"] == "new" and rows[0]["findingCount"] == 1
    assert "Remediation:" in rows[0]["description"]
    assert summary.counts == {"export": 2}


def test_csv_neutralizes_formulas_and_round_trips():
    bad = copy.deepcopy(F2)
    bad["remediation"] = "-cmd|' /C calc'!A0"
    bad["message"] = "@SUM(1+1)"
    data = run_ticket_step(doc([F1, bad]), {"sink": "csv"}).export.decode()
    rows = list(csv.DictReader(io.StringIO(data)))
    assert list(rows[0]) == list(COLUMNS)
    assert rows[0]["vaultName"] == "'=HYPERLINK(\"http://evil\")"
    assert rows[0]["summary"] == "kv-audit: Public network open (=HYPERLINK(\"http://evil\"))"
    assert rows[0]["resourceGroup"] == "'+rg"
    assert rows[1]["remediation"] == "'-cmd|' /C calc'!A0"
    assert rows[0]["labels"] == "kv-audit severity-high rule-public-network-open"
    for row in rows:
        assert not any(value.startswith(("=", "+", "-", "@", "\t", "\r")) for value in row.values())


def test_group_by_vault_and_resolved_rows_and_file_output(tmp_path):
    d = doc([F1, F2, F3])
    gone = vault("kv-gone", SUB_A)
    d["resolved"] = [dict(finding("purge-protection-disabled", gone), lastSeen="2025-03-03"),
                     dict(finding("purge-protection-disabled", B), lastSeen="2025-03-03")]
    out = tmp_path / "tickets.jsonl"
    summary = run_ticket_step(d, {"sink": "jsonl", "groupBy": "vault", "closeResolved": True,
                                  "out": str(out)})
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["status"], r["findingCount"]) for r in rows] == [("new", 1), ("new", 2),
                                                                ("resolved", 1)]
    assert rows[1]["findingFingerprints"] == [F2["fingerprint"], F3["fingerprint"]]
    assert rows[1]["priority"] == "Medium"
    assert rows[2]["vaultName"] == "kv-gone"   # kv-b still has open findings: its ticket stays
    assert summary.out == str(out) and not list(tmp_path.glob("*.tmp"))

    dry = tmp_path / "dry.csv"
    run_ticket_step(d, {"sink": "csv", "out": str(dry), "dryRun": True})
    assert not dry.exists()


def test_long_tickets_stay_within_tracker_limits():
    from audit_function.tickets.model import plan_tickets
    from audit_function.tickets.render import ADO_MARKER_RE, digest, html_body, markdown, plain
    findings = [finding("latent-grant", B, principal=f"p-{n}", evidence={"why": "x" * 900})
                for n in range(300)]
    findings.append(finding("stranded-access-policy", B, principal="huge",
                            evidence={"actions": ["a" * 50] * 2000}))
    [ticket] = plan_tickets(doc(findings), "vault").open
    body, page, text = markdown(ticket), html_body(ticket), plain(ticket)
    assert len(body) < 65_536 and len(page) < 65_536 and len(text) < 32_767
    assert "more finding(s): see the kv-audit report." in body
    assert ADO_MARKER_RE.search(page).group(1) == digest(ticket)   # the marker survives
    assert body.startswith("<!-- kv-audit:key=vault-")
