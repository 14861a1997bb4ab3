"""SIGTERM (what every timeout sends) is handled like Ctrl-C: exit 143 (128 + 15), temporary files
and the workers' folder removed, forked workers terminated, the previous report untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PREVIOUS = b'{"not": "a report, but the previous file: it must stay byte for byte"}\n'


def _generate(tmp_path_factory, name: str, vaults: int, subscriptions: int, assignments: int) -> Path:
    out = tmp_path_factory.mktemp("estate") / name
    subprocess.run([sys.executable, str(ROOT / "bench" / "generate_estate.py"), "--out", str(out),
                    "--vaults", str(vaults), "--subscriptions", str(subscriptions),
                    "--role-assignments", str(assignments), "--quiet"], check=True, timeout=180)
    return out


@pytest.fixture(scope="module")
def estate(tmp_path_factory):
    return _generate(tmp_path_factory, "snap", 3000, 4, 6000)


@pytest.fixture(scope="module")
def big_estate(tmp_path_factory):
    """Enough findings (about 45,000) for the spreadsheet's Findings table to be made in runs."""
    return _generate(tmp_path_factory, "big", 8000, 8, 16000)


def children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(condition, proc, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = condition()
        if got:
            return got
        if proc.poll() is not None:
            pytest.fail(f"the run ended (exit {proc.returncode}) before the phase to interrupt")
        time.sleep(0.005)
    pytest.fail("the phase to interrupt never came")


def _terminated(snapshot: Path, tmp_path: Path, formats: str, workers: str, reached) -> None:
    """Audit ``snapshot``, SIGTERM it once ``reached(proc, out, tmp)`` gives the processes to watch
    (truthy), and check the clean-up: exit 143, one line of stderr, no new or temporary file, the
    previous report byte for byte, every forked process gone."""
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    out.mkdir()
    tmp.mkdir()
    (out / "kv-audit-report.json").write_bytes(PREVIOUS)
    env = {**os.environ, "KV_AUDIT_WORKERS": workers, "TMPDIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-m", "audit_function.cli.main", "audit", "--snapshot", str(snapshot),
                             "--out", str(out), "--format", formats], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        reached(proc, out, tmp)
        forked = children_of(proc.pid)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 143, stderr.decode()
    assert b"Traceback" not in stderr and b"terminated" in stderr, stderr.decode()
    assert len(stderr.decode().strip().splitlines()) <= 2, stderr.decode()
    assert sorted(p.name for p in out.iterdir()) == ["kv-audit-report.json"]  # no temp file, no new report
    assert (out / "kv-audit-report.json").read_bytes() == PREVIOUS
    assert not any(tmp.iterdir()), list(tmp.iterdir())  # workers' folder and spools gone
    time.sleep(0.2)
    assert not [pid for pid in forked if alive(pid)], "orphaned worker processes"


@pytest.mark.skipif(not hasattr(os, "fork") or not Path("/proc").is_dir(), reason="forked workers, /proc")
@pytest.mark.parametrize("phase", ["workers", "writing"])
def test_sigterm_cleans_up_and_exits_143(estate, tmp_path, phase):
    def reached(proc, out, tmp):   # the parent and two forked workers, or the reports being written
        if phase == "workers":
            wait_for(lambda: list(tmp.glob("kv-audit-workers-*")) and len(children_of(proc.pid)) >= 2, proc)
        else:
            wait_for(lambda: list(out.glob(".kv-audit-report.*.tmp")), proc)

    _terminated(estate, tmp_path, "json,xlsx", "3", reached)


@pytest.mark.skipif(not hasattr(os, "fork") or not Path("/proc").is_dir(), reason="forked processes, /proc")
def test_sigterm_while_the_spreadsheet_is_made_in_runs(big_estate, tmp_path):
    """The spreadsheet's run processes (reports/xlsx_runs.py) are terminated and reaped too."""
    def reached(proc, out, tmp):
        wait_for(lambda: list(tmp.glob("kv-audit-workers-*")), proc, timeout=120)   # the vault pass ...
        wait_for(lambda: not list(tmp.glob("kv-audit-workers-*")), proc, timeout=120)  # ... is over
        wait_for(lambda: children_of(proc.pid), proc, timeout=120)   # only run processes fork now

    _terminated(big_estate, tmp_path, "xlsx", "2", reached)
