"""vault-tenant-mismatch: passing, failing and edge rows; the loader's subscription-tenant fallback."""

from audit_function.snapshot.load import RawSnapshot, load_estate
from rules import vault_tenant_mismatch
from tests.factories import OTHER_TENANT, SUB, SUB2, TENANT, run_rules, subscription_row, vault_id, vault_row

RULES = (vault_tenant_mismatch,)


def test_fires_when_vault_tenant_differs_from_row_tenant():
    run = run_rules(RULES, vaults=[vault_row(tenant=OTHER_TENANT, row_tenant=TENANT)])
    (f,) = run.of("vault-tenant-mismatch")
    assert f["severity"] == "high" and f["vaultId"] == vault_id()
    assert f["evidence"]["vaultTenantId"] == OTHER_TENANT
    assert f["evidence"]["subscriptionTenantId"] == TENANT
    assert f"--set Properties.tenantId={TENANT}" in f["remediation"]
    assert OTHER_TENANT in f["message"] and TENANT in f["message"]
    assert run.not_evaluated == []


def test_does_not_fire_when_tenants_match():
    run = run_rules(RULES, vaults=[vault_row()])
    assert run.findings == [] and run.not_evaluated == []


def test_tenants_compare_case_insensitively():
    run = run_rules(RULES, vaults=[vault_row(tenant=TENANT.upper(), row_tenant=TENANT)])
    assert run.findings == []


def test_missing_vault_tenant_is_not_evaluated_not_a_gap():
    for kwargs in ({"omit": ("tenantId",)}, {"tenant": None}):
        run = run_rules(RULES, vaults=[vault_row(**kwargs)])
        assert run.findings == [] and run.gaps == []
        (n,) = run.not_evaluated
        assert n["ruleId"] == "vault-tenant-mismatch" and n["vaultId"] == vault_id()
        assert "properties.tenantId is missing" in n["reason"]


def test_missing_row_tenant_is_not_evaluated_even_when_the_subscription_row_has_one():
    """Catalog 2 (readings pinned): not evaluated when the row's tenantId is missing; nothing is borrowed."""
    row = vault_row(tenant=OTHER_TENANT, row_tenant=None)
    run = run_rules(RULES, vaults=[row], subscriptions=[subscription_row(SUB, tenant=TENANT)])
    assert run.findings == [] and run.gaps == []
    (n,) = run.not_evaluated
    assert n["ruleId"] == "vault-tenant-mismatch"


def test_missing_row_tenant_and_no_subscription_is_not_evaluated():
    row = vault_row(tenant=OTHER_TENANT, row_tenant=None)
    run = run_rules(RULES, vaults=[row], subscriptions=[subscription_row(SUB2)])
    assert run.findings == [] and run.gaps == []
    (n,) = run.not_evaluated
    assert "tenant of the vault's subscription is unknown" in n["reason"]


def test_row_tenant_wins_over_subscription_row():
    # the row's own tenantId is what the catalog compares against
    row = vault_row(tenant=OTHER_TENANT, row_tenant=OTHER_TENANT)
    run = run_rules(RULES, vaults=[row], subscriptions=[subscription_row(SUB, tenant=TENANT)])
    assert run.findings == []


def test_loader_keeps_the_row_tenant_as_found():
    rows = [vault_row("kv1", row_tenant=None), vault_row("kv2", row_tenant=OTHER_TENANT),
            vault_row("kv3", sub=SUB2, row_tenant=None)]
    estate = load_estate(RawSnapshot(tables={"subscriptions": [subscription_row(SUB, tenant=TENANT)],
                                             "role_definitions": [], "vaults": rows, "role_assignments": []}))
    tenants = {v.name: v.row_tenant_id for v in estate.vaults}
    assert tenants == {"kv1": None, "kv2": OTHER_TENANT, "kv3": None}


def test_applies_to_both_models():
    rows = [vault_row("kv1", tenant=OTHER_TENANT), vault_row("kv2", rbac=False, tenant=OTHER_TENANT)]
    found = run_rules(RULES, vaults=rows).of("vault-tenant-mismatch")
    assert {f["evidence"]["permissionModel"] for f in found} == {"rbac", "accessPolicy"}
