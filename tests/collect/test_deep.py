"""collect --deep: key/secret metadata (azure-mgmt-keyvault) and diagnostic settings (azure-mgmt-monitor), the
real SDK clients against the local HTTPS ARM fake (paging with nextLink, 429 Retry-After, a 403 vault, 5xx),
Defender plans and Managed HSM pools from the Resource Graph fake; all on the virtual clock."""

from __future__ import annotations

import json

import pytest

from audit_function.cli.main import main
from audit_function.collect.arm_authorization import MAX_TRANSIENT
from audit_function.snapshot.load import RawSnapshot, iter_rows, load_estate
from tests.fakes.arm_server import KEYVAULT_API, MONITOR_API, DeepFaults
from tests.fakes.estate import add_deep_tables, synthetic_estate
from tests.fakes.identity_server import live_azure


@pytest.fixture
def estate():
    return add_deep_tables(synthetic_estate(subscriptions=4, vaults=10, assignments=60, seed=21))


def ids(rows):
    return sorted(r["id"].lower() for r in rows)


def test_deep_collection_reads_every_table_with_paging_and_metadata_only(serve, collect, estate):
    fake = serve(estate, deep=DeepFaults(page_size=1))
    snap = collect(fake, deep=True)
    assert snap.manifest["complete"] is True, snap.manifest["gaps"]
    for table in ("vault_objects", "diagnostic_settings", "managed_hsms", "defender_plans", "perimeter_associations"):
        assert ids(snap.tables[table]) == ids(estate[table]), table
        assert snap.manifest["tables"][table] == len(estate[table])
    # never a secret value, only the contract's keys
    for row in snap.tables["vault_objects"]:
        assert set(row) == {"id", "name", "type", "properties"}
        assert set(row["properties"]) == {"attributes", "rotationPolicy", "kty", "contentType"}
        assert "s3cr3t" not in json.dumps(row)
    # keys.list leaves rotationPolicy out (as the fake's default): each key is read once more with keys.get
    keys = [r for r in snap.tables["vault_objects"] if "/keys/" in r["id"]]
    assert all(r["properties"]["rotationPolicy"]["lifetimeActions"] for r in keys)
    gets = [e for e in fake.deep.log if "/keys/" in e["path"]]
    assert len(gets) == len(keys) == snap.manifest["deep"]["keyRereads"]
    # paging followed nextLink, each listing with its SDK's api-version
    assert {e["apiVersion"] for e in fake.deep.log if "diagnosticsettings" in e["path"]} == {MONITOR_API}
    assert {e["apiVersion"] for e in fake.deep.log if "diagnosticsettings" not in e["path"]} == {KEYVAULT_API}
    listings = [e for e in fake.deep.log if e["path"].endswith(("/keys", "/secrets"))]
    assert len(listings) == 4 * len(estate["vaults"])       # two keys, two secrets per vault, one per page
    assert snap.manifest["deep"]["requests"] == fake.deep.requests
    # one diagnostic settings call per vault and per HSM (more only for a second page)
    settings_calls = {e["resource"] for e in fake.deep.log if "diagnosticsettings" in e["path"]}
    assert len(settings_calls) == len(estate["vaults"]) + len(estate["managed_hsms"])


def test_without_deep_only_managed_hsms_are_added(serve, collect, estate):
    fake = serve(estate)
    snap = collect(fake)
    assert fake.deep.requests == 0
    assert "managed_hsms" in snap.tables and "vault_objects" not in snap.tables
    assert "defender_plans" not in snap.tables and "perimeter_associations" not in snap.tables
    cov = {c["source"]: c["state"] for c in _audit(snap)["run"]["coverage"]}
    assert cov["Managed HSM pools"] == "collected" and cov["key and secret metadata"] == "not collected"


def test_429_with_retry_after_and_5xx_are_retried(serve, collect, clock, estate):
    fake = serve(estate, deep=DeepFaults(retry_after=7, script={1: "429", 2: "500", 5: "503", 9: "429"}))
    snap = collect(fake, deep=True)
    assert snap.manifest["complete"] is True
    assert fake.deep.statuses[429] == 2 and fake.deep.statuses[500] + fake.deep.statuses[503] == 2
    assert clock.sleeps.count(7) >= 2
    assert snap.manifest["deep"]["throttleWaits"] == 2 and snap.manifest["deep"]["retries"] == 2
    assert ids(snap.tables["vault_objects"]) == ids(estate["vault_objects"])


def test_a_403_vault_is_a_gap_naming_it_and_its_rules_are_not_evaluated(serve, collect, estate):
    denied = estate["vaults"][3]["id"]
    fake = serve(estate, deep=DeepFaults(resource_faults={denied.upper(): "403"}))
    snap = collect(fake, deep=True)
    gaps = [g for g in snap.manifest["gaps"] if g["table"] in ("vault_objects", "diagnostic_settings")]
    assert [(g["scope"], g["table"]) for g in gaps] == [(denied, "vault_objects"), (denied, "diagnostic_settings")]
    assert all("HTTP 403 AuthorizationFailed" in g["reason"] for g in gaps)
    assert snap.manifest["complete"] is False
    others = [r for r in estate["vault_objects"] if not r["id"].lower().startswith(denied.lower() + "/")]
    assert ids(snap.tables["vault_objects"]) == ids(others)
    report = _audit(snap)
    unread = {(n["ruleId"], n["vaultId"]) for n in report["run"]["notEvaluated"] if n["vaultId"] == denied}
    assert unread == {("key-expiry-missing", denied), ("secret-expiry-missing", denied),
                      ("key-rotation-missing", denied), ("audit-logging-missing", denied)}
    assert not [f for f in report["findings"] if f["vaultId"] == denied and f["ruleId"] in
                ("key-expiry-missing", "secret-expiry-missing", "key-rotation-missing", "audit-logging-missing")]
    cov = {c["source"]: c["state"] for c in report["run"]["coverage"]}
    assert cov["key and secret metadata"] == "partial" and cov["diagnostic settings"] == "partial"


