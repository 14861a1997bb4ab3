#!/usr/bin/env python3
"""Scale benchmark: audit a synthetic estate from a snapshot and compare with the parse floor.

    .venv/bin/python bench/bench_audit.py                      # 100k vaults, 10k subs, 1M assignments
    .venv/bin/python bench/bench_audit.py --vaults 10000 --subscriptions 1000 --role-assignments 100000
    .venv/bin/python bench/bench_audit.py --snapshot DIR       # an existing snapshot

Measures, in one run:
1. the parse floor: reading every line of every table file and decoding it with the same JSON
   parser the audit uses (orjson), nothing else; the standard library's json is timed too, for
   reference;
2. the audit: ``kv-audit audit --snapshot DIR --format json`` in a child process (wall time and
   peak RSS from the kernel's accounting of that process), the way a user runs it.

Targets (issue 12, triage at estate scale): wall <= 30 s, peak memory <= 2 GB, the JSON report no larger
than the snapshot, a second run into the same folder within 10 % of the first; audit <= 3 x the parse
floor is the goal.
Writes the figures to ``bench/results/audit.md`` (``--no-write`` to skip).
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import orjson
from machine import cpu_model

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET_WALL_S, TARGET_RSS_MB, TARGET_RATIO, TARGET_SECOND = 30.0, 2048.0, 3.0, 1.10


def parse_floor(directory: Path, loads) -> tuple[float, int]:
    started = time.perf_counter()
    rows = 0
    for path in sorted(glob.glob(str(directory / "*.jsonl*"))):
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as handle:
            for line in handle:
                if line.strip():
                    loads(line)
                    rows += 1
    return time.perf_counter() - started, rows


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                todo.extend(int(c) for c in Path(f"/proc/{current}/task/{task}/children").read_text().split())
        except OSError:
            pass
    return pids


def _pss_mb(pids: list[int]) -> float:
    """Proportional set size of a process tree: shared (copy-on-write) pages counted once in total."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            pass
    return total / 1024


