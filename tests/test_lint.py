"""Static checks: pyflakes-class errors (undefined names, unused imports, syntax) fail the suite."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_no_errors():
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run([str(ruff), "check", "--select", "E9,F", "--output-format", "concise",
                           "audit_function", "rules", "reports", "function_app.py", "bench", "tests"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
