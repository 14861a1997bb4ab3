"""The rule catalog is complete: rules.ALL_RULES matches the catalog-2 tables of docs/contracts/rules.md.

The tables are read from the contract itself (a copy of shared/spec/rules.md): every rule id once, in
catalog order, with its default severity and its subject. Every row of the tables is implemented
(PENDING is empty and must stay so: a new catalog row needs its module); the rules of the "Keys,
secrets, logging and Defender" section name the deeper tables they read.
"""

import ast
import importlib
import re
import string
from pathlib import Path

import pytest

import rules
from rules.base import MODELS, SEVERITIES, SUBJECTS

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "contracts" / "rules.md"
#: project rules beyond the catalog: their table is in the project's contract additions
ADDITIONS = ROOT / "docs" / "contracts" / "README.md"
RULES_DIR = ROOT / "rules"
TESTS_DIR = ROOT / "tests" / "rules"

#: catalog-2 rules not implemented yet (they read vault_objects, diagnostic_settings, defender_plans)
PENDING_SECTION = "Keys, secrets, logging and Defender"
PENDING: tuple[str, ...] = ()
#: the deeper-tables section, implemented by collect --deep (issue 16)
DEEP = ("key-expiry-missing", "secret-expiry-missing", "key-rotation-missing", "audit-logging-missing",
        "defender-for-key-vault-off")

#: the subject column's words -> rules.base.SUBJECTS
SUBJECT_WORDS = {"vault": "vault", "grant": "grant", "role definition": "roleDefinition",
                 "subscription": "subscription"}

BOTH = ("rbac", "accessPolicy")
RBAC = ("rbac",)
POLICY = ("accessPolicy",)
#: "every vault" rules that fire only on access-policy vaults: running them on those alone is the same
ONLY_FIRES_ON_POLICY_VAULTS = {"access-policy-model"}


def parse_catalog(text: str) -> list[dict]:
    """Every rule row of the contract's tables, in order: id, section, applies to, subject, severity."""
    rows, section = [], None
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        match = re.match(r"^\|\s*`([a-z0-9-]+)`\s*\|", line)
        if not match:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append({"id": match.group(1), "section": section, "applies": cells[1], "subject": cells[-2],
                     "severity": cells[-1].split()[0], "severityText": cells[-1]})
    return rows


CATALOG = parse_catalog(CONTRACT.read_text(encoding="utf-8"))
PROJECT = parse_catalog(ADDITIONS.read_text(encoding="utf-8"))
BY_ID = {row["id"]: row for row in CATALOG}
IMPLEMENTED = [row["id"] for row in CATALOG if row["id"] not in PENDING]
#: catalog and project rules: one module each, with the metadata their table row says
ALL_ROWS = {**BY_ID, **{row["id"]: row for row in PROJECT}}
EVERY_RULE = IMPLEMENTED + [row["id"] for row in PROJECT]


def module_name(rule_id: str) -> str:
    return rule_id.replace("-", "_")


def expected_models(row: dict):
    """"estate" for rules about grants and role definitions, else the models of the vaults a rule runs on."""
    applies = row["applies"]
    if applies.startswith(("grants", "custom role definitions", "subscriptions")):
        return "estate"
    if row["id"] in ONLY_FIRES_ON_POLICY_VAULTS:
        return POLICY
    if applies.startswith("`rbac` vaults"):
        return RBAC
    if applies.startswith("`accessPolicy` vaults"):
        return POLICY
    return BOTH


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


# -- the contract's tables ------------------------------------------------------------------------


def test_the_contract_is_catalog_2_and_lists_every_id_once():
    text = CONTRACT.read_text(encoding="utf-8")
    assert "# Rule catalog (product contract) — catalog 2" in text
    ids = [row["id"] for row in CATALOG]
    assert len(ids) == 25, ids
    assert sorted({i for i in ids if ids.count(i) > 1}) == []
    for row in CATALOG:
        assert row["severity"] in SEVERITIES, row
        assert row["subject"] in SUBJECT_WORDS, row


def test_parsed_tables_hold_what_the_contract_says():
    # spot checks that the parser reads the right columns
    assert BY_ID["broad-data-role"]["severity"] == "high"
    assert BY_ID["broad-data-role"]["severityText"].startswith("high at `/`")
    assert BY_ID["wildcard-custom-role"]["subject"] == "role definition"
    assert BY_ID["defender-for-key-vault-off"]["subject"] == "subscription"
    assert BY_ID["self-grant-path"]["subject"] == "grant" and BY_ID["self-grant-path"]["section"] == "Privilege"
    assert BY_ID["latent-grant"]["section"].startswith("Migration readiness")


