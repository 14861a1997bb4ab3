"""The perimeter_associations parser and join (audit_function/estate/perimeters.py): any row either becomes an
association, a profile, a rule or nothing (another type), or is refused with RowError naming why; rules
join their profile by id; malformed rows in a snapshot file are gaps naming file and line."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from audit_function.estate.rows import RowError
from audit_function.estate.perimeters import (ACCESS_RULE, ASSOCIATION, PROFILE, AccessRule, Association, Profile,
                                       perimeter_from_row, resolve)
from audit_function.snapshot.load import load_estate
from tests.factories import (nsp_association_row, nsp_profile_row, nsp_rule_row, perimeter_id, subscription_row,
                             vault_id, vault_row)

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=12)
IDS = st.sampled_from([perimeter_id() + "/resourceAssociations/a", perimeter_id() + "/profiles/p",
                       perimeter_id() + "/profiles/p/accessRules/r", perimeter_id(), "/subscriptions/x", "", "??"])
TYPES = st.sampled_from([ASSOCIATION, PROFILE, ACCESS_RULE, ASSOCIATION.upper(), "microsoft.keyvault/vaults"])
PROPS = st.fixed_dictionaries({}, optional={
    "privateLinkResource": st.one_of(JSON, st.fixed_dictionaries({"id": st.one_of(JSON, st.just(vault_id()))})),
    "profile": st.one_of(JSON, st.fixed_dictionaries({"id": JSON})),
    "accessMode": st.one_of(JSON, st.sampled_from(["Enforced", "learning", "AUDIT", "Transition", "x"])),
    "direction": st.one_of(JSON, st.sampled_from(["Inbound", "outbound"])),
    "addressPrefixes": JSON, "subscriptions": JSON, "networkSecurityPerimeters": JSON, "serviceTags": JSON,
    "fullyQualifiedDomainNames": JSON})


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON, st.fixed_dictionaries({"id": IDS, "type": TYPES, "properties": st.one_of(PROPS, JSON)},
                                            optional={"name": JSON})))
def test_any_row_is_parsed_or_refused_with_a_reason(row):
    try:
        parsed = perimeter_from_row(row)
    except RowError as exc:
        assert str(exc)
        return
    assert parsed is None or isinstance(parsed, (Association, Profile, AccessRule))
    if isinstance(parsed, Association):
        assert parsed.resource_key == vault_id().lower()
        assert parsed.access_mode in ("Learning", "Enforced", "Audit") or parsed.problems
    if isinstance(parsed, AccessRule):
        assert all(isinstance(p, str) for p in parsed.address_prefixes)
        assert parsed.profile_key == (perimeter_id() + "/profiles/p").lower()


def test_ids_in_any_casing_place_rules_under_their_profile_and_associations_under_their_perimeter():
    rule = nsp_rule_row("r1", prefixes=["10.0.0.0/8"])
    rule["id"] = rule["id"].upper()
    assoc = nsp_association_row(vault_id(), mode="enforced")
    rows = [perimeter_from_row(r) for r in (assoc, nsp_profile_row(), rule, nsp_rule_row("r2", profile="other"))]
    (joined,) = resolve(rows)
    assert joined.access_mode == "Enforced" and joined.perimeter_id == perimeter_id()
    assert joined.profile_found and [r.name for r in joined.rules] == ["r1"]
    assert joined.rules[0].address_prefixes == ("10.0.0.0/8",)


def test_transition_is_the_learning_mode():
    assert perimeter_from_row(nsp_association_row(vault_id(), mode="Transition")).access_mode == "Learning"


def test_malformed_rows_in_a_snapshot_file_are_gaps_with_file_and_line(tmp_path):
    good = nsp_association_row(vault_id())
    no_target = nsp_association_row(vault_id("kv2"), name="a2")
    no_target["properties"].pop("privateLinkResource")
    misplaced = nsp_rule_row("r1")
    misplaced["id"] = "/subscriptions/x/providers/Microsoft.Network/accessRules/r1"
    files = {"subscriptions": [subscription_row()], "role_definitions": [], "role_assignments": [],
             "vaults": [vault_row(publicNetworkAccess="SecuredByPerimeter")],
             "perimeter_associations": [good, no_target, nsp_profile_row(), misplaced]}
    for table, rows in files.items():
        (tmp_path / f"{table}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    estate = load_estate(tmp_path)
    gaps = sorted((g.line, g.reason) for g in estate.gaps if g.table == "perimeter_associations")
    assert [line for line, _ in gaps] == [2, 4]
    assert "privateLinkResource.id is missing" in gaps[0][1] and "accessRules" in gaps[1][1]
    assert all(g.file.endswith("perimeter_associations.jsonl") for g in estate.gaps if g.table)
    (vault,) = estate.vaults
    assert [a.name for a in vault.perimeters] == ["assoc-kv1"]   # found: kept despite the gaps
    assert estate.collected["perimeter_associations"] is True
