#!/usr/bin/env python3
"""The HTML summary of a 100,000-vault estate in headless Chromium: does the page stay usable?

    .venv/bin/python bench/bench_html.py                      # 100k vaults, 10k subs, 1M assignments
    .venv/bin/python bench/bench_html.py --snapshot DIR       # an existing snapshot

Runs ``kv-audit audit --snapshot DIR --format html`` (the real pipeline), then opens the page
in Debian's headless chromium three times (plain, with a search filter in the URL fragment,
with a sort), and records the wall time of each browser run (browser start included) and the
page's own ``performance.now()`` when its script had applied the filter (``data-ready``).
Target (issue 17): the page opens in under 5 s. Writes ``bench/results/html.md``
(``--no-write`` to skip).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from machine import cpu_model

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "html.md"
TARGET_S = 5.0
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--dump-dom")


def open_page(page: Path, fragment: str) -> tuple[float, int, int, list[str]]:
    """(wall s, data-ready ms, visible rows, console lines) of one headless chromium run."""
    with tempfile.TemporaryDirectory(prefix="kv-audit-bench-chromium-") as profile:
        started = time.monotonic()
        done = subprocess.run(["chromium", *FLAGS, f"--user-data-dir={profile}",
                               page.resolve().as_uri() + (f"#{fragment}" if fragment else "")],
                              capture_output=True, text=True, timeout=300, check=True)
        wall = time.monotonic() - started
    ready = re.search(r'data-ready="(\d+)"', done.stdout)
    rows = len(re.findall(r"<tr data-severity=[^>]*>", done.stdout)) - len(re.findall(r"<tr data-severity=[^>]* hidden[^>]*>", done.stdout))
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return wall, int(ready.group(1)) if ready else -1, rows, console


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--snapshot", type=Path)
    ap.add_argument("--vaults", type=int, default=100_000)
    ap.add_argument("--subscriptions", type=int, default=10_000)
    ap.add_argument("--role-assignments", type=int, default=1_000_000)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if not shutil.which("chromium"):
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    load = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="kv-audit-bench-html-"))
    try:
        snapshot = args.snapshot
        command = None
        if snapshot is None:
            snapshot = work / "snapshot"
            command = [sys.executable, str(HERE / "generate_estate.py"), "--out", str(snapshot), "--vaults",
                       str(args.vaults), "--subscriptions", str(args.subscriptions), "--role-assignments",
                       str(args.role_assignments)]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        out = work / "out"
        started = time.monotonic()
        audit = subprocess.run([str(ROOT / ".venv" / "bin" / "kv-audit"), "audit", "--snapshot", str(snapshot),
                                "--out", str(out), "--format", "html"], capture_output=True, text=True)
        audit_s = time.monotonic() - started
        if audit.returncode not in (0, 3):
            print(audit.stderr, file=sys.stderr)
            return 1
        page = out / "kv-audit-report.html"
        size = page.stat().st_size
        runs = {name: open_page(page, fragment) for name, fragment in
                (("plain", ""), ("filter", "severity=high&status=new"), ("sort", "sort=owner&dir=desc"),
                 ("page 3", "page=3"))}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = audit.stdout.strip().splitlines()[0] if audit.stdout.strip() else ""
    lines = [
        f"# HTML summary benchmark ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)", "",
        f"Machine: {os.cpu_count()} CPUs ({cpu_model()}, {platform.machine()}), Python {platform.python_version()}. "
        f"Command: `.venv/bin/python bench/bench_html.py{''.join(' ' + a for a in (argv if argv is not None else sys.argv[1:]))}`. "
        f"Load average at the start: {load:.1f} (other work on the machine slows the browser).", "",
        f"Estate: {args.vaults:,} vaults, {args.subscriptions:,} subscriptions, {args.role_assignments:,} role "
        f"assignments (bench/generate_estate.py)" if args.snapshot is None else f"Snapshot: {args.snapshot}", "",
        f"Audit (`kv-audit audit --snapshot … --format html`): {audit_s:.1f} s. {summary}", "",
        f"Page: {size / 1e6:.1f} MB (findings table capped at 5,000 rows with a marker pointing to the JSON, "
        "250 rows laid out per page).", "",
        "| browser run | wall (chromium start to DOM dump) | page script done (performance.now) | rows on the page | console messages | target < 5 s |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, (wall, ready, rows, console) in runs.items():
        lines.append(f"| {name} | {wall:.2f} s | {ready} ms | {rows:,} | {len(console)} | "
                     f"{'yes' if wall < TARGET_S and 0 <= ready < TARGET_S * 1000 else 'NO'} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        RESULTS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
