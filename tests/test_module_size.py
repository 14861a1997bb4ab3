"""Modules stay small: no source module of kv-audit is over 400 lines (data and tests aside).

Counted: the installed packages (``audit_function/`` without its ``data/``, ``rules/``,
``reports/``), ``function_app.py``, and the developer tools in ``tools/`` and ``bench/``.
"""

from __future__ import annotations

from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
LIMIT = 400
SOURCES = ("audit_function", "rules", "reports", "tools", "bench")
EXCLUDED = ("audit_function/data/",)


def source_modules(root: Path = ROOT) -> list[Path]:
    found = [root / "function_app.py"]
    for folder in SOURCES:
        found += sorted((root / folder).rglob("*.py"))
    return [p for p in found if not any(str(p.relative_to(root)).startswith(e) for e in EXCLUDED)]


def too_long(paths, limit: int = LIMIT) -> list[str]:
    out = []
    for path in paths:
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            out.append(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {lines} lines")
    return out


def test_modules_are_counted():
    names = {str(p.relative_to(ROOT)) for p in source_modules()}
    assert {"function_app.py", "audit_function/vocabulary.py", "rules/base.py", "reports/json_report.py"} <= names
    assert not any(n.startswith("audit_function/data/") for n in names)


def test_no_module_is_over_the_limit():
    assert too_long(source_modules()) == []


def test_a_long_module_is_reported(tmp_path):
    long = tmp_path / "long.py"
    long.write_text("x = 1\n" * (LIMIT + 1), encoding="utf-8")
    short = tmp_path / "short.py"
    short.write_text("x = 1\n" * LIMIT, encoding="utf-8")
    assert too_long([long, short]) == [f"{long}: {LIMIT + 1} lines"]
