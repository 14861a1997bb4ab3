"""Defects found in review: unread scopes, unknown ancestry, duplicate entries, odd IP digits."""

from datetime import datetime, timezone

from audit_function.access.engine import AccessIndex
from audit_function.engine.evaluate import evaluate
from audit_function.report.document import build_report
from audit_function.snapshot.load import RawSnapshot, load_estate
from rules import ALL_RULES, RULE_IDS, full_access_policy, migration_gap, public_network_open, stranded_access_policy
from rules.base import RuleContext
from tests.factories import (KV_SECRETS_USER, SUB, SUB2, assignment_row, mg_scope, policy, run_rules, subscription_row,
                             vault_row)

AS_OF = datetime(2026, 11, 23, tzinfo=timezone.utc)
RBAC_VAULT_RULES = {"dead-access-policy", "stranded-access-policy"}   # template deployment is off
POLICY_VAULT_RULES = {"inert-role-assignment", "migration-gap", "latent-grant"}


def report_for(tables, manifest=None):
    estate = load_estate(RawSnapshot(tables=tables, manifest=manifest))
    evaluation = evaluate(estate, ALL_RULES, RuleContext(as_of=AS_OF), index=AccessIndex(estate))
    return build_report(estate, evaluation, RULE_IDS, run={"id": "t"})


def test_a_collection_gap_lists_the_rules_it_leaves_unevaluated_for_each_vault_beneath():
    tables = {"subscriptions": [subscription_row(), subscription_row(SUB2)], "role_definitions": [],
              "vaults": [vault_row("kv1", policies=[policy("p", secrets=["get"])]), vault_row("kv2", sub=SUB2),
                         vault_row("kv3", rbac=False)],
              "role_assignments": []}
    report = report_for(tables, {"complete": False, "gaps": [
        {"scope": f"/subscriptions/{SUB}", "table": "role_assignments", "reason": "page 3 failed"}]})
    assert report["run"]["complete"] is False
    by_vault = {}
    for n in report["run"]["notEvaluated"]:
        by_vault.setdefault((n["vaultId"] or "").rsplit("/", 1)[-1], set()).add(n["ruleId"])
    assert by_vault["kv1"] == RBAC_VAULT_RULES
    assert by_vault["kv3"] == POLICY_VAULT_RULES
    assert "kv2" not in by_vault
    assert {"broad-data-role", "wildcard-custom-role"} <= by_vault[""]


def test_an_unreadable_vault_table_is_named_as_not_evaluated():
    tables = {"subscriptions": [subscription_row()], "role_definitions": [], "vaults": [], "role_assignments": []}
    report = report_for(tables, {"gaps": [{"scope": f"/subscriptions/{SUB2}", "table": "vaults", "reason": "403"}]})
    (entry,) = [n for n in report["run"]["notEvaluated"] if n["ruleId"] == "*"]
    assert entry["scope"] == f"/subscriptions/{SUB2}" and entry["vaultId"] is None


def test_unknown_management_group_ancestry_is_not_a_silent_pass():
    row = vault_row(policies=[policy("p", secrets=["get"])])
    run = run_rules([stranded_access_policy], subscriptions=[subscription_row(SUB2)], vaults=[row],
                    assignments=[assignment_row(mg_scope("mg-corp"), KV_SECRETS_USER, "p")])
    assert any("subscription is not in the snapshot" in n["reason"] for n in run.not_evaluated)
    # without any management-group assignment, unknown ancestry changes nothing and is not reported
    quiet = run_rules([stranded_access_policy], subscriptions=[subscription_row(SUB2)], vaults=[row])
    assert quiet.not_evaluated == []


def test_subscription_comes_from_the_id_when_the_column_is_null():
    row = vault_row(policies=[policy("p", secrets=["get"])])
    row["subscriptionId"] = None
    run = run_rules([stranded_access_policy], vaults=[row],
                    assignments=[assignment_row(mg_scope("mg-corp"), KV_SECRETS_USER, "p")])
    assert run.findings == [] and run.not_evaluated == []
    assert run.report["vaults"][0]["subscriptionId"] == SUB


def test_duplicate_entries_are_distinct_evidence_items_of_one_finding():
    second = policy("P1", keys=["get"])
    del second["tenantId"]                       # defaults to the vault's tenant: the same identity
    entries = [policy("P1", secrets=["get"]), second, policy("p1", secrets=["all"]), policy("P1", secrets=["purge"])]
    run = run_rules([migration_gap, full_access_policy], vaults=[vault_row(rbac=False, policies=entries)])
    # catalog 2: one finding per (rule, vault); every entry is its own evidence item
    assert len(run.findings) == 2 and len({f["fingerprint"] for f in run.findings}) == 2
    (gap,) = run.of("migration-gap")
    assert gap["evidence"]["entriesCount"] == 4
    # each item names its entry by index (what the entry grants is in the access export)
    assert [(e["index"], e["missingDataActionsCount"] > 0) for e in gap["evidence"]["entries"]] == [
        (0, True), (1, True), (2, True), (3, True)]
    assert gap["evidence"]["entries"][1]["missingDataActionsInWords"].startswith("keys:")
    (broad,) = run.of("full-access-policy")
    assert [e["broadPermissions"] for e in broad["evidence"]["entries"]] == [["secrets: all"], ["secrets: purge"]]


def test_an_ip_rule_with_a_non_ascii_digit_is_a_gap_not_a_crash():
    row = vault_row(publicNetworkAccess="Enabled", networkAcls={"defaultAction": "Deny", "ipRules": [{"value": "10.0.0.0/²"}]})
    from rules import firewall_allows_any

    run = run_rules([public_network_open, firewall_allows_any], vaults=[row])
    assert any("10.0.0.0/²" in g["reason"] for g in run.gaps)


BAD_VALUES = {"tenantId": 123, "publicNetworkAccess": 5, "networkAcls": "open", "privateEndpointConnections": "x",
              "enableSoftDelete": "yes", "enablePurgeProtection": "yes"}


def test_every_rule_reading_an_unreadable_property_is_not_evaluated_and_the_rest_run():
    for prop, value in BAD_VALUES.items():
        row = vault_row("kv1", rbac=False, policies=[policy("p", secrets=["all"])], enablePurgeProtection=False)
        row["properties"][prop] = value
        run = run_rules(ALL_RULES, vaults=[row])
        readers = {r.META.id for r in ALL_RULES if prop in r.META.reads}
        assert readers, prop
        # (rules of the deeper tables are listed once, estate-wide, as not collected: not about this vault)
        skipped = {n["ruleId"] for n in run.not_evaluated if n["vaultId"]}
        assert skipped == readers, prop
        assert not readers & {f["ruleId"] for f in run.findings}, prop
        assert "access-policy-model" in {f["ruleId"] for f in run.findings}, prop   # the vault is still audited
        assert any(prop in g["reason"] for g in run.gaps), prop
