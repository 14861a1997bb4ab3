"""Review fixes to the migration (group-relied assignments, resume after a flip, PATCH flip, settle, roles by name)."""

from __future__ import annotations

from audit_function.access.engine import AccessIndex
from audit_function.cli.migrate import relied_on
from audit_function.migration import units
from tests.factories import KV_SECRETS_USER, assignment_row, policy, principal_row, vault_id, vault_row
from tests.migration.helpers import ALICE, GROUP, estate_of, plans_of


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
