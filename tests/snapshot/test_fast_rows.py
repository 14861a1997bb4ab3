"""The hot paths of snapshot loading make what the reference readings make (issue 12).

Rows of a generated estate, and the same rows broken in every way hypothesis finds (case-variant
keys, nulls, wrong types, odd scopes, deep values), go through each fast reader and through its
reference: the previous vault reading (tests/snapshot/previous_rows.py), assignment_from_row,
assignment_can_matter / at_management_group, depth._depth_over. Results must be equal and print
the same; errors must carry the same message.
"""

from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_function.depth import MAX_DEPTH, _depth_over, bounded
from audit_function.estate import grant_rows, model, vault_rows
from audit_function.estate.rows import RowError, builder
from audit_function.estate.scopes import _AZURE_SCOPE, _RESOURCE
from audit_function.snapshot import relevance
from audit_function.snapshot.lines import deeper_than_max, iter_rows
from audit_function.snapshot.load import RawSnapshot, builtin_role_definitions, load_estate
from tests.snapshot import previous_rows

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def estate_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small") / "snap"
    subprocess.run([sys.executable, str(REPO / "bench" / "generate_estate.py"), "--small", "--quiet", "--out", str(out)],
                   check=True)
    return out


def _rows(directory: Path, table: str) -> list:
    return [row for _, row in iter_rows(directory / f"{table}.jsonl")]


@pytest.fixture(scope="module")
def vault_pool(estate_dir):
    rows = _rows(estate_dir, "vaults")
    return [r for r in rows if r["properties"].get("accessPolicies")][:40] + rows[:20]


@pytest.fixture(scope="module")
def grant_pool(estate_dir):
    return _rows(estate_dir, "role_assignments")[:200]


@pytest.fixture(scope="module")
def definitions(estate_dir):
    out = dict(builtin_role_definitions())
    for row in _rows(estate_dir, "role_definitions"):
        role = grant_rows.role_definition_from_row(row)
        out[role.guid] = role
    return out


def outcome(read, row):
    """What a reader makes of a row: its record (as printed: every field, tags too) or its error."""
    try:
        return "ok", repr(read(copy.deepcopy(row)))
    except RowError as exc:
        return "RowError", str(exc)
    except Exception as exc:   # the reference's own crashes must be the fast path's too
        return type(exc).__name__, ""


# ---------------------------------------------------------------------------------------------
# Mutations: what a hostile or odd snapshot can hold where the fast paths look

VALUES = st.sampled_from([None, "", "x", "Deny", "get", 0, 1.5, True, False, [], {}, ["get", "List"], [None, 5, "all"],
                          [["nested"]], {"a": 1}, {"value": "10.0.0.0/8"}, "/", "/subscriptions/s1",
                          "/subscriptions//x", "/SUBSCRIPTIONS/abc", "/subscriptions/ſ/x", "/subscriptions/a/",
                          "/providers/Microsoft.Management/managementGroups/mg1",
                          "/PROVIDERS/microsoft.management/MANAGEMENTGROUPS/x",
                          "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a",
                          "/subscriptions/s/resourcegroups/g/providers/microsoft.keyvault/vaults/v/keys/k",
                          "/providers/Microsoft.Authorization/roleDefinitions/00482a5a-887f-4fb3-b363-3b7fe8e74483",
                          "not a scope", " /subscriptions/x/ ", "/subscriptions/x\n"])
KEYS = st.sampled_from(["id", "name", "tenantId", "TenantId", "tenantid", "subscriptionId", "resourceGroup", "location",
                        "tags", "properties", "Properties", "roleDefinitionId", "RoleDefinitionId", "principalId",
                        "principalID", "scope", "Scope", "condition", "Condition", "CONDITION", "principalType",
                        "description", "objectId", "ObjectId", "applicationId", "ApplicationID", "permissions",
                        "Permissions", "keys", "secrets", "Secrets", "certificates", "storage", "accessPolicies",
                        "AccessPolicies", "enableRbacAuthorization", "EnableRBACAuthorization", "networkAcls",
                        "NetworkAcls", "publicNetworkAccess", "PublicNetworkAccess", "enableSoftDelete",
                        "enablePurgeProtection", "enabledForTemplateDeployment", "privateEndpointConnections",
                        "defaultAction", "ipRules", "value", 7])


def _containers(value, out):
    if isinstance(value, dict):
        out.append(value)
        for v in value.values():
            _containers(v, out)
    elif isinstance(value, list):
        for v in value:
            _containers(v, out)
    return out


@st.composite
def mutated(draw, pool):
    row = copy.deepcopy(draw(st.sampled_from(pool)))
    for _ in range(draw(st.integers(0, 4))):
        targets = _containers(row, [])
        target = draw(st.sampled_from(targets))
        action = draw(st.sampled_from(["set", "set", "delete", "respell"]))
        keys = [k for k in target]
        if action == "set" or not keys:
            target[draw(KEYS)] = copy.deepcopy(draw(VALUES))
        elif action == "delete":
            del target[draw(st.sampled_from(keys))]
        else:   # the same property under another spelling, or twice under two
            key = draw(st.sampled_from(keys))
            if isinstance(key, str):
                value = target.pop(key) if draw(st.booleans()) else target[key]
                target[draw(st.sampled_from([key.upper(), key.lower(), key.capitalize()]))] = value
    return row


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# ---------------------------------------------------------------------------------------------
# Vaults and access-policy entries


