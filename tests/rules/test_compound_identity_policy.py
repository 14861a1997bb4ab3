"""compound-identity-policy: entries with an applicationId (catalog 2: one finding per vault)."""

from rules import compound_identity_policy
from rules.base import fingerprint
from tests.factories import OTHER_TENANT, policy, principal_row, run_rules, vault_id, vault_row

RULES = (compound_identity_policy,)
APP = "11111111-aaaa-bbbb-cccc-000000000001"
APP2 = "11111111-aaab-bbbb-cccc-000000000001"


def entries_of(finding):
    return finding["evidence"]["entries"]


def test_fires_for_an_entry_with_an_application_id():
    run = run_rules(RULES, vaults=[vault_row(rbac=False, policies=[policy("u1", application_id=APP, secrets=["get"])])])
    (f,) = run.of("compound-identity-policy")
    assert f["severity"] == "low" and f["principalId"] == "u1" and f["vaultId"] == vault_id()
    assert f["subject"] == "vault" and f["fingerprint"] == fingerprint("compound-identity-policy", vault_id())
    assert f["evidence"]["entriesCount"] == 1
    (item,) = entries_of(f)
    assert item["applicationId"] == APP and item["objectId"] == "u1"
    assert item["permissions"] == {"secrets": ["get"]} and item["dataActionsInWords"] == "secrets: getSecret"
    assert "kv1" in f["message"] and "compound identity" in f["message"]
    assert f"--application-id {APP}" in f["remediation"] and "--object-id u1" in f["remediation"]


def test_does_not_fire_without_application_id_null_or_empty():
    entries = [policy("u1", secrets=["get"]),
               {"tenantId": None, "objectId": "u2", "applicationId": None, "permissions": {}},
               {"objectId": "u3", "applicationId": "", "permissions": {"keys": ["get"]}}]
    assert run_rules(RULES, vaults=[vault_row(rbac=False, policies=entries)]).findings == []


def test_does_not_apply_to_rbac_vaults():
    row = vault_row(policies=[policy("u1", application_id=APP, secrets=["get"])])
    assert run_rules(RULES, vaults=[row]).findings == []
    row = vault_row(rbac=None, policies=[policy("u1", application_id=APP, secrets=["get"])])
    assert len(run_rules(RULES, vaults=[row]).of("compound-identity-policy")) == 1


def test_every_compound_entry_is_an_item_of_one_finding():
    entries = [policy("u1", application_id=APP, secrets=["get"]),
               policy("u1", application_id=APP2.upper(), keys=["get"]),
               policy("u2", tenant=OTHER_TENANT, application_id=APP, secrets=["all"]),   # cross-tenant: still compound
               policy("u1", secrets=["list"])]
    run = run_rules(RULES, vaults=[vault_row(rbac=False, policies=entries)])
    (f,) = run.of("compound-identity-policy")
    assert f["evidence"]["entriesCount"] == 3 and "3 access-policy entries" in f["message"]
    assert [(e["objectId"], e["applicationId"]) for e in entries_of(f)] == [
        ("u1", APP), ("u1", APP2.upper()), ("u2", APP)]


def test_one_finding_per_vault_and_capped_evidence():
    many = [policy(f"u{i:03d}", application_id=APP, secrets=["get"]) for i in range(120)]
    vaults = [vault_row("kv1", rbac=False, policies=many),
              vault_row("kv2", rbac=False, policies=[policy("u1", application_id=APP, secrets=["get"])])]
    found = {f["vaultId"]: f for f in run_rules(RULES, vaults=vaults).of("compound-identity-policy")}
    assert set(found) == {vault_id("kv1"), vault_id("kv2")}
    assert len(entries_of(found[vault_id("kv1")])) == 100 and found[vault_id("kv1")]["evidence"]["entriesCount"] == 120


def test_entry_with_odd_key_casing_and_no_permissions():
    entry = {"TenantId": "t", "ObjectId": "u1", "ApplicationId": APP}
    run = run_rules(RULES, vaults=[vault_row(rbac=False, policies=[entry])])
    (f,) = run.of("compound-identity-policy")
    (item,) = entries_of(f)
    assert item["applicationId"] == APP and item["permissions"] == {} and item["dataActionsInWords"] == ""


def test_principal_names_from_directory_data():
    run = run_rules(RULES, vaults=[vault_row(rbac=False, policies=[policy("u1", application_id=APP, secrets=["get"])])],
                    principals=[principal_row("u1")])
    (item,) = entries_of(run.findings[0])
    assert item["principalName"] == "user u1"
