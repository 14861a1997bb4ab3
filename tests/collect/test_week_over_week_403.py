"""One subscription answering 403 leaves only its own findings unverified (issue 12 item 5).

Two weeks through the real collector and the Resource Graph fake: week 1 reads both subscriptions;
in week 2 the vaults of subscription A are gone (deleted: their findings are resolved) and
subscription B answers 403 (its findings may still exist: unverified, never resolved).
"""

from __future__ import annotations

from datetime import datetime, timezone

from audit_function.pipeline.run import AuditOptions, run_audit
from audit_function.collect import LiveScope
from audit_function.sinks.local import LocalFolderSink
from tests.fakes.estate import synthetic_estate

WEEK1 = datetime(2026, 11, 2, 6, tzinfo=timezone.utc)
WEEK2 = datetime(2026, 11, 9, 6, tzinfo=timezone.utc)


def _in(sub: str, finding: dict) -> bool:
    places = [finding.get("vaultId"), finding.get("assignmentId"),
              f"/subscriptions/{finding['subscriptionId']}" if finding.get("subscriptionId") else None]
    return any(str(p).lower().startswith(f"/subscriptions/{sub}".lower()) for p in places if p)


def test_a_403_subscription_leaves_only_its_own_findings_unverified(serve, collect, tmp_path):
    estate = synthetic_estate(subscriptions=2, vaults=40, assignments=300, seed=5)
    sub_a, sub_b = (r["subscriptionId"] for r in estate["subscriptions"])
    scope = LiveScope(subscriptions=(sub_a, sub_b))
    out = tmp_path / "reports"

    first = collect(serve(estate), scope, directory=False)
    week1 = run_audit(AuditOptions(source="snapshot", snapshot=first, formats=("json",)), LocalFolderSink(out),
                      clock=lambda: WEEK1).result.report
    old = list(week1["findings"])
    old_a_vaults = [f for f in old if f.get("vaultId") and _in(sub_a, f)]
    old_b = [f for f in old if _in(sub_b, f) and not _in(sub_a, f)]
    assert old_a_vaults and old_b and week1["run"]["complete"]

    tables = {**estate, "vaults": [v for v in estate["vaults"] if v["subscriptionId"] != sub_a]}
    second = collect(serve(tables, forbidden_subscriptions={sub_b}), scope, directory=False)
    assert any(g["scope"].lower() == f"/subscriptions/{sub_b}".lower() for g in second.manifest["gaps"])
    outcome = run_audit(AuditOptions(source="snapshot", snapshot=second, formats=("json",)), LocalFolderSink(out),
                        clock=lambda: WEEK2)
    report = outcome.result.report
    assert report["run"]["complete"] is False and outcome.exit_code == 3
    resolved = {f["fingerprint"] for f in report["resolved"]}
    unverified = {f["fingerprint"] for f in report["unverified"]}
    # A was read: the findings of its deleted vaults are resolved, not unverified
    assert {f["fingerprint"] for f in old_a_vaults} <= resolved
    # B could not be read: nothing of it is resolved, all of it that is gone is unverified
    assert not resolved & {f["fingerprint"] for f in old_b}
    gone_b = {f["fingerprint"] for f in old_b} - {f["fingerprint"] for f in report["findings"]}
    assert gone_b and gone_b <= unverified
    assert all(_in(sub_b, f) or not (f.get("vaultId") or f.get("subscriptionId")) for f in report["unverified"])
    assert report["summary"]["resolved"] == len(resolved) and report["summary"]["unverified"] == len(unverified)