def test_deeper_tables_section_is_implemented_and_names_its_tables():
    section = [row["id"] for row in CATALOG if row["section"].startswith(PENDING_SECTION)]
    assert section == list(DEEP)
    for rule_id in DEEP:
        meta = importlib.import_module(f"rules.{module_name(rule_id)}").META
        assert meta.tables, f"{rule_id} reads a deeper table: META.tables must name it (not collected: not evaluated)"


# -- ALL_RULES against the tables -------------------------------------------------------------------


def test_all_rules_lists_every_implemented_catalog_rule_exactly_once_in_catalog_order():
    ids = [rule.META.id for rule in rules.ALL_RULES]
    assert sorted({i for i in ids if ids.count(i) > 1}) == [], "listed more than once"
    assert sorted(set(ids) - set(ALL_ROWS)) == [], "neither catalog rules nor project rules of the README"
    assert sorted(set(EVERY_RULE) - set(ids)) == [], "catalog or project rules missing from ALL_RULES"
    assert [i for i in ids if i in BY_ID] == IMPLEMENTED, "ALL_RULES is not in catalog order"
    assert rules.RULE_IDS == tuple(ids)


def test_project_rules_are_documented_as_additions_and_are_not_catalog_rules():
    """docs/contracts/README.md lists the project's rules in a table like the catalog's; none is a catalog id."""
    assert [row["id"] for row in PROJECT] == ["perimeter-allows-public"]
    assert not {row["id"] for row in PROJECT} & set(BY_ID)
    for row in PROJECT:
        assert row["severity"] in SEVERITIES and row["subject"] in SUBJECT_WORDS, row


def test_every_catalog_rule_is_implemented():
    """Catalog 2 is complete: no rule id of the tables is pending (a new catalog row needs its module)."""
    ids = {rule.META.id for rule in rules.ALL_RULES}
    assert PENDING == ()
    assert sorted(set(BY_ID) - ids) == []


@pytest.mark.parametrize("rule_id", EVERY_RULE)
def test_severity_and_subject_match_the_table(rule_id):
    meta = importlib.import_module(f"rules.{module_name(rule_id)}").META
    row = ALL_ROWS[rule_id]
    assert meta.id == rule_id
    assert meta.severity == row["severity"]
    assert meta.subject in SUBJECTS
    assert meta.subject == SUBJECT_WORDS[row["subject"]]


@pytest.mark.parametrize("rule_id", EVERY_RULE)
def test_exactly_one_module_declares_the_id(rule_id):
    expected = RULES_DIR / f"{module_name(rule_id)}.py"
    assert expected.exists(), f"rules/{expected.name} is missing"
    declaring = sorted(p.name for p in RULES_DIR.glob("*.py") if declared_id(p) == rule_id)
    assert declaring == [expected.name], f"{rule_id} is declared by {declaring}"


@pytest.mark.parametrize("rule_id", EVERY_RULE)
def test_metadata_is_complete_and_matches_what_the_rule_applies_to(rule_id):
    module = importlib.import_module(f"rules.{module_name(rule_id)}")
    meta = module.META
    for name in ("title", "subject", "rationale", "remediation"):
        value = getattr(meta, name)
        assert isinstance(value, str) and value.strip(), f"{rule_id}: META.{name} is empty"
    assert isinstance(meta.references, tuple) and meta.references, f"{rule_id}: no reference"
    assert all(isinstance(r, str) and r.strip() for r in meta.references)
    # every {placeholder} is a plain name, so finding() can fill it
    fields = [f for _, f, _, _ in string.Formatter().parse(meta.remediation) if f is not None]
    assert all(f.isidentifier() for f in fields), f"{rule_id}: odd placeholders {fields}"
    applies = expected_models(ALL_ROWS[rule_id])
    if applies == "estate":
        assert meta.applies_to == "estate"
    else:
        assert meta.applies_to == "vault"
        assert set(meta.models) == set(applies) and set(meta.models) <= set(MODELS)
    assert callable(getattr(module, "evaluate", None))


@pytest.mark.parametrize("rule_id", EVERY_RULE)
def test_each_rule_has_its_own_test_file(rule_id):
    module = module_name(rule_id)
    path = TESTS_DIR / f"test_{module}.py"
    assert path.exists(), f"tests/rules/{path.name} is missing"
    text = path.read_text(encoding="utf-8")
    assert rule_id in text or module in imported_rule_modules(path), \
        f"{path.name} neither mentions {rule_id!r} nor imports rules.{module}"