def test_generated_vaults_read_as_before(vault_pool):
    assert any(len(r["properties"]["accessPolicies"]) > 1 for r in vault_pool)
    for row in vault_pool:
        assert outcome(vault_rows.vault_from_row, row) == outcome(previous_rows.vault_from_row, row)
        assert outcome(vault_rows.vault_from_row, row)[0] == "ok"


@FUZZ
@given(data=st.data())
def test_hostile_vaults_read_as_before(vault_pool, data):
    row = data.draw(mutated(vault_pool))
    assert outcome(vault_rows.vault_from_row, row) == outcome(previous_rows.vault_from_row, row)


@FUZZ
@given(data=st.data())
def test_hostile_policy_entries_read_as_before(vault_pool, data):
    row = data.draw(mutated([r for r in vault_pool if r["properties"]["accessPolicies"]]))
    entries = row.get("properties", {}).get("accessPolicies") if isinstance(row.get("properties"), dict) else None
    for index, raw in enumerate(entries if isinstance(entries, list) else []):
        fast = outcome(lambda r: vault_rows._policy_entry(index, r, "t"), raw)
        assert fast == outcome(lambda r: previous_rows._policy_entry(index, r, "t"), raw)


def test_entry_names_that_are_not_strings_are_mapped_as_their_text():
    raw = {"objectId": "o", "tenantId": "t", "permissions": {"secrets": ["get", 5, None], "keys": [["all"]]}}
    assert outcome(lambda r: vault_rows._policy_entry(0, r, "t"), raw) == \
        outcome(lambda r: previous_rows._policy_entry(0, r, "t"), raw)
    # a string that spells the characters of a list must not borrow the list's mapping
    listed = {"objectId": "o", "permissions": {"secrets": ["a", "l", "l"]}}
    spelled = {"objectId": "o", "permissions": {"secrets": "all"}}
    assert outcome(lambda r: vault_rows._policy_entry(0, r, None), listed)[0] == "ok"
    assert outcome(lambda r: vault_rows._policy_entry(0, r, None), spelled) == \
        ("RowError", "properties.accessPolicies[0].permissions.secrets must be an array, got str")


# ---------------------------------------------------------------------------------------------
# Role assignments: the filter and the reader


def _reference_keep(row, definitions):
    return relevance.at_management_group(row), relevance.assignment_can_matter(row, definitions)


def test_generated_grants_filter_and_read_as_before(grant_pool, definitions):
    grants = relevance.GrantFilter(definitions)
    read = grant_rows.assignment_reader()
    decisions = []
    for row in grant_pool + grant_pool:   # the second time through the caches
        at_mg, matters = _reference_keep(row, definitions)
        before = grants.management_group
        assert grants.keep(row) is matters
        assert grants.management_group is (before or at_mg)
        decisions.append(matters)
        if matters:
            assert outcome(read, row) == outcome(grant_rows.assignment_from_row, row)
    assert True in decisions and False in decisions and grants.management_group


@FUZZ
@given(data=st.data())
def test_hostile_grants_filter_and_read_as_before(grant_pool, definitions, data):
    grants = relevance.GrantFilter(definitions)
    read = grant_rows.assignment_reader()
    for _ in range(3):   # several rows through one filter and one reader: their caches too
        row = data.draw(mutated(grant_pool))
        at_mg, matters = _reference_keep(row, definitions)
        before = grants.management_group
        assert grants.keep(row) is matters
        assert grants.management_group is (before or at_mg)
        assert outcome(read, row) == outcome(grant_rows.assignment_from_row, row)


def test_a_scope_read_twice_is_judged_the_same_way():
    read = grant_rows.assignment_reader()
    row = {"id": "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/a",
           "properties": {"roleDefinitionId": "/x/roleDefinitions/R1", "principalId": "P", "scope": "not a scope"}}
    for _ in range(2):
        assert outcome(read, row) == ("RowError", "scope 'not a scope' is not an Azure scope "
                                                  "('/', '/subscriptions/…' or '/providers/…')")
    row["properties"]["scope"] = None   # the scope comes from the id
    assert outcome(read, row) == outcome(grant_rows.assignment_from_row, row)
    assert read(row).scope_key == "/subscriptions/s"


@given(st.text(alphabet="/asS ſK\n.", max_size=24), st.sampled_from(["/subscriptions/", "/Subscriptions/", "", "/"]))
def test_subscription_scope_is_the_regular_expression(tail, head):
    scope = head + tail
    if grant_rows.subscription_scope(scope):
        assert _AZURE_SCOPE.match(scope)
    if scope.startswith("/subscriptions/"):
        assert grant_rows.subscription_scope(scope) is bool(_AZURE_SCOPE.match(scope))