def run_audit(directory: Path, out: Path) -> dict:
    """Run the audit; wall time, peak RSS of the largest process, peak PSS of the whole process tree."""
    exe = Path(sys.executable).with_name("kv-audit")
    started = time.perf_counter()
    child = subprocess.Popen([str(exe), "audit", "--snapshot", str(directory), "--out", str(out), "--format", "json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_tree = 0.0
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        peak_tree = max(peak_tree, _pss_mb(_tree(child.pid)))
        time.sleep(0.25)
    wall = time.perf_counter() - started
    stdout, stderr = child.stdout.read(), child.stderr.read()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1, 3):
        raise SystemExit(f"audit failed with exit {code}:\n{stderr}")
    return {"wall": wall, "rss_mb": usage.ru_maxrss / 1024, "tree_mb": peak_tree, "exit": code,
            "stdout": stdout.strip()}


def machine() -> str:
    cpu = cpu_model()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} CPUs ({cpu}, {platform.machine()}), {mem:.0f} GiB RAM, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vaults", type=int, default=100_000)
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--role-assignments", type=int, default=1_000_000)
    parser.add_argument("--snapshot", type=Path, help="use this snapshot instead of generating one")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="do not update bench/results/audit.md")
    parser.add_argument("--week-over-week", action="store_true",
                        help="audit a second time into the same folder: the steady state, with a previous report to diff")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kv-audit-bench-"))
    try:
        directory = args.snapshot
        gen_s = None
        if directory is None:
            directory = work / "snapshot"
            started = time.perf_counter()
            subprocess.run([sys.executable, str(HERE / "generate_estate.py"), "--vaults", str(args.vaults),
                            "--subscriptions", str(args.subscriptions), "--role-assignments", str(args.role_assignments),
                            "--seed", str(args.seed), "--out", str(directory)], check=True, stdout=subprocess.DEVNULL)
            gen_s = time.perf_counter() - started
        size_mb = sum(p.stat().st_size for p in directory.iterdir()) / 2**20
        floor_s, rows = parse_floor(directory, orjson.loads)
        floor_std_s, _ = parse_floor(directory, json.loads)
        audit = run_audit(directory, work / "out")
        second = run_audit(directory, work / "out") if args.week_over_week else None
        report_mb = (work / "out" / "kv-audit-report.json").stat().st_size / 2**20
        findings = audit["stdout"].split(" findings")[0].rsplit(", ", 1)[-1]
        ratio = audit["wall"] / floor_s
        memory = max(audit["rss_mb"], audit["tree_mb"])
        ok = {"wall": audit["wall"] <= TARGET_WALL_S, "rss": memory <= TARGET_RSS_MB, "ratio": ratio <= TARGET_RATIO}
        when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        lines = [
            f"# Audit scale benchmark ({when})",
            "",
            f"Machine: {machine()}. Command: `.venv/bin/python bench/bench_audit.py"
            + (" --week-over-week" if args.week_over_week else "")
            + (f" --snapshot {args.snapshot}" if args.snapshot else
               f" --vaults {args.vaults} --subscriptions {args.subscriptions} --role-assignments {args.role_assignments}")
            + "`.",
            "",
            f"Estate: {args.vaults:,} vaults, {args.subscriptions:,} subscriptions, {args.role_assignments:,} role "
            f"assignments (bench/generate_estate.py, seed {args.seed}); {rows:,} rows, {size_mb:,.0f} MiB of JSON Lines"
            + (f"; generated in {gen_s:.1f} s" if gen_s else "") + ".",
            "",
            "| measure | value | target | met |",
            "|---|---:|---:|---|",
            f"| parse floor (orjson, the parser the audit uses) | {floor_s:.1f} s | | |",
            f"| parse floor with the standard library's json, for reference | {floor_std_s:.1f} s | | |",
            f"| audit wall time (`kv-audit audit --snapshot … --format json`) | {audit['wall']:.1f} s | ≤ {TARGET_WALL_S:.0f} s | {'yes' if ok['wall'] else 'NO'} |",
            f"| audit peak memory: the larger of the biggest process's RSS ({audit['rss_mb']:,.0f} MiB) and the whole "
            f"process tree's PSS sampled every 0.25 s ({audit['tree_mb']:,.0f} MiB) | {memory:,.0f} MiB | "
            f"≤ {TARGET_RSS_MB:,.0f} MiB | {'yes' if ok['rss'] else 'NO'} |",
            f"| audit / parse floor | {ratio:.1f}× | ≤ {TARGET_RATIO:.0f}× | {'yes' if ok['ratio'] else 'NO'} |",
            f"| audit / standard-library parse floor | {audit['wall'] / floor_std_s:.1f}× | | |",
            f"| findings | {findings} | | |",
            *([f"| second run into the same folder (reads the state file): wall / peak memory | "
               f"{second['wall']:.1f} s / {max(second['rss_mb'], second['tree_mb']):,.0f} MiB | within 10 % of the "
               f"first / ≤ {TARGET_RSS_MB:,.0f} MiB | "
               f"{'yes' if second['wall'] <= TARGET_SECOND * audit['wall'] and max(second['rss_mb'], second['tree_mb']) <= TARGET_RSS_MB else 'NO'} |"]
              if second else []),
            f"| JSON report | {report_mb:,.0f} MiB | ≤ snapshot ({size_mb:,.0f} MiB) | {'yes' if report_mb <= size_mb else 'NO'} |",
            "",
            f"Audit output: `{audit['stdout'].splitlines()[0] if audit['stdout'] else ''}` (exit {audit['exit']}).",
        ]
        text = "\n".join(lines) + "\n"
        print(text)
        if not args.no_write:
            out = HERE / "results" / "audit.md"
            out.parent.mkdir(exist_ok=True)
            out.write_text(text, encoding="utf-8")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
