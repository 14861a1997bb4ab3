"""full-access-policy: entries granting `all` or `purge` (catalog 2: one finding per vault, entries in evidence)."""

from rules import full_access_policy
from rules.base import fingerprint
from tests.factories import OTHER_TENANT, TENANT, policy, principal_row, run_rules, vault_id, vault_row

RULES = (full_access_policy,)
APP = "11111111-aaaa-bbbb-cccc-000000000001"


def ap_vault(*entries, name="kv1", **kw):
    return vault_row(name, rbac=False, policies=entries, **kw)


def entries_of(finding):
    return finding["evidence"]["entries"]


def test_fires_for_all():
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["all"], keys=["get"]))])
    (f,) = run.of("full-access-policy")
    assert f["severity"] == "medium" and f["principalId"] == "u1" and f["vaultId"] == vault_id()
    assert f["subject"] == "vault" and f["fingerprint"] == fingerprint("full-access-policy", vault_id())
    assert f["evidence"]["entriesCount"] == 1
    (item,) = entries_of(f)
    assert item["broadPermissions"] == ["secrets: all"]
    assert item["objectId"] == "u1" and item["tenantId"] == TENANT and item["applicationId"] is None
    assert item["permissions"] == {"secrets": ["all"], "keys": ["get"]}
    assert "secrets: " in item["dataActionsInWords"] and "purge" not in item["dataActionsInWords"]  # all excludes purge
    assert "getSecret" in item["dataActionsInWords"] and item["dataActionCount"] > 2
    assert "secrets: all" in f["message"] and "kv1" in f["message"]
    assert "--secret-permissions '<permissions it needs>'" in f["remediation"]  # quoted: raw, bash reads < > as redirections
    assert "--key-permissions" not in f["remediation"] and "--object-id u1" in f["remediation"]
    assert "--application-id" not in f["remediation"]


def test_fires_for_purge_and_suggests_the_rest():
    run = run_rules(RULES, vaults=[ap_vault(policy("u1", keys=["Get", "PURGE", "List"]))])
    (f,) = run.of("full-access-policy")
    assert entries_of(f)[0]["broadPermissions"] == ["keys: purge"]
    assert "--key-permissions Get List" in f["remediation"]


def test_purge_alone_leaves_nothing_to_keep():
    (f,) = run_rules(RULES, vaults=[ap_vault(policy("u1", secrets=["purge"]))]).of("full-access-policy")
    assert "--secret-permissions '<permissions it needs>'" in f["remediation"]   # quoted: bash would read < > as redirections


def test_does_not_fire_for_explicit_permissions_or_on_rbac_vaults():
    entry = policy("u1", secrets=["get", "list", "set", "delete"], certificates=[], keys=None)
    assert run_rules(RULES, vaults=[ap_vault(entry)]).findings == []
    assert run_rules(RULES, vaults=[vault_row(policies=[policy("u1", secrets=["all"])])]).findings == []


def test_missing_rbac_setting_is_an_access_policy_vault():
    row = vault_row(rbac=None, policies=[policy("u1", secrets=["all"])])
    assert len(run_rules(RULES, vaults=[row]).of("full-access-policy")) == 1


def test_odd_casing_and_every_category():
    entry = policy("u1", Keys=["ALL"], certificates=["All"], storage=["purge"])
    run = run_rules(RULES, vaults=[ap_vault(entry)])
    (f,) = run.of("full-access-policy")
    assert sorted(entries_of(f)[0]["broadPermissions"]) == ["certificates: all", "keys: all", "storage: purge"]
    assert "--certificate-permissions" in f["remediation"] and "--storage-permissions" in f["remediation"]
    assert "--key-permissions" in f["remediation"]


def test_entries_with_the_same_object_id_are_separate_items_of_one_finding():
    entries = [policy("u1", secrets=["all"]), policy("u1", tenant=OTHER_TENANT, secrets=["all"]),
               policy("u1", application_id=APP, keys=["purge"]), policy("u1", keys=["get"])]
    run = run_rules(RULES, vaults=[ap_vault(*entries)])
    (f,) = run.of("full-access-policy")
    assert f["evidence"]["entriesCount"] == 3
    # cross-tenant and compound entries still count: the rule judges the entry's content
    assert [(e["tenantId"], e["applicationId"]) for e in entries_of(f)] == [
        (TENANT, None), (OTHER_TENANT, None), (TENANT, APP)]
    assert "3 access-policy entries" in f["message"] and "keys: purge" in f["message"]


def test_remediation_names_the_first_entry_and_its_application():
    entries = [policy("u1", application_id=APP, keys=["purge", "get"]), policy("u2", secrets=["all"])]
    (f,) = run_rules(RULES, vaults=[ap_vault(*entries)]).of("full-access-policy")
    assert f["principalId"] == "u1"
    assert f"--object-id u1 --application-id {APP}" in f["remediation"] and "--key-permissions get" in f["remediation"]


def test_one_finding_per_vault():
    vaults = [ap_vault(policy("u1", secrets=["all"])), ap_vault(policy("u1", secrets=["all"]), name="kv2"),
              ap_vault(policy("u1", secrets=["get"]), name="kv3")]
    found = run_rules(RULES, vaults=vaults).of("full-access-policy")
    assert sorted(f["vaultId"] for f in found) == sorted([vault_id(), vault_id("kv2")])
    assert len({f["fingerprint"] for f in found}) == 2


def test_evidence_is_capped_at_100():
    entries = [policy(f"u{i:03d}", secrets=["all"]) for i in range(140)]
    (f,) = run_rules(RULES, vaults=[ap_vault(*entries)]).of("full-access-policy")
    assert len(entries_of(f)) == 100 and f["evidence"]["entriesCount"] == 140


def test_principal_names_from_directory_data():
    run = run_rules(RULES, vaults=[ap_vault(policy("U1", secrets=["all"]))], principals=[principal_row("u1")])
    (item,) = entries_of(run.findings[0])
    assert item["principalName"] == "user u1" and item["principalType"] == "user" and item["userType"] == "Member"


def test_missing_null_and_empty_permissions():
    entries = [{"objectId": "u1"}, {"objectId": "u2", "permissions": None}, policy("u3", secrets=[])]
    assert run_rules(RULES, vaults=[ap_vault(*entries)]).findings == []
    assert run_rules(RULES, vaults=[vault_row(rbac=False, accessPolicies=None)]).findings == []
