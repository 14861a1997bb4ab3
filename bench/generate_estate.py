#!/usr/bin/env python3
"""Synthetic estate generator: a large, realistic snapshot directory for benchmarks and tests.

    python bench/generate_estate.py --vaults 100000 --subscriptions 10000 \\
        --role-assignments 1000000 --out /tmp/estate [--seed N] [--gzip] [--principals]
    python bench/generate_estate.py --small --out /tmp/small      # tiny preset for tests

Writes the snapshot format of ``docs/contracts/snapshot.md`` (``vaults``, ``subscriptions``,
``management_groups``, ``role_assignments``, ``role_definitions`` and optionally ``principals``
as ``.jsonl`` or ``.jsonl.gz``, plus ``manifest.json``), every row shaped like an Azure Resource
Graph ``objectArray`` row (``type`` lower-cased, ids in ARM casing), the same shapes as the demo
estate (``audit_function/data/demo``).

What it looks like
- a management-group tree six levels deep: tenant root -> contoso -> platform / landing-zones /
  sandbox / decommissioned -> corp / online -> one MG per business unit -> prod / nonprod;
- subscriptions under the leaves (platform subscriptions first), vaults spread over
  subscriptions (skewed: a few shared subscriptions hold many vaults) and their resource groups;
- vault generations: old vaults missing properties, access-policy vaults, RBAC vaults, odd
  casings, network settings from wide open to private-endpoint only, 0..~40 access-policy
  entries (a few with 200..1024), permission sets from Microsoft's migration-guide templates,
  foreign-tenant and compound-identity entries;
- role assignments: mostly on non-vault resources (storage, web apps, VMs, SQL, registries, ...)
  and resource groups, then subscriptions, management groups, a handful at ``/``, vault-scoped and
  object-scoped (``.../vaults/v/secrets/s``), with the roles usually seen at each scope;
- role definitions: the built-in catalog (``audit_function/data/builtin_roles.json``, converted to
  ARG rows) plus a few hundred custom roles, a few of them with Key Vault wildcards;
- principals (``--principals``): users, groups and service principals with transitive groups.

Everything derives from ``--seed`` (same seed, same bytes). Rows are written as they are made:
memory stays flat (the only per-estate state is the subscription and principal id lists).
Ids that several tables share (vault ids, principals) are pure functions of an index, so no table
is kept to build another. Rows are formatted with plain string templates (all values come from
fixed vocabularies; nothing needs JSON escaping); ``--gzip`` compresses on a writer thread
(zlib releases the GIL), so formatting and compression can overlap when two cores are free.

Measured in this project's container (2 vCPUs, shared with other work, so effectively about one
core: two busy threads or processes ran no faster than one), Python 3.11, ``/usr/bin/time``
wall clock, defaults (300 custom roles, no principals):

    --vaults 100000 --subscriptions 10000 --role-assignments 1000000
        plain:  10.7-11.3 s wall (20.7 s at load average 5), 57-65 MB max RSS; 1.26 GB in all:
                role_assignments.jsonl 1,035 MB (~1 KB a row, like real ARG rows),
                vaults.jsonl 218 MB, subscriptions 6.4 MB, role_definitions 1.3 MB
                (928 built-in + 300 custom), management_groups 0.4 MB (611 MGs)
        --gzip: 17-32 s wall depending on load, ~100 MB max RSS; 220 MB in all:
                role_assignments.jsonl.gz 191 MB, vaults.jsonl.gz 29 MB
        --principals adds 50,000 principals (4.9 MB gzipped) in about 1 s
    --small (300 vaults, 25 subscriptions, 3,000 assignments, 20 custom roles): 0.3 s, 4.8 MB
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script or imported: the siblings import
from estate_rows import write_management_groups, write_principals, write_role_assignments, write_role_definitions, write_subscriptions, write_vaults  # noqa: E402  (a sibling module: bench/ is on sys.path)
from estate_shapes import COLLECTED_AT, Estate, FORMAT, SMALL, Writer, load_builtin_roles  # noqa: E402  (a sibling module: bench/ is on sys.path)




def generate(out: Path, *, vaults: int, subscriptions: int, role_assignments: int, seed: int = 1,
             compress: bool = False, principals: bool = False, custom_roles_count: int = 300,
             log=None) -> dict:
    """Write the snapshot into ``out``; returns the manifest."""
    if subscriptions < 1:
        raise ValueError("--subscriptions must be at least 1")
    if min(vaults, role_assignments, custom_roles_count) < 0:
        raise ValueError("counts must not be negative")
    out.mkdir(parents=True, exist_ok=True)
    builtins = load_builtin_roles()
    role_guids = {r["roleName"]: r["name"] for r in builtins}
    est = Estate(seed, vaults, subscriptions, role_assignments, custom_roles_count)
    ext = ".jsonl.gz" if compress else ".jsonl"
    steps = [("management_groups", lambda w: write_management_groups(est, w)),
             ("subscriptions", lambda w: write_subscriptions(est, w)),
             ("role_definitions", lambda w: write_role_definitions(est, w, builtins)),
             ("vaults", lambda w: write_vaults(est, w)),
             ("role_assignments", lambda w: write_role_assignments(est, w, role_guids))]
    if principals:
        steps.append(("principals", lambda w: write_principals(est, w)))
    for table in ("principals", "vaults", "subscriptions", "management_groups", "role_assignments",
                  "role_definitions"):  # a stale file of the other flavour would be read too
        for stale in (out / f"{table}.jsonl", out / f"{table}.jsonl.gz"):
            if stale.exists():
                stale.unlink()
    counts = {}
    for table, fn in steps:
        t0 = time.perf_counter()
        w = Writer(out / f"{table}{ext}", compress)
        try:
            fn(w)
        finally:
            w.close()
        counts[table] = w.rows
        if log:
            log(f"{table}: {w.rows:,} rows, {os.path.getsize(w.path) / 1e6:,.1f} MB, "
                f"{time.perf_counter() - t0:.1f} s")
    manifest = {"format": FORMAT, "collectedAt": COLLECTED_AT, "source": "synthetic",
                "scope": {"tenantId": est.tenant, "managementGroups": [est.tenant], "subscriptions": [],
                          "generator": {"seed": seed, "vaults": vaults, "subscriptions": subscriptions,
                                        "roleAssignments": role_assignments,
                                        "customRoles": custom_roles_count}},
                "tables": counts, "complete": True, "gaps": []}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="snapshot directory to write")
    ap.add_argument("--vaults", type=int)
    ap.add_argument("--subscriptions", type=int)
    ap.add_argument("--role-assignments", type=int)
    ap.add_argument("--custom-roles", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gzip", action="store_true", help="write .jsonl.gz")
    ap.add_argument("--principals", action="store_true", help="also write principals.jsonl")
    ap.add_argument("--small", action="store_true",
                    help="tiny preset for tests (%(vaults)d vaults, %(subscriptions)d subscriptions, "
                         "%(role_assignments)d assignments); explicit counts still win" % SMALL)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    base = SMALL if args.small else {"vaults": 100_000, "subscriptions": 10_000, "role_assignments": 1_000_000,
                                     "custom_roles": 300}
    pick = lambda name: getattr(args, name) if getattr(args, name) is not None else base[name]  # noqa: E731
    t0 = time.perf_counter()
    log = None if args.quiet else (lambda msg: print(msg, file=sys.stderr))
    try:
        generate(args.out, vaults=pick("vaults"), subscriptions=pick("subscriptions"),
                 role_assignments=pick("role_assignments"), seed=args.seed, compress=args.gzip,
                 principals=args.principals, custom_roles_count=pick("custom_roles"), log=log)
    except ValueError as exc:
        ap.error(str(exc))
    if log:
        log(f"done in {time.perf_counter() - t0:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
