"""``owner`` on every finding (report 2): the first configured owner tag on the vault, else on its
resource group (resource_groups.jsonl), else on its subscription; grant and role-definition findings
take the owner of their scope when it is a vault, resource group or subscription of the estate."""

from __future__ import annotations

from audit_function.estate.owners import Owners, resource_group_from_row
from audit_function.snapshot.load import RawSnapshot, load_estate
from rules import broad_data_role, soft_delete_disabled, wildcard_custom_role
from tests.factories import (
    KV_SECRETS_USER,
    SUB,
    SUB2,
    assignment_row,
    mg_scope,
    resource_group_row,
    rg_scope,
    role_definition_row,
    run_rules,
    subscription_row,
    vault_id,
    vault_row,
)

OPEN = {"enableSoftDelete": False}   # soft-delete-disabled fires: one vault finding


def owner_of_vault_finding(vault_tags=None, rg_tags=None, sub_tags=None, *, owner_tags=None, rg_row=None):
    groups = None
    if rg_row is not None:
        groups = [rg_row]
    elif rg_tags is not None:
        groups = [resource_group_row("rg-app", SUB, rg_tags)]
    run = run_rules((soft_delete_disabled,), vaults=[vault_row("kv1", tags=vault_tags, **OPEN)],
                    subscriptions=[subscription_row(SUB, tags=sub_tags), subscription_row(SUB2)],
                    resource_groups=groups, owner_tags=owner_tags)
    [finding] = run.findings
    return finding["owner"]


def test_no_owner_tag_anywhere_is_null():
    assert owner_of_vault_finding() is None
    assert owner_of_vault_finding({"env": "prod"}, {"costCenter": "CC1"}, {"env": "prod"}) is None


def test_vault_tag_wins_over_resource_group_and_subscription():
    assert owner_of_vault_finding({"owner": "vault-team"}, {"owner": "rg-team"}, {"owner": "sub-team"}) == "vault-team"


def test_resource_group_wins_over_subscription():
    assert owner_of_vault_finding({"env": "prod"}, {"Owner": "rg-team"}, {"owner": "sub-team"}) == "rg-team"


def test_subscription_when_vault_and_resource_group_have_none():
    assert owner_of_vault_finding({}, {"env": "dev"}, {"technicalContact": "sub-team@contoso.com"}) \
        == "sub-team@contoso.com"
    # no resource_groups table at all: straight from the vault to the subscription
    assert owner_of_vault_finding({}, None, {"owner": "sub-team"}) == "sub-team"


def test_default_tag_names_in_order():
    assert owner_of_vault_finding({"technicalContact": "c", "Owner": "b", "owner": "a"}) == "a"
    assert owner_of_vault_finding({"technicalContact": "c", "Owner": "b"}) == "b"
    assert owner_of_vault_finding({"technicalContact": "c"}) == "c"


def test_configured_tag_names_and_their_order():
    tags = {"owner": "from-owner", "team": "from-team"}
    assert owner_of_vault_finding(tags, owner_tags=["team", "owner"]) == "from-team"
    assert owner_of_vault_finding(tags, owner_tags=["owner", "team"]) == "from-owner"
    # a configured list replaces the defaults: 'owner' is no longer looked at
    assert owner_of_vault_finding({"owner": "x"}, owner_tags=["team"]) is None
    # each level is searched for every name before the next level: the vault's second name beats the RG's first
    assert owner_of_vault_finding({"owner": "vault"}, {"team": "rg"}, owner_tags=["team", "owner"]) == "vault"


def test_tag_names_match_in_the_case_configured():
    assert owner_of_vault_finding({"OWNER": "shouting"}) is None
    assert owner_of_vault_finding({"OWNER": "shouting"}, owner_tags=["OWNER"]) == "shouting"
    assert owner_of_vault_finding({"team": "lower"}, owner_tags=["Team"]) is None


