"""full-access-policy: entries granting `all` or `purge`."""

from rules import full_access_policy
from tests.factories import OTHER_TENANT, policy, run_rules, vault_row

RULES = (full_access_policy,)


def ap_vault(*entries, **kw):
    return vault_row(rbac=False, policies=entries, **kw)


def test_fires_for_all():
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["all"], keys=["get"]))])
    (f,) = run.of("full-access-policy")
    assert f["severity"] == "medium" and f["principalId"] == "u1"
    assert f["evidence"]["broadPermissions"] == ["secrets: all"]
    assert "Microsoft.KeyVault/vaults/secrets/purge/action" not in f["evidence"]["dataActions"]  # all excludes purge
    assert "Microsoft.KeyVault/vaults/secrets/getSecret/action" in f["evidence"]["dataActions"]
    assert "secrets: all" in f["message"] and "kv1" in f["message"]
    assert "--secret-permissions '<permissions it needs>'" in f["remediation"]  # quoted: raw, bash reads < > as redirections
    assert "--key-permissions" not in f["remediation"] and "--object-id u1" in f["remediation"]


def test_fires_for_purge_and_suggests_the_rest():
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", keys=["Get", "PURGE", "List"]))])
    (f,) = run.of("full-access-policy")
    assert f["evidence"]["broadPermissions"] == ["keys: purge"]
    assert "--key-permissions Get List" in f["remediation"]


def test_does_not_fire_for_explicit_permissions_or_on_rbac_vaults():
    entry = policy("u1", secrets=["get", "list", "set", "delete"], certificates=[], keys=None)
    assert run_rules(RULES, vaults=[ap_vault(entry)]).findings == []
    assert run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["all"])])]).findings == []


def test_odd_casing_and_every_category():
    entry = policy("u1", Keys=["ALL"], certificates=["All"], storage=["purge"])
    run = run_rules(RULES, vaults=[ap_vault(entry)])
    (f,) = run.of("full-access-policy")
    assert sorted(f["evidence"]["broadPermissions"]) == ["certificates: all", "keys: all", "storage: purge"]
    assert "--certificate-permissions" in f["remediation"] and "--storage-permissions" in f["remediation"]


def test_two_entries_same_object_id_are_two_findings():
    entries = [policy("u1", secrets=["all"]), policy("u1", tenant=OTHER_TENANT, secrets=["all"]),
               policy("u1", application_id="app-1", keys=["purge"])]
    run = run_rules(RULES, vaults=[ap_vault(*entries)])
    found = run.of("full-access-policy")
    assert len({f["fingerprint"] for f in found}) == 3
    compound = [f for f in found if f["evidence"]["policyEntry"]["applicationId"] == "app-1"]
    assert "--application-id app-1" in compound[0]["remediation"]


def test_missing_null_and_empty_permissions():
    entries = [{"objectId": "u1"}, {"objectId": "u2", "permissions": None}, policy("u3", secrets=[])]
    assert run_rules(RULES, vaults=[ap_vault(*entries)]).findings == []
    assert run_rules(RULES, vaults=[vault_row(rbac=False, accessPolicies=None)]).findings == []
