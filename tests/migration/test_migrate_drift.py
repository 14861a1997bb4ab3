"""drift.py: planned versus live, pure (new entry, changed entry, removed entry, relied-on assignment gone,
planned assignment missing, vault already RBAC), and the deterministic assignment names."""

from __future__ import annotations

import string
import uuid

from hypothesis import given
from hypothesis import strategies as st

from audit_function.migration.drift import (LiveVault, PlannedAssignment, assignment_name, compare,
                                            compare_policies, missing_planned, planned_assignments)
from tests.factories import KV_SECRETS_USER, assignment_row, policy, vault_id, vault_row
from tests.migration.helpers import ALICE, BOB, CAROL, plan_of

TENANT = policy(ALICE)["tenantId"]
VAULT = vault_id("kv-one")


def live_policies(*entries):
    return [dict(e) for e in entries]


def plan_two():
    """kv-one: Alice secrets get/list (covered by an assignment at the vault), Bob keys get (to assign)."""
    return plan_of(vaults=[vault_row("kv-one", rbac=False, policies=[policy(ALICE, secrets=["get", "list"]),
                                                                    policy(BOB, keys=["get"])])],
                   assignments=[assignment_row(VAULT, KV_SECRETS_USER, ALICE)])


def live_of(plan, **kw):
    entries = [{"tenantId": e["tenantId"], "objectId": e["principalId"], "permissions": e["permissions"]}
               for e in plan["entries"]]
    return LiveVault(kw.pop("rbac", False), kw.pop("policies", entries), kw.pop("assignments", []))


def test_no_drift_when_live_matches_the_plan_whatever_the_case_and_order():
    plan = plan_two()
    entries = [{"tenantId": e["tenantId"].upper(), "objectId": e["principalId"].upper(),
                "permissions": {k: [n.upper() for n in v][::-1] for k, v in e["permissions"].items()}}
               for e in reversed(plan["entries"])]
    result = compare(plan, live_of(plan, policies=entries))
    assert result.problems == [] and not result.done and not result.drift


def test_vault_already_rbac_is_done_not_drift():
    plan = plan_two()
    result = compare(plan, live_of(plan, rbac=True, policies=[]))
    assert result.done and not result.drift


def test_new_entry_names_the_principal_and_what_it_has():
    plan = plan_two()
    live = live_of(plan)
    live.policies.append({"tenantId": TENANT, "objectId": CAROL, "permissions": {"certificates": ["get"]}})
    (problem,) = compare(plan, live, names={CAROL: "Carol Ops"}).problems
    assert problem == (f"new access-policy entry for Carol Ops ({CAROL}) (certificates: get): the flip would "
                       "cut it off")


def test_changed_entry_says_before_and_after():
    plan = plan_two()
    live = live_of(plan)
    live.policies[1] = {"tenantId": TENANT, "objectId": BOB, "permissions": {"keys": ["get", "decrypt"]}}
    (problem,) = compare(plan, live).problems
    assert problem == f"access-policy entry for {BOB} changed: planned keys: get, now keys: decrypt, get"


def test_removed_entry_and_a_compound_identity_is_another_identity():
    plan = plan_two()
    live = live_of(plan)
    live.policies[1] = {**live.policies[1], "applicationId": CAROL}
    problems = compare(plan, live).problems
    assert sorted(problems) == sorted([
        f"access-policy entry for {BOB} was removed since the plan was made",
        f"new access-policy entry for {BOB} through application {CAROL} (keys: get): the flip would cut it off"])


def test_relied_on_assignment_gone_and_planned_assignment_missing():
    plan = plan_two()
    relied = [{"id": f"{VAULT}/providers/Microsoft.Authorization/roleAssignments/ra-1", "roleName": "Key Vault "
               "Secrets User", "principalId": ALICE, "scope": VAULT}]
    planned = planned_assignments(plan)
    assert [p.principal_id for p in planned] == [BOB]
    live = live_of(plan, assignments=[])
    problems = compare(plan, live, relied_on=relied, planned=planned).problems
    assert any("ra-1" in p and "is gone" in p for p in problems)
    assert any(p.startswith("planned assignment missing: ") and BOB in p for p in problems)
    # listed again (any case, any name): no drift
    rows = [{"id": relied[0]["id"].upper(), "properties": {"scope": VAULT}}] + [
        {"id": f"{VAULT}/providers/Microsoft.Authorization/roleAssignments/other", "properties": {
            "scope": VAULT.upper(), "principalId": p.principal_id.upper(),
            "roleDefinitionId": f"/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/{p.role_guid}"}}
        for p in planned]
    assert compare(plan, live_of(plan, assignments=rows), relied_on=relied, planned=planned).problems == []


def test_planned_assignments_skip_blocked_and_covered_entries_and_deduplicate():
    plan = {"vaultId": VAULT, "entries": [
        {"index": 0, "principalId": ALICE, "principalType": "User", "blockedBy": [], "proposedRoles": [
            {"id": "/providers/Microsoft.Authorization/roleDefinitions/AAAA", "name": "A"}]},
        {"index": 1, "principalId": ALICE.upper(), "principalType": "User", "blockedBy": [], "proposedRoles": [
            {"id": "/providers/Microsoft.Authorization/roleDefinitions/aaaa", "name": "A"}]},
        {"index": 2, "principalId": BOB, "principalType": None, "blockedBy": ["cross-tenant"], "proposedRoles": [
            {"id": "/providers/Microsoft.Authorization/roleDefinitions/bbbb", "name": "B"}]},
        {"index": 3, "principalId": CAROL, "principalType": None, "blockedBy": [], "proposedRoles": []}]}
    (only,) = planned_assignments(plan)
    assert (only.principal_id, only.role_guid, only.entry) == (ALICE, "aaaa", 0)
    assert only.role_definition_id("s1") == "/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/aaaa"
    assert missing_planned([only], []) == [only]


@given(st.text(alphabet=string.ascii_letters + string.digits + "/-._", min_size=1, max_size=40), st.uuids(), st.uuids())
def test_assignment_names_are_deterministic_guids_ignoring_case(scope, principal, role):
    name = assignment_name(scope, str(principal), str(role))
    assert uuid.UUID(name).version == 5
    assert name == assignment_name(scope.upper() + "/", str(principal).upper(), str(role).upper())
    assert name != assignment_name(scope, str(principal), str(uuid.uuid4()))


def test_planned_assignment_name_is_the_function_of_its_fields():
    p = PlannedAssignment(VAULT, ALICE, "User", "4633458b-17de-408a-b874-0445c86b69e6", "Key Vault Secrets User", 0)
    assert p.name == assignment_name(VAULT, ALICE, "4633458b-17de-408a-b874-0445c86b69e6")


@given(st.lists(st.tuples(st.sampled_from([ALICE, BOB, CAROL]), st.sampled_from(["keys", "secrets"]),
                          st.lists(st.sampled_from(["get", "list", "set", "delete"]), min_size=1, max_size=3)),
                max_size=5))
def test_policies_compared_with_themselves_never_drift_and_one_added_always_does(rows):
    entries = [{"tenantId": TENANT, "objectId": o, "permissions": {c: n}} for o, c, n in rows]
    assert compare_policies(entries, list(reversed(entries))) == []
    extra = {"tenantId": TENANT, "objectId": "d0000000-0000-4000-8000-000000000009", "permissions": {"keys": ["get"]}}
    assert len(compare_policies(entries, entries + [extra])) == 1
