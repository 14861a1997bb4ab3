"""Suppressions under catalog 2: fingerprints and grant ids; catalog-1 fingerprints become unused, never a crash."""

from __future__ import annotations

from datetime import date

from audit_function.pipeline.config import load_config
from audit_function.history.suppressions import apply_suppressions
from rules import RULE_IDS, full_access_policy, self_grant_path
from rules.base import fingerprint
from tests.factories import OWNER, SUB, assignment_row, policy, run_rules, vault_row

OLD_CATALOG_1 = "0123456789abcdef0123456789abcdef"


def _report():
    vault = vault_row(rbac=False, policies=[policy("p1", secrets=["all"])])
    grant = assignment_row(f"/subscriptions/{SUB}", OWNER, "owner-1", name="ra-owner")
    return run_rules([full_access_policy, self_grant_path], vaults=[vault], assignments=[grant]).report


def _config(tmp_path, body: str):
    path = tmp_path / "kv-audit.yaml"
    path.write_text(body, encoding="utf-8")
    return load_config(path, set(RULE_IDS))


def test_fingerprint_and_assignment_id_suppress_exactly_one_finding_and_old_fingerprints_are_unused(tmp_path):
    report = _report()
    vault_finding = next(f for f in report["findings"] if f["ruleId"] == "full-access-policy")
    grant_finding = next(f for f in report["findings"] if f["ruleId"] == "self-grant-path")
    assert vault_finding["fingerprint"] == fingerprint("full-access-policy", vault_finding["vaultId"])
    config = _config(tmp_path, f"""
suppressions:
  - id: by-fingerprint
    ruleId: full-access-policy
    fingerprint: {vault_finding["fingerprint"].upper()}
    justification: accepted
    owner: sec
    expires: 2099-01-01
  - id: by-grant
    ruleId: self-grant-path
    assignmentId: {grant_finding["assignmentId"].lower()}
    justification: break-glass
    owner: sec
    expires: 2099-01-01
  - id: catalog-1
    ruleId: "*"
    fingerprint: {OLD_CATALOG_1}
    justification: written for catalog 1
    owner: sec
    expires: 2099-01-01
""")
    apply_suppressions(report, config.suppressions, date(2026, 12, 1))
    assert {f["ruleId"]: f["suppressed"] for f in report["findings"]} == {"full-access-policy": True,
                                                                         "self-grant-path": True}
    assert [u["id"] for u in report["suppressions"]["unused"]] == ["catalog-1"]
