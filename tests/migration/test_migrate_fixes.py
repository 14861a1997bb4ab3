"""Review fixes to the migration (group-relied assignments, resume after a flip, PATCH flip, settle, roles by name)."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

import pytest

from audit_function.cli.main import build_parser
from audit_function.cli.migrate import cmd_migrate
from audit_function.migration.planner import run_plan
from audit_function.snapshot.load import RawSnapshot, iter_rows, table_path
from tests.fakes.arm_vaults import FakeArmVaults
from tests.fakes.clock import VirtualClock
from tests.migration.test_migrate_apply import TENANT, Credential
from audit_function.access.engine import AccessIndex
from audit_function.cli.migrate import relied_on
from audit_function.migration import units
from tests.factories import SUB, KV_SECRETS_USER, assignment_row, policy, principal_row, vault_id, vault_row
from tests.migration.helpers import ALICE, GROUP, estate_of, plans_of, tables, write_snapshot


def test_an_assignment_to_a_group_of_the_entry_is_relied_on_by_script_and_migrate_alike():
    kw = dict(vaults=[vault_row(rbac=False, policies=[policy(ALICE, secrets=["get"])])],
              assignments=[assignment_row(vault_id(), KV_SECRETS_USER, GROUP, principal_type="Group")],
              principals=[principal_row(ALICE, member_of=[GROUP]), principal_row(GROUP, "group")])
    plans = list(plans_of(**kw).values())
    estate = estate_of(**kw)
    (unit,) = units.build(plans, estate, AccessIndex(estate), [])
    keep = unit["expected"]["keep"]
    assert [(k["principalId"], k["roleName"]) for k in keep] == [(GROUP, "Key Vault Secrets User")]
    (migrate_keep,) = relied_on(estate, plans).values()
    assert [a["id"] for a in migrate_keep] == [k["assignmentId"] for k in keep]


@pytest.fixture
def byok(tmp_path, monkeypatch):
    """A snapshot whose one vault needs a custom role (keys get/decrypt/sign), and the ARM fake for it."""
    snap = write_snapshot(tmp_path / "snap", vaults=[vault_row(rbac=False, policies=[
        policy(ALICE, keys=["get", "decrypt", "sign"])])])
    rows = {t: [r for _n, r in iter_rows(table_path(snap, t))] for t in ("vaults", "role_assignments", "subscriptions")}
    fake = FakeArmVaults(rows, token="fake-token", cert_dir=tmp_path / "tls", tenant=TENANT)
    monkeypatch.setenv("KV_AUDIT_ARM_ENDPOINT", fake.url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.ca_path))
    yield snap, fake
    fake.close()


def _migrate(*argv):
    clock = VirtualClock()
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = cmd_migrate(build_parser().parse_args(["migrate", *argv]), credential=Credential(), sleep=clock.sleep,
                         clock=clock.now)
    return rc, out.getvalue() + err.getvalue()


def test_migrate_assigns_a_custom_role_by_the_guid_azure_gave_it(byok, tmp_path):
    snap, fake = byok
    source = RawSnapshot(tables=tables(vaults=[vault_row(rbac=False, policies=[
        policy(ALICE, keys=["get", "decrypt", "sign"])])]))
    (plan,) = run_plan(source, None, formats=("json",)).plans
    (role,) = [r for e in plan["entries"] for r in e["proposedRoles"] if r.get("custom")]
    scope = f"/subscriptions/{SUB}"
    other = "12345678-aaaa-4bbb-8ccc-1234567890ab"              # what az role definition create picked
    fake.roles.append({"id": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{other}", "name": other,
                       "type": "Microsoft.Authorization/roleDefinitions",
                       "properties": {"roleName": role["name"], "type": "CustomRole", "assignableScopes": [scope]}})
    rc, out = _migrate("--snapshot", str(snap), "--apply", "--settle", "1", "--out", str(tmp_path / "out"))
    assert rc == 0, out
    (made,) = fake.assignments.values()
    assert made["properties"]["roleDefinitionId"].lower().endswith("/" + other)
    assert made["properties"]["principalId"] == ALICE
    assert fake.rbac(plan["vaultId"]) is True


def test_migrate_fails_the_vault_when_its_custom_role_was_not_created(byok, tmp_path):
    snap, fake = byok
    rc, out = _migrate("--snapshot", str(snap), "--apply", "--settle", "1", "--out", str(tmp_path / "out"))
    assert rc == 3
    assert "does not exist at /subscriptions/" in out and "create it from the plan's files first" in out
    assert not fake.assignments and not [w for w in fake.writes() if w["method"] == "PATCH"]