def test_tag_values_that_are_not_strings_or_are_blank_are_ignored():
    assert owner_of_vault_finding({"owner": 5, "Owner": "the-string"}) == "the-string"
    assert owner_of_vault_finding({"owner": ["a", "b"]}, {"owner": {"x": 1}}, {"owner": "sub"}) == "sub"
    assert owner_of_vault_finding({"owner": "   ", "Owner": None}, {"owner": True}) is None
    assert owner_of_vault_finding({"owner": "  padded  "}) == "padded"


def test_resource_group_ids_match_whatever_their_casing():
    row = resource_group_row("RG-App", SUB.upper(), {"owner": "rg-team"})
    row["id"] = row["id"].replace("resourceGroups", "RESOURCEGROUPS")
    assert owner_of_vault_finding({}, rg_row=row) == "rg-team"
    # a row without an id is keyed by subscriptionId and name
    bare = {"name": "rg-app", "subscriptionId": SUB, "tags": {"owner": "bare"},
            "type": "microsoft.resources/subscriptions/resourcegroups"}
    assert owner_of_vault_finding({}, rg_row=bare) == "bare"


def test_bad_resource_group_rows_are_gaps_and_odd_tags_are_no_tags():
    estate = load_estate(RawSnapshot(tables={
        "subscriptions": [subscription_row()], "role_definitions": [], "vaults": [], "role_assignments": [],
        "resource_groups": [{"id": "/subscriptions/x/resourceGroups/rg/providers/a/b/c", "tags": {}},
                            {"tags": {"owner": "nobody"}},
                            resource_group_row("rg-1", SUB, "not an object"),
                            resource_group_row("rg-1", SUB, {"owner": "dup"})]}))
    assert [g.table for g in estate.gaps] == ["resource_groups"] * 3
    assert "not a resource group id" in estate.gaps[0].reason and "id is missing" in estate.gaps[1].reason
    assert "duplicate" in estate.gaps[2].reason
    assert estate.resource_groups == {rg_scope(SUB, "rg-1").lower(): {}}
    assert estate.collected["resource_groups"] is True
    assert resource_group_from_row(resource_group_row("rg-1", SUB, None)).tags == {}


def broad(scope, name):
    return assignment_row(scope, KV_SECRETS_USER, "u1", name=name)


def test_grant_findings_take_the_owner_of_their_scope():
    other_sub = "00000000-0000-0000-0000-0000000000ff"   # not in the estate
    run = run_rules(
        (broad_data_role,),
        vaults=[vault_row("kv1", tags={"owner": "vault-team"})],
        assignments=[broad(f"/subscriptions/{SUB}", "at-sub"), broad(rg_scope(SUB, "rg-app"), "at-rg"),
                     broad(rg_scope(SUB, "rg-bare"), "at-bare-rg"), broad(mg_scope("mg-corp"), "at-mg"),
                     broad("/", "at-root"), broad(f"/subscriptions/{other_sub}", "at-foreign-sub"),
                     broad(f"/subscriptions/{SUB2}", "at-sub2")],
        subscriptions=[subscription_row(SUB, tags={"owner": "sub-team"}), subscription_row(SUB2)],
        resource_groups=[resource_group_row("rg-app", SUB, {"owner": "rg-team"})])
    owners = {f["assignmentId"].rsplit("/", 1)[-1]: f["owner"] for f in run.findings}
    assert owners == {"at-sub": "sub-team", "at-rg": "rg-team", "at-bare-rg": "sub-team", "at-mg": None,
                      "at-root": None, "at-foreign-sub": None, "at-sub2": None}


def test_role_definition_findings_take_the_owner_of_the_scope_the_role_is_defined_at():
    guid = "cccccccc-0000-0000-0000-000000000001"
    role = role_definition_row(guid, "Secrets star", data_actions=["Microsoft.KeyVault/vaults/secrets/*"])
    run = run_rules((wildcard_custom_role,), vaults=[vault_row("kv1")], definitions=[role],
                    assignments=[assignment_row(rg_scope(), guid, "u1", name="ra1")],
                    subscriptions=[subscription_row(SUB, tags={"Owner": "role-author"}), subscription_row(SUB2)],
                    resource_groups=[resource_group_row("rg-app", SUB, {"owner": "rg-team"})])
    [finding] = run.findings
    assert finding["owner"] == "role-author"


