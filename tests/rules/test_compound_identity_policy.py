"""compound-identity-policy: entries with an applicationId."""

from rules import compound_identity_policy
from tests.factories import policy, run_rules, vault_id, vault_row

RULES = (compound_identity_policy,)
APP = "11111111-aaaa-bbbb-cccc-000000000001"


def test_fires_for_an_entry_with_an_application_id():
    run = run_rules(RULES, vaults=[vault_row(rbac=False, policies=[policy("u1", application_id=APP, secrets=["get"])])])
    (f,) = run.of("compound-identity-policy")
    assert f["severity"] == "low" and f["principalId"] == "u1" and f["vaultId"] == vault_id()
    assert f["evidence"]["applicationId"] == APP
    assert f["evidence"]["dataActions"] == ["Microsoft.KeyVault/vaults/secrets/getSecret/action"]
    assert APP in f["message"] and "u1" in f["message"] and "kv1" in f["message"]
    assert f"--application-id {APP}" in f["remediation"] and "--object-id u1" in f["remediation"]


def test_does_not_fire_without_application_id_null_or_empty():
    entries = [policy("u1", secrets=["get"]),
               {"tenantId": None, "objectId": "u2", "applicationId": None, "permissions": {}},
               {"objectId": "u3", "applicationId": "", "permissions": {"keys": ["get"]}}]
    assert run_rules(RULES, vaults=[vault_row(rbac=False, policies=entries)]).findings == []


def test_does_not_apply_to_rbac_vaults():
    row = vault_row(policies=[policy("u1", application_id=APP, secrets=["get"])])
    assert run_rules(RULES, vaults=[row]).findings == []


def test_same_object_id_with_and_without_application_are_separate_subjects():
    entries = [policy("u1", application_id=APP, secrets=["get"]),
               policy("u1", application_id=APP.upper().replace("AAAA", "AAAB"), keys=["get"]),
               policy("u1", secrets=["list"])]
    run = run_rules(RULES, vaults=[vault_row(rbac=False, policies=entries)])
    assert len({f["fingerprint"] for f in run.of("compound-identity-policy")}) == 2


def test_entry_with_odd_key_casing_and_no_permissions():
    entry = {"TenantId": "t", "ObjectId": "u1", "ApplicationId": APP}
    run = run_rules(RULES, vaults=[vault_row(rbac=False, policies=[entry])])
    (f,) = run.of("compound-identity-policy")
    assert f["evidence"]["dataActions"] == [] and "no data action" in f["message"]
