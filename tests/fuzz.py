"""Mutated snapshots for the fuzz suite (tests/test_fuzz.py, bounded) and bench/fuzz_snapshots.py (long).

A mutation takes the demo snapshot and replaces one value somewhere in one row (or the row
itself, or the manifest) with something hostile: a wrong type, control characters, deep nesting,
huge numbers, a cut line. An audit of the result must end with a documented exit status (0-3),
never 4 (a bug), and any report it writes must be valid against the shipped schema.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
from pathlib import Path

from audit_function.data.demo import __file__ as _demo_init

DEMO = Path(_demo_init).parent
TABLES = ("subscriptions", "management_groups", "role_definitions", "principals", "vaults", "role_assignments")
HOSTILE = [None, True, 0, -1, 10**30, 1.5e308, "", "x", "\x1b[2J$(touch PWNED)\n", "--help", [], {}, [None], {"": None},
           ["a", 1, None], {"k": {"k": {"k": []}}}, "/subscriptions/", "/subscriptions/x/resourceGroups/",
           "/providers/Microsoft.Management/managementGroups/", "*", "\ud800", "😀" * 50]


def demo_tables() -> dict[str, list[str]]:
    return {t: (DEMO / f"{t}.jsonl").read_text(encoding="utf-8").splitlines() for t in TABLES
            if (DEMO / f"{t}.jsonl").exists()}


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _paths(item, prefix + (n,))


def _replace(value, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = _replace(value[head], rest, new)
    return copy


def mutate(tables: dict[str, list[str]], rng: random.Random) -> tuple[dict[str, list[str]], str]:
    """One mutation of ``tables`` (JSON lines per table) and a description of it."""
    table = rng.choice(sorted(tables))
    lines = list(tables[table])
    if not lines:
        return tables, "nothing"
    n = rng.randrange(len(lines))
    kind = rng.random()
    if kind < 0.08:
        lines[n] = lines[n][: rng.randrange(len(lines[n]))]
        what = f"{table}:{n + 1} cut"
    elif kind < 0.15:
        depth = rng.choice([100, 300, 1_100])
        lines[n] = lines[n][:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
        what = f"{table}:{n + 1} nested {depth} deep"
    elif kind < 0.2:
        lines.append(lines[n])
        what = f"{table}:{n + 1} duplicated"
    else:
        try:
            row = json.loads(lines[n])
        except (ValueError, RecursionError):  # already cut, or nested too deep to parse, by an earlier mutation
            return tables, f"{table}:{n + 1} left cut"
        paths = list(_paths(row))
        path = rng.choice(paths)
        new = rng.choice(HOSTILE)
        try:
            lines[n] = json.dumps(_replace(row, path, new))
        except (UnicodeEncodeError, ValueError):
            lines[n] = json.dumps(_replace(row, path, None))
        what = f"{table}:{n + 1} {'/'.join(map(str, path))} = {new!r:.40}"
    return {**tables, table: lines}, what


def write(tables: dict[str, list[str]], directory: Path, manifest: dict | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for table, lines in tables.items():
        (directory / f"{table}.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8",
                                                  errors="surrogatepass")
    if manifest is not None:
        (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return directory


def audit(snapshot: Path, out: Path) -> tuple[int, str, dict | None]:
    """Run the CLI in-process; (exit status, stderr, the JSON report if one was written)."""
    from audit_function.cli.main import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["audit", "--snapshot", str(snapshot), "--out", str(out), "--format", "json"])
    path = out / "kv-audit-report.json"
    return code, err.getvalue(), json.loads(path.read_text()) if path.exists() else None
