"""Forked workers give exactly the single-process report, and a failed worker falls back."""

from datetime import datetime, timezone

import orjson

from audit_function.engine import parallel
from audit_function.pipeline.run import AuditOptions, run_audit
from tests.factories import subscription_row, vault_row

WHEN = datetime(2026, 11, 23, 6, tzinfo=timezone.utc)
CONFIG = """\
suppressions:
  - id: accept-crm
    ruleId: '*'
    vault: kv-crm-*
    justification: test
    owner: me
    expires: 2027-01-01
"""


def audit(workers, tmp_path, previous=None):
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG)
    outcome = run_audit(AuditOptions(source="demo", formats=("json",), workers=workers, run_id="r",
                                     config_path=config), clock=lambda: WHEN, previous=previous)
    return outcome.result.report, outcome.files["kv-audit-report.json"].read_all()


def test_two_workers_give_the_single_process_report(tmp_path):
    single, single_bytes = audit(1, tmp_path)
    previous = orjson.loads(single_bytes)
    previous["findings"] = previous["findings"][5:]          # some findings become "new" next time
    previous["findings"].append(dict(previous["findings"][0], fingerprint="f" * 32))  # and one is resolved
    one, one_bytes = audit(1, tmp_path, previous)
    two, two_bytes = audit(2, tmp_path, previous)
    three, three_bytes = audit(3, tmp_path, previous)
    assert one_bytes == two_bytes == three_bytes
    assert one["summary"]["new"] == 5 and one["summary"]["resolved"] == 1 and one["summary"]["suppressed"] > 0


def test_a_failed_worker_falls_back_to_one_process(tmp_path, monkeypatch, capfd):
    expected = audit(1, tmp_path)[1]

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(parallel.pickle, "dump", broken)
    got = audit(2, tmp_path)[1]
    assert got == expected
    assert "evaluating their part in this process" in capfd.readouterr().err


def test_default_workers(monkeypatch):
    monkeypatch.delenv("KV_AUDIT_WORKERS", raising=False)
    assert parallel.default_workers(100) == 1
    assert parallel.default_workers(1_000_000) >= 1
    monkeypatch.setenv("KV_AUDIT_WORKERS", "3")
    assert parallel.default_workers(100) == 3


def test_many_workers_on_a_tiny_estate():
    from audit_function.snapshot.load import RawSnapshot

    snapshot = RawSnapshot(tables={"subscriptions": [subscription_row()], "role_definitions": [],
                                   "vaults": [vault_row("a", publicNetworkAccess="Enabled"), vault_row("b")],
                                   "role_assignments": []})
    reports = [run_audit(AuditOptions(source="snapshot", snapshot=snapshot, formats=("json",), workers=w, run_id="r"),
                         clock=lambda: WHEN).files["kv-audit-report.json"].read_all() for w in (1, 4)]
    assert reports[0] == reports[1]


def test_access_rows_are_the_same_with_workers():
    rows = []
    for workers in (1, 2):
        outcome = run_audit(AuditOptions(source="demo", formats=("json", "xlsx"), workers=workers, run_id="r"),
                            clock=lambda: WHEN)
        rows.append(list(outcome.result.access))
        assert outcome.files["kv-audit-report.xlsx"][:2] == b"PK"
    assert rows[0] == rows[1] and len(rows[0]) > 20


def test_a_new_pass_travels_through_workers_without_engine_changes():
    """Issue 10: per-vault passes are generic; the engine and workers know nothing of their results."""
    from audit_function.access.engine import AccessIndex
    from audit_function.engine.evaluate import evaluate
    from audit_function.engine.passes import MergedDict
    from audit_function.snapshot.load import load_estate
    from audit_function.pipeline.run import demo_snapshot
    from rules import ALL_RULES
    from rules.base import RuleContext

    class Names:
        name = "names"
        access_policy_vaults_only = False

        def results(self, folder=None, tag=""):
            return MergedDict()

        def run(self, vault, access, ctx, results):
            if vault.name.endswith("-broken"):
                raise RuntimeError("boom")
            results[vault.key] = vault.name

    estate = load_estate(demo_snapshot())
    vaults = {v.key: v.name for v in estate.vaults}
    broken = estate.vaults[0]
    object.__setattr__(broken, "name", broken.name + "-broken")   # frozen model: this test's own estate copy
    outs = [evaluate(estate, ALL_RULES, RuleContext(as_of=WHEN), index=AccessIndex(estate), passes=(Names(),),
                     workers=w) for w in (1, 2)]
    for out in outs:
        names = out.results["names"]
        assert broken.key not in names and len(names) == len(vaults) - 1
        assert any(g.scope == broken.id and g.reason.startswith("names: rule raised RuntimeError") for g in out.gaps)
    assert outs[0].results["names"] == outs[1].results["names"]


def test_runs_cover_every_vault_once_in_order_and_the_parents_is_shorter():
    vaults = list(range(1000))
    for workers in (2, 3, 4, 8):
        runs = parallel.split(vaults, workers, estate_rules=True)
        assert [v for run in runs for v in run] == vaults
        assert len(runs) == workers
        assert len(runs[0]) < min(len(r) for r in runs[1:])   # the parent also evaluates the estate rules
    assert parallel.split(vaults, 1, estate_rules=True) == [vaults]
    even = parallel.split(vaults, 2, estate_rules=False)
    assert [len(r) for r in even] == [500, 500]
    assert [v for run in parallel.split([1, 2, 3], 8, estate_rules=True) for v in run] == [1, 2, 3]


def test_a_worker_that_cannot_be_started_is_evaluated_here(tmp_path, monkeypatch, capfd):
    expected = audit(1, tmp_path)[1]

    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(parallel.os, "fork", no_fork)
    got = audit(3, tmp_path)[1]
    assert got == expected
    assert "cannot start a worker process" in capfd.readouterr().err
