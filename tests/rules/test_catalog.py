"""The rule catalog is complete: one module per catalog id, with full metadata and its own tests.

CATALOG is copied from the product contract, shared/spec/rules.md ("Rule catalog (product
contract)"), in its order: id -> (default severity, applies to). "Applies to" is "estate" for
rules about role assignments, otherwise the permission models of the vaults the rule runs on.
"""

import ast
import importlib
import string
from pathlib import Path

import pytest

from rules.base import MODELS, SEVERITIES

BOTH = ("rbac", "accessPolicy")
RBAC = ("rbac",)
POLICY = ("accessPolicy",)

CATALOG = {
    # Permission model (model in force)
    # applies to every vault but fires only on accessPolicy ones: running it on those alone is the same
    "access-policy-model": ("medium", POLICY),
    "dead-access-policy": ("low", RBAC),
    "stranded-access-policy": ("high", RBAC),
    "inert-role-assignment": ("medium", POLICY),
    # Privilege
    "self-grant-path": ("high", POLICY),
    "broad-data-role": ("high", "estate"),       # high at /, management group or subscription; medium at resource group
    "wildcard-custom-role": ("medium", "estate"),
    "full-access-policy": ("medium", POLICY),
    # Network exposure
    "public-network-open": ("high", BOTH),
    "firewall-allows-any": ("high", BOTH),
    "public-with-private-endpoint": ("medium", BOTH),
    "no-private-endpoint": ("low", BOTH),
    # Recovery
    "soft-delete-disabled": ("medium", BOTH),
    "purge-protection-disabled": ("medium", BOTH),
    # Tenancy and identity
    "vault-tenant-mismatch": ("high", BOTH),
    "cross-tenant-access-policy": ("medium", POLICY),
    "compound-identity-policy": ("low", POLICY),
    # Migration readiness
    "migration-gap": ("low", POLICY),
    "latent-grant": ("medium", POLICY),
}

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "rules"
TESTS_DIR = ROOT / "tests" / "rules"


def module_name(rule_id: str) -> str:
    return rule_id.replace("-", "_")


def declared_id(path: Path) -> str | None:
    """The ``id=`` of the ``RuleMeta(...)`` call in a module's source (read without importing it)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "RuleMeta":
            if node.args and isinstance(node.args[0], ast.Constant):
                return node.args[0].value
            for keyword in node.keywords:
                if keyword.arg == "id" and isinstance(keyword.value, ast.Constant):
                    return keyword.value.value
    return None


def imported_rule_modules(path: Path) -> set[str]:
    """Rule modules a test file imports (``from rules import x``, ``from rules.x import ...``, ``import rules.x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "rules":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rules."):
            found.add(node.module.split(".", 1)[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".", 1)[1] for a in node.names if a.name.startswith("rules."))
    return found


def test_catalog_has_19_distinct_ids():
    assert len(CATALOG) == 19
    assert all(severity in SEVERITIES for severity, _ in CATALOG.values())


@pytest.mark.parametrize("rule_id", list(CATALOG))
def test_exactly_one_module_declares_the_id(rule_id):
    expected = RULES_DIR / f"{module_name(rule_id)}.py"
    assert expected.exists(), f"rules/{expected.name} is missing"
    declaring = sorted(p.name for p in RULES_DIR.glob("*.py") if declared_id(p) == rule_id)
    assert declaring == [expected.name], f"{rule_id} is declared by {declaring}"


@pytest.mark.parametrize("rule_id", list(CATALOG))
def test_metadata_is_complete_and_matches_the_catalog(rule_id):
    if not (RULES_DIR / f"{module_name(rule_id)}.py").exists():
        pytest.fail(f"rules/{module_name(rule_id)}.py is missing")
    meta = importlib.import_module(f"rules.{module_name(rule_id)}").META
    severity, applies = CATALOG[rule_id]
    assert meta.id == rule_id
    assert meta.severity == severity
    for name in ("title", "subject", "rationale", "remediation"):
        value = getattr(meta, name)
        assert isinstance(value, str) and value.strip(), f"{rule_id}: META.{name} is empty"
    assert isinstance(meta.references, tuple) and meta.references, f"{rule_id}: no reference"
    assert all(isinstance(r, str) and r.strip() for r in meta.references)
    # every {placeholder} is a plain name, so finding() can fill it
    fields = [f for _, f, _, _ in string.Formatter().parse(meta.remediation) if f is not None]
    assert all(f.isidentifier() for f in fields), f"{rule_id}: odd placeholders {fields}"
    if applies == "estate":
        assert meta.applies_to == "estate"
    else:
        assert meta.applies_to == "vault"
        assert set(meta.models) == set(applies) and set(meta.models) <= set(MODELS)
    assert callable(getattr(importlib.import_module(f"rules.{module_name(rule_id)}"), "evaluate", None))


@pytest.mark.parametrize("rule_id", list(CATALOG))
def test_each_rule_has_its_own_test_file(rule_id):
    module = module_name(rule_id)
    path = TESTS_DIR / f"test_{module}.py"
    assert path.exists(), f"tests/rules/{path.name} is missing"
    text = path.read_text(encoding="utf-8")
    assert rule_id in text or module in imported_rule_modules(path), \
        f"{path.name} neither mentions {rule_id!r} nor imports rules.{module}"


def test_all_rules_lists_every_catalog_rule_exactly_once():
    import rules

    ids = [rule.META.id for rule in rules.ALL_RULES]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert duplicates == [], f"listed more than once: {duplicates}"
    assert sorted(set(CATALOG) - set(ids)) == [], "missing from ALL_RULES"
    assert sorted(set(ids) - set(CATALOG)) == [], "not catalog rules"
    assert rules.RULE_IDS == tuple(ids)


def test_all_rules_is_in_catalog_order():
    import rules

    ids = [rule.META.id for rule in rules.ALL_RULES]
    assert ids == [i for i in CATALOG if i in ids]
