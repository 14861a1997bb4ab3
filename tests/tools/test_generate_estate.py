"""bench/generate_estate.py: small runs follow the snapshot format (docs/contracts/snapshot.md)."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "generate_estate.py"
GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
SUB = rf"/subscriptions/{GUID}"
RG = rf"{SUB}/resourceGroups/[A-Za-z0-9._()-]+"
VAULT_ID = re.compile(rf"^{RG}/providers/Microsoft\.KeyVault/vaults/[A-Za-z0-9-]{{3,24}}$")
MG_ID = re.compile(r"^/providers/Microsoft\.Management/managementGroups/[A-Za-z0-9._()-]+$")
ROLE_DEF_ID = re.compile(
    rf"^(/subscriptions/{GUID})?/providers/Microsoft\.Authorization/roleDefinitions/{GUID}$")
ASSIGNMENT_SUFFIX = re.compile(rf"/providers/Microsoft\.Authorization/roleAssignments/{GUID}$")

REQUIRED = {
    "vaults": {"id", "name", "type", "tenantId", "location", "resourceGroup", "subscriptionId", "tags", "properties"},
    "subscriptions": {"id", "name", "type", "subscriptionId", "tenantId", "properties"},
    "management_groups": {"id", "name", "type", "tenantId", "properties"},
    "role_assignments": {"id", "name", "type", "tenantId", "subscriptionId", "resourceGroup", "properties"},
    "role_definitions": {"id", "name", "type", "properties"},
    "principals": {"id", "type", "displayName", "userType", "appId", "memberOf"},
}
TYPES = {
    "vaults": "microsoft.keyvault/vaults",
    "subscriptions": "microsoft.resources/subscriptions",
    "management_groups": "microsoft.management/managementgroups",
    "role_assignments": "microsoft.authorization/roleassignments",
    "role_definitions": "microsoft.authorization/roledefinitions",
}
ASSIGNMENT_PROPS = {"roleDefinitionId", "principalId", "principalType", "scope", "condition", "conditionVersion",
                    "createdOn", "updatedOn", "createdBy", "description"}


def _run(out: Path, *args: str) -> None:
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), "--quiet", *args], check=True, timeout=120)


def _read(directory: Path, table: str) -> list[dict]:
    plain, packed = directory / f"{table}.jsonl", directory / f"{table}.jsonl.gz"
    opener = (lambda: gzip.open(packed, "rt", encoding="utf-8")) if packed.exists() else \
        (lambda: open(plain, encoding="utf-8"))
    with opener() as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small")
    _run(out, "--small", "--principals", "--seed", "7")
    return out


@pytest.fixture(scope="module")
def tables(small) -> dict[str, list[dict]]:
    return {t: _read(small, t) for t in REQUIRED}


def test_counts_as_requested_and_manifest(small, tables):
    manifest = json.loads((small / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == "kv-audit-snapshot/1"
    assert manifest["complete"] is True and manifest["gaps"] == []
    assert manifest["tables"] == {t: len(rows) for t, rows in tables.items()}
    assert len(tables["vaults"]) == 300
    assert len(tables["subscriptions"]) == 25
    assert len(tables["role_assignments"]) == 3000
    kinds = Counter(r["properties"]["type"] for r in tables["role_definitions"])
    assert kinds["CustomRole"] == 20 and kinds["BuiltInRole"] >= 900


def test_every_row_has_the_required_fields_and_lower_cased_type(tables):
    for table, rows in tables.items():
        for r in rows:
            missing = REQUIRED[table] - set(r)
            assert not missing, f"{table}: {r.get('id')} lacks {missing}"
            if table in TYPES:
                assert r["type"] == TYPES[table]
    for r in tables["role_assignments"]:
        assert ASSIGNMENT_PROPS <= set(r["properties"])
    for r in tables["role_definitions"]:
        p = r["properties"]
        assert {"roleName", "type", "description", "permissions", "assignableScopes"} <= set(p)
        for block in p["permissions"]:
            assert {"actions", "notActions", "dataActions", "notDataActions"} <= set(block)


def test_built_in_role_rows_have_the_demo_shape(tables):
    from tools.demo import make_demo as demo

    builtins = {r["name"]: r for r in demo.load_builtin_roles()}
    rows = [d for d in tables["role_definitions"] if d["properties"]["type"] == "BuiltInRole"]
    assert len(rows) == len(builtins)
    for d in rows:
        assert d == demo.role_definition_row(builtins[d["name"]])


def test_ids_are_arm_cased(tables):
    for v in tables["vaults"]:
        assert VAULT_ID.match(v["id"]), v["id"]
        assert v["id"].endswith("/" + v["name"])
        assert f"/resourceGroups/{v['resourceGroup']}/" in v["id"]
        assert v["id"].startswith(f"/subscriptions/{v['subscriptionId']}/")
        for pec in v["properties"].get("privateEndpointConnections", []):
            assert pec["id"].startswith(v["id"] + "/privateEndpointConnections/")
            assert "/providers/Microsoft.Network/privateEndpoints/" in pec["properties"]["privateEndpoint"]["id"]
    for s in tables["subscriptions"]:
        assert s["id"] == f"/subscriptions/{s['subscriptionId']}"
    for m in tables["management_groups"]:
        assert MG_ID.match(m["id"]) and m["id"].endswith("/" + m["name"])
    for d in tables["role_definitions"]:
        assert ROLE_DEF_ID.match(d["id"]) and d["id"].endswith("/" + d["name"])
    for a in tables["role_assignments"]:
        p = a["properties"]
        assert ASSIGNMENT_SUFFIX.search(a["id"]) and a["id"].endswith("/" + a["name"])
        base = "" if p["scope"] == "/" else p["scope"]
        assert a["id"] == f"{base}/providers/Microsoft.Authorization/roleAssignments/{a['name']}"
        assert ROLE_DEF_ID.match(p["roleDefinitionId"]), p["roleDefinitionId"]


def test_references_are_consistent(tables):
    mgs = {m["name"] for m in tables["management_groups"]}
    subs = {s["subscriptionId"] for s in tables["subscriptions"]}
    vault_ids = {v["id"].lower() for v in tables["vaults"]}
    roles = {d["name"].lower() for d in tables["role_definitions"]}
    principals = {p["id"]: p for p in tables["principals"]}
    tenant_root = {s["properties"]["managementGroupAncestorsChain"][-1]["name"] for s in tables["subscriptions"]}
    assert len(tenant_root) == 1
    for s in tables["subscriptions"]:
        assert {a["name"] for a in s["properties"]["managementGroupAncestorsChain"]} <= mgs
    for m in tables["management_groups"]:
        assert {a["name"] for a in m["properties"]["details"]["managementGroupAncestorsChain"]} <= mgs
    for v in tables["vaults"]:
        assert v["subscriptionId"] in subs
        for e in v["properties"]["accessPolicies"]:
            assert e["objectId"] in principals
    kind = {"User": "user", "Group": "group", "ServicePrincipal": "servicePrincipal"}
    for a in tables["role_assignments"]:
        p = a["properties"]
        assert p["roleDefinitionId"].rsplit("/", 1)[1].lower() in roles
        assert kind[p["principalType"]] == principals[p["principalId"]]["type"]
        if a["subscriptionId"]:
            assert a["subscriptionId"] in subs
        m = re.match(r"^(.*/providers/Microsoft\.KeyVault/vaults/[^/]+)", p["scope"])
        if m:
            assert m.group(1).lower() in vault_ids
        m = re.match(r"^/providers/Microsoft\.Management/managementGroups/([^/]+)$", p["scope"])
        if m:
            assert m.group(1) in mgs
    for p in principals.values():
        assert all(principals[g]["type"] == "group" for g in p["memberOf"])


def _scope_level(scope: str) -> str:
    if scope == "/":
        return "root"
    if scope.startswith("/providers/Microsoft.Management/"):
        return "managementGroup"
    if "/providers/Microsoft.KeyVault/vaults/" in scope:
        return "object" if re.search(r"/vaults/[^/]+/", scope) else "vault"
    if "/providers/" in scope:
        return "resource"
    return "resourceGroup" if "/resourceGroups/" in scope else "subscription"


def test_realistic_mix(tables):
    levels = Counter(_scope_level(a["properties"]["scope"]) for a in tables["role_assignments"])
    assert set(levels) == {"root", "managementGroup", "subscription", "resourceGroup", "resource", "vault", "object"}
    assert levels["resource"] + levels["resourceGroup"] > len(tables["role_assignments"]) / 2
    assert levels["root"] < 10
    vaults = [v["properties"] for v in tables["vaults"]]
    models = Counter(p.get("enableRbacAuthorization") for p in vaults)
    assert models[True] and models[False] and models[None]  # old vaults lack the property
    entries = [len(p["accessPolicies"]) for p in vaults]
    assert max(entries) <= 1024 and sum(1 for n in entries if n) > len(vaults) / 3
    assert Counter(p.get("publicNetworkAccess") for p in vaults).keys() >= {"Enabled", "Disabled", None}
    statuses = {c["properties"]["privateLinkServiceConnectionState"]["status"]
                for p in vaults for c in p.get("privateEndpointConnections", [])}
    assert "Approved" in statuses
    kv_data = [d for d in tables["role_definitions"] if d["properties"]["type"] == "CustomRole"
               and any("KeyVault" in a or a == "*" for b in d["properties"]["permissions"]
                       for a in b["dataActions"] + b["actions"])]
    assert kv_data, "some custom roles touch Key Vault"


def test_deterministic_for_a_seed_and_gzip_has_the_same_rows(small, tmp_path):
    again, packed, other = tmp_path / "again", tmp_path / "packed", tmp_path / "other"
    _run(again, "--small", "--principals", "--seed", "7")
    _run(packed, "--small", "--principals", "--seed", "7", "--gzip")
    _run(other, "--small", "--principals", "--seed", "8")
    for table in REQUIRED:
        first = (small / f"{table}.jsonl").read_bytes()
        assert (again / f"{table}.jsonl").read_bytes() == first
        assert gzip.decompress((packed / f"{table}.jsonl.gz").read_bytes()) == first
        assert not (packed / f"{table}.jsonl").exists()
    assert (other / "role_assignments.jsonl").read_bytes() != (small / "role_assignments.jsonl").read_bytes()


def test_explicit_counts_override_the_preset_and_principals_are_optional(tmp_path):
    _run(tmp_path, "--small", "--vaults", "12", "--subscriptions", "3", "--role-assignments", "40",
         "--custom-roles", "0")
    assert len(_read(tmp_path, "vaults")) == 12
    assert len(_read(tmp_path, "subscriptions")) == 3
    assert len(_read(tmp_path, "role_assignments")) == 40
    assert not (tmp_path / "principals.jsonl").exists()


def test_the_audit_reads_it_without_gaps(small):
    from audit_function.snapshot import load as snapshot

    estate = snapshot.load_estate(small)
    assert not estate.gaps
    assert len(estate.vaults) == 300
