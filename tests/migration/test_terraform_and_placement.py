"""Terraform output (parsed with python-hcl2) and where custom roles are defined (placement, limits)."""

from __future__ import annotations

import hcl2

from audit_function.pipeline.run import demo_snapshot
from audit_function.migration import placement
from audit_function.migration.planner import run_plan
from audit_function.migration.terraform import TERRAFORM_FILE
from tests.factories import SUB, SUB2, subscription_row, vault_row, policy
from tests.migration.helpers import ALICE, BOB, write_snapshot
from tests.cli.test_plan_command import HOSTILE_VAULT, estate_rows
from tests.test_quoting import hcl_decode

BACKUP = dict(keys=["get", "list", "backup"], secrets=["get", "list", "backup"])


def resources(text: str) -> dict[str, dict[str, dict]]:
    """type -> name -> attributes (python-hcl2 keeps labels and strings quoted)."""
    out: dict[str, dict[str, dict]] = {}
    for block in hcl2.loads(text).get("resource", []):
        for kind, named in block.items():
            for name, body in named.items():
                out.setdefault(kind.strip('"'), {})[name.strip('"')] = body
    return out


def test_demo_terraform_parses_and_declares_exactly_the_plan(tmp_path):
    result = run_plan(demo_snapshot(), None, formats=("terraform",))
    text = result.files[TERRAFORM_FILE].decode()
    found = resources(text)
    assert set(found) == {"azurerm_role_definition", "azurerm_role_assignment", "azapi_update_resource"}
    assert "azurerm_key_vault" not in text.replace("# Vaults managed by your own azurerm_key_vault", "") \
        .replace("azurerm_key_vault: set", "")       # never declared: a plan must not create or replace a vault
    runnable = [u for u in result.units if u["action"] != "blocked"]
    assert len(found["azurerm_role_assignment"]) == sum(len(u["create"]) for u in runnable)
    assert len(found["azurerm_role_definition"]) == len(result.custom_roles)
    flips = found["azapi_update_resource"]
    assert {hcl_decode(f["resource_id"]) for f in flips.values()} == {u["vaultId"] for u in runnable}
    for unit in runnable:
        flip = flips[f"vault_{unit['n']}_flip"]
        expected = "var.flip && var.accept_latent_grants" if unit["action"] == "review" else "var.flip"
        assert flip["count"] == f"${{{expected} ? 1 : 0}}"
        assert flip["body"] == {"properties": {"enableRbacAuthorization": True}}
    for unit in result.units:
        if unit["action"] == "blocked":
            assert unit["vaultId"] not in "".join(line for line in text.splitlines() if not line.startswith("#"))
    custom = [a for a in found["azurerm_role_assignment"].values() if "depends_on" in a]
    assert custom and all(a["depends_on"][0].startswith("${azurerm_role_definition.custom_") for a in custom)


def test_hostile_names_stay_strings_in_terraform(tmp_path):
    snapshot = write_snapshot(tmp_path / "snap", **estate_rows())
    result = run_plan(snapshot, None, formats=("terraform",))
    text = result.files[TERRAFORM_FILE].decode()
    found = resources(text)
    hostile = next(u for u in result.units if u["vaultName"] == HOSTILE_VAULT)
    flip = found["azapi_update_resource"][f"vault_{hostile['n']}_flip"]
    assert hcl_decode(flip["resource_id"]) == hostile["vaultId"]
    for line in text.splitlines():
        assert not any(ord(c) < 0x20 for c in line)
        if "PWNED" in line and not line.startswith("#"):
            assert line.split("=", 1)[0].strip() in ("scope", "resource_id"), line


def test_custom_role_spanning_subscriptions_is_defined_once_at_their_management_group(tmp_path):
    subs = [subscription_row(SUB, mgs=("mg-apps", "root")), subscription_row(SUB2, mgs=("mg-data", "mg-apps", "root"))]
    vaults = [vault_row("kv-one", rbac=False, policies=[policy(ALICE, **BACKUP)]),
              vault_row("kv-two", sub=SUB2, rbac=False, policies=[policy(BOB, **BACKUP)])]
    result = run_plan(write_snapshot(tmp_path / "snap", vaults=vaults, subscriptions=subs), None)
    (role,) = result.custom_roles
    assert role["assignableScopes"] == [placement.MG_PREFIX + "mg-apps"] and role["scopeKind"] == "managementGroup"
    assert sorted(role["subscriptions"]) == sorted([SUB, SUB2])
    (name,) = [n for n in result.files if n.startswith("bicep/custom-roles-")]
    assert "targetScope = 'managementGroup'" in result.files[name].decode()
    assert "az deployment mg create --management-group-id mg-apps" in result.files[name].decode()
    assigned = {c["roleGuid"] for u in result.units for c in u["create"]}
    assert assigned == {role["id"]}


def test_without_a_shared_management_group_each_subscription_gets_its_own_definition(tmp_path):
    vaults = [vault_row("kv-one", rbac=False, policies=[policy(ALICE, **BACKUP)]),
              vault_row("kv-two", sub=SUB2, rbac=False, policies=[policy(BOB, **BACKUP)])]
    subs = [subscription_row(SUB, mgs=()), subscription_row(SUB2, mgs=())]   # ancestry unknown
    result = run_plan(write_snapshot(tmp_path / "snap", vaults=vaults, subscriptions=subs), None)
    roles = result.custom_roles
    assert sorted(r["assignableScopes"][0] for r in roles) == sorted([f"/subscriptions/{SUB}", f"/subscriptions/{SUB2}"])
    assert len({r["id"] for r in roles}) == 2 and len({r["name"] for r in roles}) == 2   # names unique per tenant
    assert len({r["signature"] for r in roles}) == 1
    assert len([n for n in result.files if n.startswith("bicep/custom-roles-")]) == 2
    by_vault = {u["vaultName"]: u["create"][0] for u in result.units}
    assert by_vault["kv-one"]["roleScope"] == f"/subscriptions/{SUB}"
    assert by_vault["kv-two"]["roleScope"] == f"/subscriptions/{SUB2}"
    for plan in result.plans:                         # the JSON plan names the placed role, not the signature
        (entry,) = plan["entries"]
        assert entry["customRole"]["id"] == by_vault[plan["vaultName"]]["roleGuid"]


def test_custom_role_limit_is_reported():
    placed = [{"id": str(n)} for n in range(3)]
    assert placement.limit_warnings(placed, 4997) == []
    (warning,) = placement.limit_warnings(placed, 4998)
    assert "5000 custom roles a tenant can hold" in warning
    assert placement.limit_warnings(placed, 1998, cloud="china")[0].count("2000") == 1
