"""cross-tenant-access-policy: entries naming a tenant other than the vault's."""

from rules import cross_tenant_access_policy
from tests.factories import OTHER_TENANT, TENANT, policy, run_rules, vault_id, vault_row

RULES = (cross_tenant_access_policy,)


def test_fires_for_an_entry_from_another_tenant():
    run = run_rules(RULES, vaults=[vault_row(rbac=False, policies=[policy("u1", tenant=OTHER_TENANT, secrets=["get"])])])
    (f,) = run.of("cross-tenant-access-policy")
    assert f["severity"] == "medium" and f["principalId"] == "u1" and f["vaultId"] == vault_id()
    assert f["evidence"]["entryTenantId"] == OTHER_TENANT and f["evidence"]["vaultTenantId"] == TENANT
    assert OTHER_TENANT in f["message"] and TENANT in f["message"] and "kv1" in f["message"]
    assert "--object-id u1" in f["remediation"] and TENANT in f["remediation"]


def test_does_not_fire_for_same_tenant_any_casing_or_missing_entry_tenant():
    entries = [policy("u1", secrets=["get"]), policy("u2", tenant=TENANT.upper(), keys=["get"]),
               {"objectId": "u3", "tenantId": None, "permissions": {"secrets": ["list"]}}]
    assert run_rules(RULES, vaults=[vault_row(rbac=False, policies=entries)]).findings == []


def test_does_not_apply_to_rbac_vaults():
    row = vault_row(policies=[policy("u1", tenant=OTHER_TENANT, secrets=["get"])])
    assert run_rules(RULES, vaults=[row]).findings == []


def test_missing_vault_tenant_is_not_evaluated_not_a_finding():
    entries = [policy("u1", tenant=OTHER_TENANT, secrets=["get"])]
    for row in (vault_row(rbac=False, policies=entries, omit=("tenantId",)),
                vault_row(rbac=False, policies=entries, tenant=None)):
        run = run_rules(RULES, vaults=[row])
        assert run.findings == []
        (n,) = run.not_evaluated
        assert n["ruleId"] == "cross-tenant-access-policy" and n["vaultId"] == vault_id()
        assert "tenantId" in n["reason"]
    assert run.gaps == []    # a missing property is not bad input


def test_no_entries_means_nothing_to_evaluate():
    run = run_rules(RULES, vaults=[vault_row(rbac=False, policies=[], omit=("tenantId",))])
    assert run.findings == [] and run.not_evaluated == []


def test_two_entries_same_object_id_are_two_subjects():
    entries = [policy("u1", tenant=OTHER_TENANT, secrets=["get"]),
               policy("U1", tenant=OTHER_TENANT, application_id="app-1", secrets=["get"]),
               policy("u1", secrets=["list"])]
    run = run_rules(RULES, vaults=[vault_row(rbac=False, policies=entries)])
    found = run.of("cross-tenant-access-policy")
    assert len({f["fingerprint"] for f in found}) == 2
