"""The snapshot loader's catalog-2 behaviour: skipped vault rows, duplicate rows, eligible and deny tables."""

import json


from audit_function.snapshot.load import RawSnapshot, load_estate
from rules import ALL_RULES, dead_access_policy, latent_grant, self_grant_path, stranded_access_policy
from tests.factories import (KV_ADMIN, KV_SECRETS_USER, OWNER, SUB, SUB2, assignment_row, deny_row, eligibility_row,
                             policy, rg_scope, role_definition_row, run_rules, subscription_row, vault_id, vault_row)

GET = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
CUSTOM = "cccccccc-1111-2222-3333-444444444444"


def tables(**overrides):
    out = {"subscriptions": [subscription_row(), subscription_row(SUB2)], "role_definitions": [],
           "vaults": [vault_row()], "role_assignments": []}
    out.update(overrides)
    return out


def write_snapshot(directory, tables_: dict):
    directory.mkdir(parents=True, exist_ok=True)
    for table, rows in tables_.items():
        (directory / f"{table}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return directory


def no_properties(name="kv-bare", value=None, drop=False):
    row = vault_row(name, policies=[policy("u1", secrets=["all"])], publicNetworkAccess="Enabled")
    if drop:
        del row["properties"]
    else:
        row["properties"] = value
    return row


# ---------------------------------------------------------------------------------------------
# a vault row without usable properties is bad input, never "every property missing"


def test_vault_row_without_properties_is_a_gap_with_file_and_line(tmp_path):
    vaults = [vault_row(), no_properties("kv-null"), no_properties("kv-missing", drop=True),
              no_properties("kv-list", value=[]), no_properties("kv-string", value="{}")]
    directory = write_snapshot(tmp_path / "snap", tables(vaults=vaults))
    estate = load_estate(directory)
    assert [v.name for v in estate.vaults] == ["kv1"]
    gaps = [g for g in estate.gaps if g.table == "vaults"]
    assert [g.line for g in gaps] == [2, 3, 4, 5]
    assert all(g.file.endswith("vaults.jsonl") for g in gaps)
    assert [g.scope for g in gaps] == [vault_id(n) for n in ("kv-null", "kv-missing", "kv-list", "kv-string")]
    reasons = [g.reason for g in gaps]
    assert "properties is missing" in reasons[0] and "properties is missing" in reasons[1]
    assert "properties must be an object" in reasons[2] and "properties must be an object" in reasons[3]
    assert estate.counts["vaults"] == {"rows": 5, "kept": 1, "skipped": 4}


def test_vault_row_without_properties_gives_no_finding_and_makes_the_run_incomplete():
    # every vault-level rule would fire on "every property missing" (no soft delete, public, access policies)
    run = run_rules(ALL_RULES, vaults=[no_properties("kv-bare")])
    assert run.findings == []
    assert run.report["summary"]["vaults"] == 0 and run.report["run"]["complete"] is False
    (gap,) = run.gaps
    assert gap["scope"] == vault_id("kv-bare") and gap["table"] == "vaults" and gap["line"] == 1
    assert gap["file"] == "vaults (in memory)" and "properties is missing" in gap["reason"]


def test_vault_row_with_empty_properties_is_audited():
    # `{}` is an object: the vault is read, with every property missing (a real, old-style vault)
    row = vault_row("kv-empty")
    row["properties"] = {}
    estate = load_estate(RawSnapshot(tables=tables(vaults=[row])))
    assert [v.name for v in estate.vaults] == ["kv-empty"] and estate.gaps == []
    assert estate.vaults[0].model == "accessPolicy" and estate.vaults[0].soft_delete is None


# ---------------------------------------------------------------------------------------------
# duplicate rows: one kept, the duplicate a gap


def test_duplicate_role_assignment_rows_keep_one_and_report_a_gap():
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1", name="ra-1")
    again = json.loads(json.dumps(ra))
    again["id"] = again["id"].upper()          # ids compare case-insensitively
    estate = load_estate(RawSnapshot(tables=tables(role_assignments=[ra, again])))
    assert [a.id for a in estate.assignments] == [ra["id"]]
    (gap,) = estate.gaps
    assert gap.table == "role_assignments" and gap.scope == again["id"] and "duplicate" in gap.reason


def test_duplicate_role_assignment_gives_one_finding():
    ra = assignment_row(rg_scope(), KV_ADMIN, "u1")
    run = run_rules((latent_grant,), vaults=[vault_row(rbac=False)], assignments=[ra, ra])
    (f,) = run.of("latent-grant")
    assert f["evidence"]["grantCount"] == 1 and len(f["evidence"]["principals"][0]["grants"]) == 1
    assert [g["table"] for g in run.gaps] == ["role_assignments"]


def test_duplicate_role_definition_rows_keep_the_first_and_report_a_gap():
    first = role_definition_row(CUSTOM, "Vault Reader One", data_actions=[GET])
    # the same custom role as listed under another subscription: same GUID, another id spelling
    second = role_definition_row(CUSTOM.upper(), "Vault Reader Two", data_actions=["Microsoft.KeyVault/vaults/*"])
    second["id"] = f"/subscriptions/{SUB2}/providers/Microsoft.Authorization/roleDefinitions/{CUSTOM.upper()}"
    estate = load_estate(RawSnapshot(tables=tables(role_definitions=[first, second])))
    role = estate.role_definitions[CUSTOM]
    assert role.name == "Vault Reader One" and role.id == first["id"]
    (gap,) = estate.gaps
    assert gap.table == "role_definitions" and CUSTOM in gap.reason.lower() and "duplicate" in gap.reason


def test_duplicate_subscription_rows_keep_one_and_report_a_gap():
    first = subscription_row(mgs=("mg-corp",))
    second = subscription_row(mgs=("mg-other",))
    second["subscriptionId"] = SUB.upper()
    estate = load_estate(RawSnapshot(tables=tables(subscriptions=[first, second])))
    assert list(estate.subscriptions) == [SUB] and estate.subscriptions[SUB].management_groups == ("mg-corp",)
    (gap,) = estate.gaps
    assert gap.table == "subscriptions" and "duplicate" in gap.reason


def test_duplicate_vault_rows_keep_one_and_report_a_gap():
    row = vault_row(policies=[policy("u1", secrets=["get"])])
    again = json.loads(json.dumps(row))
    again["id"] = again["id"].lower()
    run = run_rules((stranded_access_policy,), vaults=[row, again])
    assert len(run.of("stranded-access-policy")) == 1 and run.report["summary"]["vaults"] == 1
    assert [(g["table"], g["reason"]) for g in run.gaps] == [("vaults", "duplicate vault row ignored")]


def test_duplicate_deny_rows_keep_one_and_report_a_gap():
    deny = deny_row(vault_id(), data_actions=[GET])
    estate = load_estate(RawSnapshot(tables=tables(deny_assignments=[deny, deny])))
    assert len(estate.denies) == 1
    assert [g.table for g in estate.gaps] == ["deny_assignments"]


def test_duplicate_rows_do_not_claim_that_data_could_not_be_read():
    ra = assignment_row(vault_id(), KV_SECRETS_USER, "u1")
    run = run_rules((dead_access_policy, self_grant_path), vaults=[vault_row(policies=[policy("u1", secrets=["get"])])],
                    assignments=[ra, ra], subscriptions=[subscription_row(), subscription_row()])
    assert len(run.gaps) == 2 and len(run.of("dead-access-policy")) == 1
    assert run.not_evaluated == []


# ---------------------------------------------------------------------------------------------
# eligible assignments


def test_eligibility_rows_are_deduplicated_by_id_whatever_their_status():
    a = eligibility_row(rg_scope(), KV_SECRETS_USER, "u1", name="rei-1", status="Provisioned")
    b = json.loads(json.dumps(a))
    b["properties"]["status"] = "Accepted"
    b["id"] = b["id"].upper()
    c = eligibility_row(rg_scope(), KV_SECRETS_USER, "u2", name="rei-2", status="Revoked")
    estate = load_estate(RawSnapshot(tables=tables(role_eligibilities=[a, b, c])))
    eligible = [g for g in estate.assignments if g.eligible]
    assert sorted(g.principal_id for g in eligible) == ["u1", "u2"]
    assert all(g.eligible for g in estate.assignments)
    run = run_rules((latent_grant,), vaults=[vault_row(rbac=False)], eligibilities=[a, b, c])
    (f,) = run.of("latent-grant")
    assert f["evidence"]["grantCount"] == 2


def test_eligibility_and_role_assignment_are_separate_grants():
    ra = assignment_row(rg_scope(), KV_SECRETS_USER, "u1")
    rei = eligibility_row(rg_scope(), KV_SECRETS_USER, "u1")
    estate = load_estate(RawSnapshot(tables=tables(role_assignments=[ra], role_eligibilities=[rei])))
    assert sorted(g.eligible for g in estate.assignments) == [False, True]
    assert estate.gaps == []


def test_bad_eligibility_and_deny_rows_are_gaps_with_line():
    rei = eligibility_row(rg_scope(), KV_SECRETS_USER, "u1")
    del rei["properties"]["principalId"]
    deny = deny_row(vault_id(), data_actions=[GET])
    deny["properties"]["principals"] = [{"type": "User"}]
    no_children_flag = deny_row(vault_id(), name="deny2", data_actions=[GET])
    no_children_flag["properties"]["doNotApplyToChildScopes"] = "yes"
    estate = load_estate(RawSnapshot(tables=tables(role_eligibilities=[eligibility_row(rg_scope(), OWNER, "o1"), rei],
                                                   deny_assignments=[deny, no_children_flag])))
    by_table = {(g.table, g.line): g.reason for g in estate.gaps}
    assert set(by_table) == {("role_eligibilities", 2), ("deny_assignments", 1), ("deny_assignments", 2)}
    assert "principalId is missing" in by_table[("role_eligibilities", 2)]
    assert "principals[0].id is missing" in by_table[("deny_assignments", 1)]
    assert "doNotApplyToChildScopes" in by_table[("deny_assignments", 2)]
    assert [g.principal_id for g in estate.assignments] == ["o1"] and estate.denies == []


def test_grant_without_a_usable_scope_is_a_gap_and_covers_nothing():
    ra = assignment_row(vault_id(), KV_ADMIN, "u1", omit_scope=True)
    ra["id"] = "ra-without-provider-path"
    rei = eligibility_row(vault_id(), KV_ADMIN, "u2")
    del rei["properties"]["scope"]
    rei["id"] = "rei-without-provider-path"
    run = run_rules((stranded_access_policy,), vaults=[vault_row(policies=[policy("u1", secrets=["get"]),
                                                                           policy("u2", secrets=["get"])])],
                    assignments=[ra], eligibilities=[rei])
    assert {g["table"] for g in run.gaps} == {"role_assignments", "role_eligibilities"}
    assert all("scope is missing" in g["reason"] and g["line"] == 1 for g in run.gaps)
    (f,) = run.of("stranded-access-policy")
    assert f["evidence"]["entriesCount"] == 2


# ---------------------------------------------------------------------------------------------
# optional tables: absent (not collected) vs present (collected, possibly empty)


def test_optional_tables_absent_are_not_collected():
    estate = load_estate(RawSnapshot(tables=tables()))
    assert estate.collected["role_eligibilities"] is False and estate.collected["deny_assignments"] is False
    assert estate.collected["principals"] is False and estate.collected["management_groups"] is False
    assert estate.denies == [] and estate.gaps == []
    assert "role_eligibilities" not in {t for t, c in estate.collected.items() if c}


def test_optional_tables_present_even_empty_are_collected():
    estate = load_estate(RawSnapshot(tables=tables(role_eligibilities=[], deny_assignments=[])))
    assert estate.collected["role_eligibilities"] is True and estate.collected["deny_assignments"] is True
    assert estate.counts["role_eligibilities"] == {"rows": 0, "kept": 0, "skipped": 0}
    full = load_estate(RawSnapshot(tables=tables(role_eligibilities=[eligibility_row(rg_scope(), OWNER, "o1")],
                                                 deny_assignments=[deny_row(vault_id(), actions=["*"])])))
    assert full.collected["role_eligibilities"] and full.collected["deny_assignments"]
    assert len(full.denies) == 1 and [g.eligible for g in full.assignments] == [True]


def test_optional_tables_on_disk(tmp_path):
    without = load_estate(write_snapshot(tmp_path / "a", tables()))
    assert not without.collected["role_eligibilities"] and not without.collected["deny_assignments"]
    with_ = load_estate(write_snapshot(tmp_path / "b", tables(role_eligibilities=[], deny_assignments=[
        deny_row(vault_id(), data_actions=[GET])])))
    assert with_.collected["role_eligibilities"] and with_.collected["deny_assignments"] and len(with_.denies) == 1


def test_an_uncollected_optional_table_is_not_a_gap():
    run = run_rules((stranded_access_policy,), vaults=[vault_row(policies=[policy("u1", secrets=["get"])])])
    assert run.gaps == [] and run.report["run"]["complete"] is True


def test_any_management_group_grant_makes_an_empty_chain_unknown_ancestry_even_one_the_loader_drops():
    """Reader at a management group grants nothing a rule reads (the loader drops it), but it proves
    management groups are in use: a subscription without a chain then has unknown ancestry."""
    from rules import dead_access_policy
    from tests.factories import READER, mg_scope, policy, run_rules, subscription_row, vault_row

    run = run_rules([dead_access_policy], vaults=[vault_row(policies=[policy("p1")])],
                    assignments=[assignment_row(mg_scope("mg-corp"), READER, "auditor")],
                    subscriptions=[subscription_row(mgs=())])
    assert run.findings == []
    assert [(n["ruleId"], "ancestry" in n["reason"]) for n in run.not_evaluated] == [("dead-access-policy", True)]


def test_a_role_definition_row_that_cannot_be_read_is_a_gap_and_the_built_in_role_still_applies():
    """A definition row with null properties, no permissions or a non-string action is bad input: the
    row is skipped (a gap) instead of becoming a role that grants nothing and hides its grants."""
    from rules import self_grant_path
    from tests.factories import policy, run_rules, vault_row

    owner_id = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}"
    bad_rows = [
        {"id": owner_id, "name": OWNER, "properties": None},
        {"id": owner_id, "name": OWNER, "properties": {"roleName": "Owner", "type": "BuiltInRole"}},
        {"id": owner_id, "name": OWNER, "properties": {"roleName": "Owner", "type": "BuiltInRole",
                                                       "permissions": [{"actions": ["*", 7]}]}},
    ]
    for bad in bad_rows:
        run = run_rules([self_grant_path], vaults=[vault_row(rbac=False, policies=[policy("p", secrets=["get"])])],
                        assignments=[assignment_row(f"/subscriptions/{SUB}", OWNER, "owner-1")], definitions=[bad])
        assert [g["table"] for g in run.gaps] == ["role_definitions"], bad
        assert len(run.of("self-grant-path")) == 1, bad   # the built-in Owner the tool knows still applies


def test_a_grant_whose_scope_is_not_an_azure_scope_is_a_gap_not_a_non_vault_resource():
    from tests.factories import OWNER, run_rules, vault_row
    from rules import self_grant_path

    for scope in ("subscriptions/" + SUB, "/subscriptions//resourceGroups/rg", "", "  ", "/subscriptions"):
        row = assignment_row(f"/subscriptions/{SUB}", OWNER, "o1")
        row["properties"]["scope"] = scope
        run = run_rules([self_grant_path], vaults=[vault_row(rbac=False)], assignments=[row])
        if scope.strip():
            assert [g["table"] for g in run.gaps] == ["role_assignments"], scope
        assert run.findings == [] or not scope.strip()