def test_persistent_server_errors_on_one_vault_are_bounded(serve, collect, clock, estate):
    broken = estate["vaults"][0]["id"]
    fake = serve(estate, deep=DeepFaults(resource_faults={broken: "503"}))
    snap = collect(fake, deep=True)
    gaps = {g["table"]: g for g in snap.manifest["gaps"] if g["scope"] == broken}
    assert set(gaps) == {"vault_objects", "diagnostic_settings"}
    assert f"still failing after {MAX_TRANSIENT} retries" in gaps["vault_objects"]["reason"]
    on_broken = [e for e in fake.deep.log if e["resource"] == broken.lower()]
    assert len(on_broken) == 2 * (MAX_TRANSIENT + 1)


def test_per_subscription_quota_is_paced_not_failed(serve, collect, estate):
    fake = serve(estate, deep=DeepFaults(bucket=(6, 2.0)))
    snap = collect(fake, deep=True)
    assert snap.manifest["complete"] is True, snap.manifest["gaps"]
    assert ids(snap.tables["vault_objects"]) == ids(estate["vault_objects"])


def test_progress_says_vaults_done_of_total(serve, collect, estate):
    fake = serve(estate)
    events = []
    collect(fake, deep=True, progress=lambda e, **f: events.append((e, f)))
    done = [f for e, f in events if e == "vaults"]
    total = len(estate["vaults"]) + len(estate["managed_hsms"])
    assert done[-1]["done"] == done[-1]["total"] == total
    assert done[-1]["text"].startswith(f"deep: vaults done {total} of {total}")


def test_deep_findings_from_the_live_collection(serve, collect, estate):
    snap = collect(serve(estate), deep=True)
    by_rule = _audit(snap)["summary"]["byRule"]
    vaults = len(estate["vaults"])
    assert by_rule["key-expiry-missing"] == len(range(0, vaults, 3))
    assert by_rule["key-rotation-missing"] == len(range(0, vaults, 3))
    assert by_rule["secret-expiry-missing"] == len(range(0, vaults, 4))
    assert by_rule["audit-logging-missing"] == len(range(0, vaults, 5)) + 1     # and one HSM without a setting
    assert by_rule["defender-for-key-vault-off"] == 1


def _audit(snap: RawSnapshot) -> dict:
    from datetime import datetime, timezone

    from audit_function.access.engine import AccessIndex
    from audit_function.engine.evaluate import evaluate
    from audit_function.report.document import build_report
    from rules import ALL_RULES, RULE_IDS
    from rules.base import RuleContext

    estate = load_estate(snap)
    ctx = RuleContext(as_of=datetime(2026, 12, 1, tzinfo=timezone.utc))
    evaluation = evaluate(estate, ALL_RULES, ctx, index=AccessIndex(estate))
    return build_report(estate, evaluation, RULE_IDS, run={"id": "t"})


def test_collect_deep_then_audit_snapshot_equals_audit_live_deep(serve, estate, tmp_path, monkeypatch):
    fake = serve(estate, token="mi-token", deep=DeepFaults(page_size=3))
    with live_azure(monkeypatch, fake, token="mi-token"):
        assert main(["collect", "--live", "--deep", "--no-directory", "--out", str(tmp_path / "snap")]) == 0
        rows = [r for _, r in iter_rows(tmp_path / "snap" / "vault_objects.jsonl")]
        assert ids(rows) == ids(estate["vault_objects"])
        assert main(["audit", "--snapshot", str(tmp_path / "snap"), "--format", "json",
                     "--out", str(tmp_path / "a")]) in (0, 1)
        assert main(["audit", "--live", "--deep", "--no-directory", "--format", "json",
                     "--out", str(tmp_path / "b")]) in (0, 1)
    a = json.loads((tmp_path / "a" / "kv-audit-report.json").read_text())
    b = json.loads((tmp_path / "b" / "kv-audit-report.json").read_text())
    assert sorted(f["fingerprint"] for f in a["findings"]) == sorted(f["fingerprint"] for f in b["findings"])
    deep = {"key-expiry-missing", "secret-expiry-missing", "key-rotation-missing", "audit-logging-missing",
            "defender-for-key-vault-off"}
    assert deep <= {f["ruleId"] for f in a["findings"]}
    assert a["summary"]["byRule"] == b["summary"]["byRule"]
    assert {v["resourceType"] for v in a["vaults"]} == {"Microsoft.KeyVault/vaults", "Microsoft.KeyVault/managedHSMs"}