@given(st.text(alphabet="/aR.K", max_size=40))
def test_scopes_with_few_segments_are_never_below_a_resource(tail):
    scope = "/subscriptions/s/resourcegroups/g/providers/" + tail
    if scope.count("/") < relevance.RESOURCE_SLASHES:
        assert not _RESOURCE.search(scope.lower())
    assert _RESOURCE.search("/subscriptions/s/resourcegroups/g/providers/p/t/n")   # the fewest: 8


# ---------------------------------------------------------------------------------------------
# Records built without __init__, depth found in the bytes


def test_builder_makes_the_records_their_classes_make(vault_pool, grant_pool):
    vaults = [vault_rows.vault_from_row(r) for r in vault_pool]
    entries = [e for v in vaults for e in v.access_policies]
    grants = [grant_rows.assignment_from_row(r) for r in grant_pool]
    assert entries and grants
    for record in vaults + entries + grants:
        cls = type(record)
        values = [getattr(record, f.name) for f in dataclasses.fields(cls)]
        made, expected = builder(cls)(*values), cls(*values)
        assert type(made) is cls and made == expected and repr(made) == repr(expected)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(made, dataclasses.fields(cls)[0].name, None)
    # defaults are the class's defaults
    short = [getattr(grants[0], f.name) for f in dataclasses.fields(model.RoleAssignment)][:10]
    assert builder(model.RoleAssignment)(*short) == model.RoleAssignment(*short)
    assert builder(model.Estate) is model.Estate   # default factories: the class itself


def _nested(depth: int, leaf, tricky: bool = True):
    """``depth`` levels of alternating objects and arrays; ``tricky``: each object also holds a
    string of brackets and an escaped quote (which the bytes cannot see past)."""
    value = leaf
    for n in range(depth):
        value = [value] if n % 2 else {"k": value, "s": "{[\"]}" if tricky else "plain"}
    return value


JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text(alphabet='ab{}[]"\\ '),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet="k{[", max_size=2),
                                                                                inner, max_size=3), max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, MAX_DEPTH + 6), JSON, st.booleans())
def test_depth_from_bytes_is_the_depth_of_the_value(depth, leaf, tricky):
    value = _nested(depth, leaf, tricky)
    line = orjson.dumps(value) + b"\n"
    found = deeper_than_max(line)
    if found is not None:
        assert found is _depth_over(value, MAX_DEPTH)
    plain = _nested(depth, "leaf", tricky=False)   # no bracket, quote or backslash in a string: the bytes decide
    assert deeper_than_max(orjson.dumps(plain)) is _depth_over(plain, MAX_DEPTH)


def test_depth_from_bytes_decides_at_the_limit():
    for depth, deep in ((MAX_DEPTH, False), (MAX_DEPTH + 1, True)):
        value = [0]
        for _ in range(depth - 1):
            value = {"k": value}
        assert _depth_over(value, MAX_DEPTH) is deep
        assert deeper_than_max(orjson.dumps(value)) is deep


def test_grant_tables_are_read_without_cutting_and_load_the_same(tmp_path, estate_dir):
    """Grant rows are not searched for depth: a grant nested far below its second level loads the
    same (kept, dropped or a gap) as when every row is cut, as the in-memory reading does."""
    deep = _nested(200, "x")
    grants = _rows(estate_dir, "role_assignments")[:50]
    grants[0]["properties"]["extra"] = deep                          # kept or dropped as before
    grants[1]["properties"]["roleDefinitionId"] = copy.deepcopy(deep)   # a gap naming its type
    grants[2]["extra"] = copy.deepcopy(deep)
    tables = {t: _rows(estate_dir, t) for t in ("subscriptions", "role_definitions", "vaults")}
    tables["role_assignments"] = grants
    snap = tmp_path / "snap"
    snap.mkdir()
    for table, rows in tables.items():
        (snap / f"{table}.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    assert bounded(grants[0]) != grants[0]
    from_files, in_memory = load_estate(snap), load_estate(RawSnapshot(tables=copy.deepcopy(tables)))
    assert repr(from_files.assignments) == repr(in_memory.assignments)
    assert [(g.scope, g.reason, g.line) for g in from_files.gaps] == [(g.scope, g.reason, g.line) for g in in_memory.gaps]
    assert len(from_files.gaps) == 1 and from_files.gaps[0].line == 2
    assert from_files.gaps[0].reason == "row skipped: properties.roleDefinitionId must be a string, got list"
    assert from_files.counts == in_memory.counts


@given(st.text(alphabet="/aB-0", max_size=12))
def test_the_filter_reads_the_role_guid_as_trailing_guid_does(role_id):
    from audit_function.estate.scopes import trailing_guid
    assert role_id.rstrip("/").rpartition("/")[2].lower() == trailing_guid(role_id)


def test_builder_leaves_classes_it_cannot_mirror_to_themselves():
    from dataclasses import dataclass

    from audit_function.estate.rows import builder

    class Plain:
        pass

    @dataclass
    class NoSlots:
        a: int

    assert builder(Plain) is Plain and builder(NoSlots) is NoSlots
