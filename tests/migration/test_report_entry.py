"""The report's migration section: one compact element per access-policy vault (report 2)."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson

from audit_function.access.engine import AccessIndex
from audit_function.pipeline.run import AuditOptions, demo_snapshot, run_audit
from audit_function.migration import plan_vault
from audit_function.migration.report_entry import PLAN_HINT, report_entry
from audit_function.snapshot.load import load_estate
from rules.base import RuleContext

WHEN = datetime(2026, 11, 23, 6, tzinfo=timezone.utc)


def _plans():
    estate = load_estate(demo_snapshot())
    index = AccessIndex(estate)
    ctx = RuleContext(as_of=WHEN)
    return [plan_vault(v, index.vault_access(v), estate.role_definitions, ctx, principals=estate.principals)
            for v in estate.vaults if not v.is_rbac]


def test_same_verdicts_and_counts_as_the_full_plan():
    plans = _plans()
    assert {p["readiness"] for p in plans} >= {"blocked", "review-latent-grants"}
    for plan in plans:
        entry = report_entry(plan)
        assert entry["readiness"] == plan["readiness"] and entry["vaultId"] == plan["vaultId"]
        assert entry["flipAllowed"] == plan["flip"]["allowed"]
        counts = entry["counts"]
        assert counts["entries"] == len(plan["entries"]) == len(entry["entries"])
        assert counts["gainers"] == len(plan["gainers"]) and counts["losers"] == len(plan["losers"])
        assert counts["toAssign"] == sum(1 for e in plan["entries"] if e["proposedRoles"])
        for full, short in zip(plan["entries"], entry["entries"]):
            assert short["commands"] == full["commands"] and short["excess"] == full["excess"]
            assert len(short["proposedRoles"]) == len(full["proposedRoles"])
            assert all("/" not in r for r in short["proposedRoles"])   # GUIDs: names are in ``roles``
        for full, short in zip(plan["gainers"], entry["gainers"]):
            assert short["assignmentIds"] == [a["assignmentId"] for a in full["assignments"]]
            assert short["widenedCount"] == full["widenedCount"] and "widenedInWords" not in short
        # every blocking reason is kept word for word; gains and uncovered entries are counted once
        blocked = [r for r in plan["reasons"] if "would gain" not in r and "is not covered" not in r]
        assert all(r in entry["reasons"] for r in blocked)
        assert sum(" would gain data access" in r for r in entry["reasons"]) == (1 if plan["gainers"] else 0)
        assert (PLAN_HINT in entry["reasons"]) == (counts["toAssign"] > 0 or entry["flipAllowed"])


def test_smaller_than_the_full_plan_and_in_the_report():
    plans = _plans()
    full = sum(len(orjson.dumps(p)) for p in plans)
    compact = sum(len(orjson.dumps(report_entry(p))) for p in plans)
    assert compact < full * 0.7
    report = run_audit(AuditOptions(source="demo", formats=("json",)), clock=lambda: WHEN).result.report
    plans.sort(key=lambda p: p["vaultId"].lower())   # the report lists vaults in key order
    assert [(m["vaultId"], m["readiness"]) for m in report["migration"]] == [
        (p["vaultId"], p["readiness"]) for p in plans]
    assert all("flip" not in m and "counts" in m for m in report["migration"])
