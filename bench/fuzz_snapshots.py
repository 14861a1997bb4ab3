"""Long-mode fuzzing: audit N mutated demo snapshots (default 10,000); count exit statuses and
report every internal error (exit 4), traceback or schema-invalid report. Exit 1 if any.

    .venv/bin/python bench/fuzz_snapshots.py --examples 10000 [--seed 1]
    # the same 10,000 in two processes: --examples 5000 --offset 0 / --examples 5000 --offset 5000
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jsonschema  # noqa: E402

from tests import fuzz  # noqa: E402

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "reports" / "schema" / "report.schema.json").read_text())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--offset", type=int, default=0, help="first example number (split a long run)")
    args = ap.parse_args()
    tables = fuzz.demo_tables()
    manifest = json.loads((fuzz.DEMO / "manifest.json").read_text())
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    codes, bad = Counter(), []
    for n in range(args.offset, args.offset + args.examples):
        rng = random.Random(args.seed * 1_000_003 + n)
        mutated, what = tables, []
        for _ in range(rng.randint(1, 3)):
            mutated, one = fuzz.mutate(mutated, rng)
            what.append(one)
        with tempfile.TemporaryDirectory() as work:
            code, err, report = fuzz.audit(fuzz.write(mutated, Path(work) / "snap", manifest), Path(work) / "out")
        codes[code] += 1
        problem = None
        if code not in (0, 1, 2, 3) or "Traceback" in err:
            problem = err.strip()[:300]
        elif code != 2 and not validator.is_valid(report):
            problem = "report not schema-valid: " + next(validator.iter_errors(report)).message[:200]
        if problem:
            bad.append((n, what, problem))
            print(f"#{n} {what}: exit {code}: {problem}", file=sys.stderr)
    print(json.dumps({"examples": args.examples, "exitCodes": dict(sorted(codes.items())), "problems": len(bad)}))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
