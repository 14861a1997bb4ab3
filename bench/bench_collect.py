"""Benchmark: live collection through Resource Graph vs. the per-vault ARM approach.

Runs against the local fake endpoint (tests/fakes/arg_server.py) with ARG's quota simulated
(15 requests per 5 s window) and a fixed per-request latency. Time is simulated on a virtual
clock: the fake adds the latency and the collector's quota waits to that clock instead of
sleeping, so minutes of simulated collection take seconds of real time. Real (wall) time is
reported too; it measures this machine's work (fake + client), not Azure.

    .venv/bin/python bench/bench_collect.py [--vaults 100000] [--assignments 1000000] [--out bench/results/collect.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from azure.core.credentials import AccessToken  # noqa: E402

from audit_function.collect import LiveScope, collect_snapshot, queries  # noqa: E402
from audit_function.collect.filters import keep_role_assignment  # noqa: E402
from tests.fakes.arg_server import FakeArg, Faults  # noqa: E402
from tests.fakes.clock import VirtualClock  # noqa: E402
from tests.fakes.estate import synthetic_estate  # noqa: E402

QUOTA = (15, 5.0)


class Token:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("bench-token", int(time.time()) + 3600)


def pages(n: int) -> int:
    return max(1, math.ceil(n / 1000))


def run_arg(tables, latency, scope=LiveScope(), unfiltered=False):
    clock = VirtualClock()
    original = queries.query
    if unfiltered:  # the same query without the scope filter: every assignment crosses the wire
        ra = original("role_assignments").replace("| where not(", "| where true or not(")
        queries.query = lambda t: ra if t == "role_assignments" else original(t)
    try:
        with FakeArg(tables, clock=clock, faults=Faults(quota=QUOTA, latency_s=latency),
                     cert_dir=Path(tempfile.mkdtemp(prefix="bench-tls-"))) as fake:
            started = time.perf_counter()
            snap = collect_snapshot(scope, credential=Token(), endpoint=fake.url,
                                    connection_verify=str(fake.ca_path), sleep=clock.sleep, clock=clock.now)
            wall = time.perf_counter() - started
            assert fake.statuses.get(429, 0) == 0, "pacing should avoid 429s"
            return {"requests": fake.requests, "simulated_s": clock.now(), "wall_s": wall,
                    "waits": snap.manifest["throttleWaits"], "rows": snap.manifest["tables"],
                    "complete": snap.manifest["complete"]}
    finally:
        queries.query = original


def run_per_vault(tables, latency, sample):
    """One vaults.get and one role_assignments.list_for_scope per vault (the troubleshooting-guide
    way), for `sample` vaults spread over the estate; extrapolated to all vaults."""
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.keyvault import KeyVaultManagementClient

    clock = VirtualClock()
    vaults = tables["vaults"][:: max(1, len(tables["vaults"]) // sample)][:sample]
    with FakeArg(tables, clock=clock, faults=Faults(latency_s=latency),
                 cert_dir=Path(tempfile.mkdtemp(prefix="bench-tls-"))) as fake:
        kv_clients, auth_clients, seen = {}, {}, 0
        started = time.perf_counter()
        for vault in vaults:
            sub = vault["subscriptionId"]
            if sub not in kv_clients:
                common = dict(base_url=fake.url, connection_verify=str(fake.ca_path), retry_total=0)
                kv_clients[sub] = KeyVaultManagementClient(Token(), sub, **common)
                auth_clients[sub] = AuthorizationManagementClient(Token(), sub, **common)
            kv_clients[sub].vaults.get(vault["resourceGroup"], vault["name"])
            seen += sum(1 for _ in auth_clients[sub].role_assignments.list_for_scope(vault["id"].lstrip("/")))
        wall = time.perf_counter() - started
    n = len(vaults)
    return {"sample": n, "requests_per_vault": fake.arm_requests / n, "simulated_s_per_vault": clock.now() / n,
            "wall_s_per_vault": wall / n, "assignments_per_vault": seen / n}


def fmt_s(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subscriptions", type=int, default=1000)
    ap.add_argument("--vaults", type=int, default=100_000)
    ap.add_argument("--assignments", type=int, default=1_000_000)
    ap.add_argument("--latencies", default="0.2,1.0", help="simulated seconds per request, comma-separated")
    ap.add_argument("--sample", type=int, default=300, help="vaults read the per-vault way")
    ap.add_argument("--unfiltered", action="store_true", help="also run the role-assignment query without its filter")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "collect.md")
    args = ap.parse_args(argv)
    latencies = [float(x) for x in args.latencies.split(",")]

    t0 = time.perf_counter()
    tables = synthetic_estate(args.subscriptions, args.vaults, args.assignments, seed=2024)
    gen_s = time.perf_counter() - t0
    kept = {
        "subscriptions": len(tables["subscriptions"]), "management_groups": len(tables["management_groups"]),
        "role_definitions": len(tables["role_definitions"]), "vaults": len(tables["vaults"]),
        "role_assignments": sum(1 for r in tables["role_assignments"] if keep_role_assignment(r)),
    }
    all_rows = dict(kept, role_assignments=len(tables["role_assignments"]))
    min_kept = sum(pages(n) for n in kept.values())
    min_all = sum(pages(n) for n in all_rows.values())
    print(f"estate generated in {gen_s:.1f} s: {all_rows}; kept by the filter: {kept['role_assignments']} assignments",
          flush=True)

    subs = tuple(r["subscriptionId"] for r in tables["subscriptions"])
    runs = []
    for latency in latencies:
        for label, scope, unfiltered in [("ARG, all visible subscriptions (tenant scope)", LiveScope(), False),
                                         (f"ARG, --subscription x{len(subs)} (batches of 250)",
                                          LiveScope(subscriptions=subs), False)] + (
                [("ARG, tenant scope, role-assignment filter removed", LiveScope(), True)] if args.unfiltered else []):
            result = run_arg(tables, latency, scope, unfiltered)
            runs.append((latency, label, result))
            print(f"[{latency}s/request] {label}: {result}", flush=True)
    per_vault = {lat: run_per_vault(tables, lat, args.sample) for lat in latencies}
    for lat, pv in per_vault.items():
        print(f"[{lat}s/request] per-vault sample: {pv}", flush=True)

    lines = [
        "# Live collection benchmark (bench/bench_collect.py)",
        "",
        f"- Machine: `nproc` = {os.cpu_count()}, `uname -m` = {platform.machine()}, Python {platform.python_version()}",
        f"- Date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Estate (synthetic, `tests/fakes/estate.py`, seed 2024): {args.subscriptions:,} subscriptions, "
        f"{args.vaults:,} vaults, {args.assignments:,} role assignments, of which {kept['role_assignments']:,} "
        "can reach a vault ('/', management groups, subscriptions, resource groups, vaults and objects inside "
        "vaults); the rest sit on storage accounts, VMs, web apps, networks and SQL servers.",
        f"- Endpoint: the local HTTPS fake with ARG's quota simulated ({QUOTA[0]} requests per {QUOTA[1]:.0f} s "
        "window, `x-ms-user-quota-*` headers, 429 when exceeded) and a fixed latency per request.",
        "- **Time is simulated** on a virtual clock (latency and quota waits advance it; nothing sleeps). "
        "'Simulated' is what the run would take against an endpoint with that latency and quota; "
        "'real' is this machine's CPU time for the fake and the client.",
        f"- Minimum requests (one per 1,000 rows per table): {min_kept:,} for the rows the snapshot keeps; "
        f"{min_all:,} if every role assignment were fetched.",
        "",
        "| latency / request | approach | requests | vs. minimum (kept rows) | quota waits | simulated time | real time |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for latency, label, r in runs:
        lines.append(f"| {latency:g} s | {label} | {r['requests']:,} | {r['requests'] / min_kept:.3f} x | "
                     f"{r['waits']} | {fmt_s(r['simulated_s'])} | {fmt_s(r['wall_s'])} |")
    for lat, pv in per_vault.items():
        total_req = pv["requests_per_vault"] * args.vaults
        lines.append(f"| {lat:g} s | per vault: `vaults.get` + `role_assignments.list_for_scope` "
                     f"(extrapolated from {pv['sample']} vaults) | {total_req:,.0f} | "
                     f"{total_req / min_kept:.0f} x | n/a | {fmt_s(pv['simulated_s_per_vault'] * args.vaults)} | "
                     f"{fmt_s(pv['wall_s_per_vault'] * args.vaults)} |")
    lines += [
        "",
        "Notes",
        "",
        f"- Rows collected (tenant scope): {runs[0][2]['rows']}; every ARG run was complete and saw no 429.",
        "- The collector is sequential: one request at a time, pacing on `x-ms-user-quota-remaining` / "
        "`x-ms-user-quota-resets-after`. At 0.2 s per request the quota is the limit (3 requests/s); at 1 s "
        "per request the latency is, and the quota is never reached: the quota alone would allow the "
        f"{runs[0][2]['requests']} requests in {fmt_s(runs[0][2]['requests'] * QUOTA[1] / QUOTA[0])}, which only "
        "requests in parallel (not implemented) could approach.",
        "- Real time is mostly the fake endpoint (filtering a million rows per query, JSON encoding pages); "
        "the client's share is parsing about 1 MB of JSON per 1,000 vaults.",
        f"- Per-vault approach: {per_vault[latencies[0]]['requests_per_vault']:.2f} ARM requests per vault "
        f"(about {per_vault[latencies[0]]['assignments_per_vault']:.0f} role assignments listed per vault, "
        "inherited ones included). Not counted: discovering the vaults first (at least one list call per "
        "subscription) and ARM's own throttling, which the fake does not simulate, so the per-vault figures "
        "are a lower bound.",
        f"- Estate generation took {gen_s:.0f} s (not included above).",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
