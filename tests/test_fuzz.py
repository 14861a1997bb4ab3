"""The fuzz suite, bounded: mutated demo snapshots end with a documented exit status and a
schema-valid report, never an internal error (bench/fuzz_snapshots.py runs the long mode)."""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import fuzz
from tests.cli.test_cli import validate

TABLES = fuzz.demo_tables()
MANIFEST = json.loads((fuzz.DEMO / "manifest.json").read_text())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.integers(1, 3))
def test_mutated_snapshots_never_crash_and_reports_stay_valid(seed, mutations):
    rng = random.Random(seed)
    tables, what = TABLES, []
    for _ in range(mutations):
        tables, one = fuzz.mutate(tables, rng)
        what.append(one)
    with tempfile.TemporaryDirectory() as work:
        snapshot = fuzz.write(tables, Path(work) / "snap", MANIFEST)
        code, err, report = fuzz.audit(snapshot, Path(work) / "out")
    assert code in (0, 1, 2, 3), (what, err)
    assert "Traceback" not in err
    if code == 2:
        assert err.startswith("kv-audit: error: ") and report is None, (what, err)
    else:
        validate(report)
        assert report["run"]["complete"] is (code != 3), what


def _demo_report() -> bytes:
    from audit_function.cli.main import main

    with tempfile.TemporaryDirectory() as work:
        assert main(["audit", "--demo", "--out", work, "--format", "json"]) == 0
        return (Path(work) / "kv-audit-report.json").read_bytes()


REPORT = _demo_report()


def _mutate_report(data: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return data[: rng.randrange(len(data))]
    if kind == 1:
        at = rng.randrange(len(data))
        return data[:at] + bytes([rng.randrange(256)]) + data[at + 1:]
    lines = data.split(b"\n")
    n = rng.randrange(len(lines))
    if kind == 2:
        del lines[n]
    else:
        lines[n] = rng.choice([b"", b"{", b"  {}", b' "run": 5,', b' "findings": [', b"  [1,2],", b"\xff"])
    return b"\n".join(lines)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_mutated_previous_reports_never_crash(seed):
    import contextlib
    import io

    from audit_function.cli.main import main

    data = _mutate_report(REPORT, random.Random(seed))
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "out"
        out.mkdir()
        (out / "kv-audit-report.json").write_bytes(data)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            audit = main(["audit", "--demo", "--out", str(out), "--format", "json"])
            (out / "kv-audit-report.json").write_bytes(data)
            diff = main(["diff", str(out / "kv-audit-report.json"), str(out / "kv-audit-report.json")])
            tickets = main(["tickets", "--report", str(out / "kv-audit-report.json"), "--sink", "jsonl",
                            "--dry-run"])
    assert audit == 0 and diff in (0, 2) and tickets in (0, 2), err.getvalue()
    assert "internal error" not in err.getvalue() and "Traceback" not in err.getvalue()


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False),
                     st.text(max_size=12), st.sampled_from(["soft-delete-disabled", "*", "2025-06-30", "kv-*", "high",
                                                            "github", "jsonl", "firewallMinPrefixV4"]))
_KEYS = st.sampled_from(["suppressions", "severityOverrides", "thresholds", "tickets", "ruleId", "vault", "tag",
                         "justification", "owner", "expires", "id", "firewallMinPrefixV4", "sink", "groupBy",
                         "soft-delete-disabled", "x"])
_TREES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(_KEYS, inner, max_size=5)), max_leaves=25)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_KEYS, _TREES, max_size=4), st.sampled_from([".json", ".yaml"]))
def test_any_config_tree_is_accepted_or_a_config_error(tree, suffix):
    import yaml

    from audit_function.pipeline.config import load_config
    from audit_function.errors import ConfigError
    from rules import RULE_IDS

    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / f"kv-audit{suffix}"
        path.write_text(json.dumps(tree) if suffix == ".json" else yaml.safe_dump(tree), encoding="utf-8")
        try:
            load_config(path, set(RULE_IDS))
        except ConfigError as err:
            assert str(err).startswith(str(path))
