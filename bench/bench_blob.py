"""Benchmark the Blob sink's memory: publish a streamed ~1 GB report to Azurite and measure peak RSS.

    .venv/bin/python bench/bench_blob.py                 # 1 GiB report, results -> bench/results/blob.md
    .venv/bin/python bench/bench_blob.py --mib 64 --no-write

Starts Azurite (node_modules/.bin/azurite-blob, as the test suite does) on a free loopback port
with its data in a temporary folder, then in this process: notes the resident set size (VmRSS),
publishes one streamed JSON report (chunks produced on demand, 64 KiB each, never held whole) plus
a small spreadsheet through BlobSink (dated copy, then latest/: the report is uploaded twice), and
reads the peak (VmHWM). The difference is what publishing added. It then checks the size and a
sample of the stored bytes. Target: < 200 MB above the rest of the run.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine import cpu_model  # noqa: E402

from audit_function.sinks.blob_blocks import BLOCK_SIZE  # noqa: E402
from audit_function.vocabulary import StreamedFile  # noqa: E402
from audit_function.sinks.blob import BlobSink  # noqa: E402
from tests.function.conftest import AZURITE, _stop, _wait_for_port, connection_string, free_port  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "blob.md"
TARGET_MB = 200
CHUNK = 64 * 1024


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def report_chunks(total: int):
    """A JSON document of ``total`` bytes, produced 64 KiB at a time (distinct content per chunk)."""
    head, tail = b'{"findings": [', b"]}"
    yield head
    left, n = total - len(head) - len(tail), 0
    while left > 0:
        row = b'{"id": "%08d", "pad": "' % n
        body = row + hashlib.sha256(str(n).encode()).hexdigest().encode() * ((CHUNK - len(row) - 3) // 64)
        chunk = (body + b'"},')[:left]
        yield chunk
        left -= len(chunk)
        n += 1
    yield tail


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=1024, help="report size in MiB (default 1024)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    total = args.mib * 1024 * 1024
    report = {"run": {"id": "bench-blob", "startedAt": datetime.now(timezone.utc).isoformat(), "complete": True}}
    with tempfile.TemporaryDirectory(prefix="bench-blob-") as data:
        port = free_port()
        proc = subprocess.Popen([str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location",
                                 data, "--silent", "--disableTelemetry", "--skipApiVersionCheck"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            _wait_for_port(port, proc)
            sink = BlobSink.from_connection_string(connection_string(port), "bench", create_container=True)
            files = {"kv-audit-report.json": StreamedFile(lambda: report_chunks(total)),
                     "kv-audit-report.xlsx": b"PK\x03\x04 small workbook"}
            before = status_kib("VmRSS")
            started, cpu = time.perf_counter(), time.process_time()
            sink.publish(files, report)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            peak = status_kib("VmHWM")
            blob = sink.container.get_blob_client("latest/kv-audit-report.json")
            size = blob.get_blob_properties().size
            first = blob.download_blob(offset=0, length=CHUNK * 2).readall()
            expected = b"".join(c for _, c in zip(range(4), report_chunks(total)))[:CHUNK * 2]
            blocks = len(blob.get_block_list("committed")[0])
            sink.container.close()
        finally:
            _stop(proc)
    assert size == total, f"stored {size} bytes, expected {total}"
    assert first == expected, "stored bytes differ from the streamed report"
    delta_mb = (peak - before) * 1024 / 1e6
    verdict = "meets" if delta_mb < TARGET_MB else "MISSES"
    print(f"report {total / 2**20:.0f} MiB uploaded twice in {seconds:.1f} s (CPU {cpu:.1f} s), {blocks} blocks of "
          f"{BLOCK_SIZE // 2**20} MiB; RSS before {before / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB: "
          f"+{delta_mb:.0f} MB ({verdict} the < {TARGET_MB} MB target)")
    if not args.no_write:
        RESULTS.write_text(f"""# Blob sink memory benchmark

Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  
Machine: `nproc` {os.cpu_count()}, `uname -m` {platform.machine()}, CPU {cpu_model()}  
Python {platform.python_version()}, Azurite from node_modules (loopback, data on local disk)  
Command: `.venv/bin/python bench/bench_blob.py --mib {args.mib}`

Input: one streamed JSON report of {total:,} bytes ({args.mib} MiB, produced in 64 KiB chunks on demand)
plus a small spreadsheet, published with `BlobSink.publish` (dated copy, then `latest/`: the report is
uploaded twice, each time as {blocks} staged blocks of {BLOCK_SIZE // 2**20} MiB and one Put Block List).

| report (MiB) | publish wall time (s) | CPU time (s) | RSS before (MiB) | peak RSS (MiB) | added by publishing (MB) |
|---|---|---|---|---|---|
| {args.mib} | {seconds:.1f} | {cpu:.1f} | {before / 1024:.0f} | {peak / 1024:.0f} | {delta_mb:.0f} |

Peak RSS is the process's high-water mark (VmHWM) after publishing; "added" is peak minus the RSS just
before `publish`. Target < {TARGET_MB} MB: {verdict}. The stored blob's size and first bytes were checked
against the stream.
""")
    return 0 if delta_mb < TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