def test_role_definition_without_an_owned_scope_takes_the_one_owner_its_grants_share():
    guid = "cccccccc-0000-0000-0000-000000000002"
    role = role_definition_row(guid, "Secrets star", data_actions=["Microsoft.KeyVault/vaults/secrets/*"])
    run = run_rules((wildcard_custom_role,), vaults=[vault_row("kv1"), vault_row("kv2", rg="rg-two")],
                    definitions=[role], assignments=[assignment_row(rg_scope(), guid, "u1", name="ra1")],
                    resource_groups=[resource_group_row("rg-app", SUB, {"owner": "rg-team"}),
                                     resource_group_row("rg-two", SUB, {"owner": "other-team"})])
    assert run.findings[0]["owner"] == "rg-team"
    run = run_rules((wildcard_custom_role,), vaults=[vault_row("kv1"), vault_row("kv2", rg="rg-two")],
                    definitions=[role], assignments=[assignment_row(rg_scope(), guid, "u1", name="ra1"),
                                                     assignment_row(rg_scope(rg="rg-two"), guid, "u2", name="ra2")],
                    resource_groups=[resource_group_row("rg-app", SUB, {"owner": "rg-team"}),
                                     resource_group_row("rg-two", SUB, {"owner": "other-team"})])
    assert run.findings[0]["owner"] is None   # two owners: none is the owner


def test_scopes_inside_and_outside_the_estate():
    estate = load_estate(RawSnapshot(tables={
        "subscriptions": [subscription_row(SUB, tags={"owner": "sub-team"})], "role_definitions": [],
        "vaults": [vault_row("kv1", tags={"owner": "vault-team"}), vault_row("kv2")], "role_assignments": [],
        "resource_groups": [resource_group_row("rg-app", SUB, {"owner": "rg-team"})]}))
    owners = Owners(estate)
    assert owners.of_scope(vault_id("kv1")) == "vault-team"
    assert owners.of_scope(vault_id("kv1").upper() + "/") == "vault-team"
    assert owners.of_scope(vault_id("kv1") + "/secrets/db-password") == "vault-team"   # an object in the vault
    assert owners.of_scope(vault_id("kv2")) == "rg-team"                               # the vault's chain
    assert owners.of_scope(vault_id("kv-gone")) is None                                 # not in the estate
    assert owners.of_scope(rg_scope(SUB, "rg-app") + "/providers/Microsoft.Web/sites/app") is None
    assert owners.of_scope(f"/subscriptions/{SUB2}/resourceGroups/rg-app") is None
    assert owners.of_scope(None) is None and owners.of_scope("") is None
    assert Owners(estate, ("team",)).of_scope(vault_id("kv1")) is None


def test_unread_resource_groups_leave_every_rule_evaluated_and_the_owner_falls_back():
    from audit_function.access.engine import AccessIndex
    from audit_function.engine.evaluate import evaluate
    from rules.base import RuleContext
    from tests.factories import AS_OF

    manifest = {"complete": False, "gaps": [{"scope": f"/subscriptions/{SUB}", "table": "resource_groups",
                                            "reason": "forbidden"}]}
    estate = load_estate(RawSnapshot(tables={
        "subscriptions": [subscription_row(SUB, tags={"owner": "sub-team"})], "role_definitions": [],
        "vaults": [vault_row("kv1", **OPEN)], "role_assignments": [], "resource_groups": []}, manifest=manifest))
    out = evaluate(estate, (soft_delete_disabled,), RuleContext(as_of=AS_OF, owners=Owners(estate)),
                   index=AccessIndex(estate))
    assert not out.not_evaluated
    assert [f["owner"] for f in out.findings] == ["sub-team"]
