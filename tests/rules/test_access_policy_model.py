"""access-policy-model: vaults that authorize data access with access policies."""

from rules import access_policy_model
from tests.factories import policy, run_rules, vault_id, vault_row

RULES = (access_policy_model,)


def test_fires_for_access_policy_vault():
    run = run_rules(RULES, vaults=[vault_row(rbac=False, policies=[policy("u1", secrets=["get"])])])
    (f,) = run.of("access-policy-model")
    assert f["severity"] == "medium" and f["vaultId"] == vault_id() and f["vaultName"] == "kv1"
    assert f["evidence"] == {"enableRbacAuthorization": False, "accessPolicyCount": 1}
    assert "kv1" in f["message"] and "1 access policy entry" in f["message"]
    assert "--name kv1 --resource-group rg-app --enable-rbac-authorization true" in f["remediation"]


def test_does_not_fire_for_rbac_vault():
    assert run_rules(RULES, vaults=[vault_row(rbac=True)]).findings == []


def test_missing_or_null_flag_means_access_policies():
    missing = run_rules(RULES, vaults=[vault_row(rbac=None)])
    null = run_rules(RULES, vaults=[vault_row(enableRbacAuthorization=None)])
    assert len(missing.of("access-policy-model")) == 1 and len(null.of("access-policy-model")) == 1
    assert "0 access policy entries" in missing.findings[0]["message"]


def test_non_boolean_flag_is_a_gap_not_a_finding():
    run = run_rules(RULES, vaults=[vault_row(enableRbacAuthorization="true")])
    assert run.findings == []
    assert run.gaps and "enableRbacAuthorization" in run.gaps[0]["reason"]


def test_one_finding_per_vault_with_stable_fingerprint():
    rows = [vault_row("kv1", rbac=False), vault_row("KV2", rbac=False, policies=[policy("u", keys=["get"])] * 2)]
    first = run_rules(RULES, vaults=rows)
    again = run_rules(RULES, vaults=rows)
    assert len(first.findings) == 2
    assert [f["fingerprint"] for f in first.findings] == [f["fingerprint"] for f in again.findings]
    assert len({f["fingerprint"] for f in first.findings}) == 2


def test_evidence_shows_the_setting_as_found():
    from rules import access_policy_model
    from tests.factories import run_rules, vault_row

    missing = run_rules([access_policy_model], vaults=[vault_row(rbac=None)]).findings[0]
    explicit = run_rules([access_policy_model], vaults=[vault_row(rbac=False)]).findings[0]
    assert missing["evidence"]["enableRbacAuthorization"] is None
    assert explicit["evidence"]["enableRbacAuthorization"] is False


def test_null_ip_rules_are_ignored_not_gaps():
    from rules import firewall_allows_any
    from tests.factories import run_rules, vault_row

    row = vault_row(publicNetworkAccess="Enabled", networkAcls={"defaultAction": "Deny", "ipRules": [None, {"value": "1.2.3.4"}]})
    run = run_rules([firewall_allows_any], vaults=[row])
    assert run.gaps == [] and run.findings == []
