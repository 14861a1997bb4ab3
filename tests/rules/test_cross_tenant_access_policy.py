"""cross-tenant-access-policy: entries naming a tenant other than the vault's (catalog 2: one finding per vault)."""

from rules import cross_tenant_access_policy
from rules.base import fingerprint
from tests.factories import OTHER_TENANT, TENANT, policy, run_rules, vault_id, vault_row

RULES = (cross_tenant_access_policy,)
THIRD_TENANT = "3b1f0a8e-0000-4000-8000-000000000003"


def entries_of(finding):
    return finding["evidence"]["entries"]


def test_fires_for_an_entry_from_another_tenant():
    run = run_rules(RULES, vaults=[vault_row(rbac=False, policies=[policy("u1", tenant=OTHER_TENANT, secrets=["get"])])])
    (f,) = run.of("cross-tenant-access-policy")
    assert f["severity"] == "medium" and f["principalId"] == "u1" and f["vaultId"] == vault_id()
    assert f["subject"] == "vault" and f["fingerprint"] == fingerprint("cross-tenant-access-policy", vault_id())
    assert f["evidence"]["vaultTenantId"] == TENANT and f["evidence"]["subscriptionTenantId"] == TENANT
    assert f["evidence"]["entriesCount"] == 1
    (item,) = entries_of(f)
    assert item["entryTenantId"] == OTHER_TENANT and item["tenantId"] == OTHER_TENANT and item["objectId"] == "u1"
    assert item["dataActionsInWords"] == "secrets: getSecret"
    assert TENANT in f["message"] and "kv1" in f["message"]
    assert "--object-id u1" in f["remediation"] and TENANT in f["remediation"]


def test_does_not_fire_for_same_tenant_any_casing_or_missing_entry_tenant():
    entries = [policy("u1", secrets=["get"]), policy("u2", tenant=TENANT.upper(), keys=["get"]),
               {"objectId": "u3", "tenantId": None, "permissions": {"secrets": ["list"]}},
               {"objectId": "u4", "permissions": {"secrets": ["list"]}},
               {"objectId": "u5", "tenantId": "", "permissions": {}}]
    run = run_rules(RULES, vaults=[vault_row(rbac=False, policies=entries)])
    assert run.findings == [] and run.not_evaluated == []


def test_does_not_apply_to_rbac_vaults():
    row = vault_row(policies=[policy("u1", tenant=OTHER_TENANT, secrets=["get"])])
    assert run_rules(RULES, vaults=[row]).findings == []


def test_missing_rbac_setting_is_an_access_policy_vault():
    row = vault_row(rbac=None, policies=[policy("u1", tenant=OTHER_TENANT, secrets=["get"])])
    assert len(run_rules(RULES, vaults=[row]).of("cross-tenant-access-policy")) == 1


def test_missing_vault_tenant_is_not_evaluated_not_a_finding():
    entries = [policy("u1", tenant=OTHER_TENANT, secrets=["get"])]
    for row in (vault_row(rbac=False, policies=entries, omit=("tenantId",)),
                vault_row(rbac=False, policies=entries, tenant=None),
                vault_row(rbac=False, policies=entries, tenant="")):
        run = run_rules(RULES, vaults=[row])
        assert run.findings == []
        (n,) = run.not_evaluated
        assert n["ruleId"] == "cross-tenant-access-policy" and n["vaultId"] == vault_id()
        assert "tenantId" in n["reason"]
        assert run.gaps == []    # a missing property is not bad input


def test_unreadable_vault_tenant_is_not_evaluated_and_a_gap():
    row = vault_row(rbac=False, policies=[policy("u1", tenant=OTHER_TENANT, secrets=["get"])], tenantId=42)
    run = run_rules(RULES, vaults=[row])
    assert run.findings == []
    assert [n["ruleId"] for n in run.not_evaluated] == ["cross-tenant-access-policy"]
    assert any("tenantId" in g["reason"] for g in run.gaps)


def test_no_entries_means_nothing_to_evaluate():
    run = run_rules(RULES, vaults=[vault_row(rbac=False, policies=[], omit=("tenantId",))])
    assert run.findings == [] and run.not_evaluated == []


def test_subscription_tenant_does_not_matter_only_the_vaults_own():
    # the vault authenticates against properties.tenantId; the row's (subscription's) tenant is not compared
    row = vault_row(rbac=False, tenant=OTHER_TENANT, row_tenant=TENANT,
                    policies=[policy("u1", tenant=OTHER_TENANT, secrets=["get"]), policy("u2", tenant=TENANT, keys=["get"])])
    (f,) = run_rules(RULES, vaults=[row]).of("cross-tenant-access-policy")
    assert [e["objectId"] for e in entries_of(f)] == ["u2"]
    assert f["evidence"]["vaultTenantId"] == OTHER_TENANT and f["evidence"]["subscriptionTenantId"] == TENANT


def test_every_foreign_entry_is_an_item_of_one_finding():
    entries = [policy("u1", tenant=OTHER_TENANT, secrets=["get"]),
               policy("U1", tenant=OTHER_TENANT, application_id="app-1", secrets=["get"]),
               policy("u2", tenant=THIRD_TENANT, keys=["all"]),
               policy("u1", secrets=["list"])]
    run = run_rules(RULES, vaults=[vault_row(rbac=False, policies=entries)])
    (f,) = run.of("cross-tenant-access-policy")
    assert f["evidence"]["entriesCount"] == 3 and "3 access-policy entries" in f["message"]
    assert [(e["objectId"], e["entryTenantId"], e["applicationId"]) for e in entries_of(f)] == [
        ("u1", OTHER_TENANT, None), ("U1", OTHER_TENANT, "app-1"), ("u2", THIRD_TENANT, None)]


def test_one_finding_per_vault_and_capped_evidence():
    many = [policy(f"u{i:03d}", tenant=OTHER_TENANT, secrets=["get"]) for i in range(101)]
    vaults = [vault_row("kv1", rbac=False, policies=many),
              vault_row("kv2", rbac=False, policies=[policy("u1", tenant=OTHER_TENANT, secrets=["get"])])]
    found = {f["vaultId"]: f for f in run_rules(RULES, vaults=vaults).of("cross-tenant-access-policy")}
    assert set(found) == {vault_id("kv1"), vault_id("kv2")}
    assert len(entries_of(found[vault_id("kv1")])) == 100 and found[vault_id("kv1")]["evidence"]["entriesCount"] == 101
