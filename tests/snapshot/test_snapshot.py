"""The snapshot reader: streaming JSON Lines (plain or gzip), bad rows as gaps, broken files as errors."""

import gzip
import json

import pytest

from audit_function.errors import InputError
from audit_function.snapshot.load import RawSnapshot, load_estate
from tests.factories import (KV_SECRETS_USER, READER, SUB, assignment_row, rg_scope, subscription_row, vault_id,
                             vault_row)


def write_snapshot(directory, tables: dict, gz=(), manifest=None):
    directory.mkdir(parents=True, exist_ok=True)
    for table, rows in tables.items():
        text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
        if table in gz:
            with gzip.open(directory / f"{table}.jsonl.gz", "wt", encoding="utf-8") as handle:
                handle.write(text)
        else:
            (directory / f"{table}.jsonl").write_text(text, encoding="utf-8")
    if manifest is not None:
        (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def basic_tables(**overrides):
    tables = {"subscriptions": [subscription_row()], "role_definitions": [], "vaults": [vault_row()],
              "role_assignments": []}
    tables.update(overrides)
    if not tables["role_definitions"]:  # a real snapshot always has the built-in roles its grants use
        from tests.factories import builtin_definition_rows

        tables["role_definitions"] = builtin_definition_rows(*tables["role_assignments"])
    return tables


def test_reads_plain_and_gzip_tables(tmp_path):
    directory = write_snapshot(tmp_path / "s", basic_tables(role_assignments=[
        assignment_row(vault_id(), KV_SECRETS_USER, "u1")]), gz=("vaults", "role_assignments"))
    estate = load_estate(directory)
    assert [v.name for v in estate.vaults] == ["kv1"]
    assert len(estate.assignments) == 1 and estate.gaps == []


def test_invalid_json_line_stops_the_run_naming_file_and_line(tmp_path):
    directory = write_snapshot(tmp_path / "s", basic_tables(vaults=[vault_row(), '{"id": "/subscriptions/x", oops']))
    with pytest.raises(InputError) as err:
        load_estate(directory)
    assert err.value.line == 2 and err.value.path.endswith("vaults.jsonl")
    assert "vaults.jsonl:2" in str(err.value)


def test_truncated_gzip_is_a_clear_error(tmp_path):
    directory = write_snapshot(tmp_path / "s", basic_tables(vaults=[vault_row(f"kv{i}") for i in range(200)]), gz=("vaults",))
    packed = directory / "vaults.jsonl.gz"
    packed.write_bytes(packed.read_bytes()[:-40])
    with pytest.raises(InputError, match="vaults.jsonl.gz"):
        load_estate(directory)


def test_bad_rows_become_gaps_with_file_and_line(tmp_path):
    bad_vault = vault_row("kv-bad")
    bad_vault["properties"]["enableRbacAuthorization"] = "yes"
    directory = write_snapshot(tmp_path / "s", basic_tables(vaults=[vault_row(), bad_vault, "[1, 2]", "",
                                                                   {"name": "no-id"}]))
    estate = load_estate(directory)
    assert [v.name for v in estate.vaults] == ["kv1"]
    lines = sorted(g.line for g in estate.gaps)
    assert lines == [2, 3, 5]
    reasons = " | ".join(g.reason for g in estate.gaps)
    assert "enableRbacAuthorization must be true, false or null" in reasons and "id is missing" in reasons
    assert all(g.file.endswith("vaults.jsonl") and g.table == "vaults" for g in estate.gaps)


def test_missing_required_table_is_an_error(tmp_path):
    tables = basic_tables()
    del tables["role_assignments"]
    with pytest.raises(InputError, match="role_assignments.jsonl.*required"):
        load_estate(write_snapshot(tmp_path / "s", tables))


def test_plain_and_gzip_of_the_same_table_is_ambiguous(tmp_path):
    directory = write_snapshot(tmp_path / "s", basic_tables())
    write_snapshot(directory, {"vaults": [vault_row()]}, gz=("vaults",))
    with pytest.raises(InputError, match="keep one"):
        load_estate(directory)


def test_not_a_directory_and_missing(tmp_path):
    (tmp_path / "file.json").write_text("{}")
    with pytest.raises(InputError, match="not a file"):
        load_estate(tmp_path / "file.json")
    with pytest.raises(InputError, match="does not exist"):
        load_estate(tmp_path / "nope")


def test_manifest_format_and_gaps_carry_over(tmp_path):
    with pytest.raises(InputError, match="unsupported snapshot format"):
        load_estate(write_snapshot(tmp_path / "a", basic_tables(), manifest={"format": "other/9"}))
    estate = load_estate(write_snapshot(tmp_path / "b", basic_tables(), manifest={
        "format": "kv-audit-snapshot/1", "complete": False,
        "gaps": [{"scope": "/subscriptions/dead", "table": "vaults", "reason": "403 Forbidden"}]}))
    assert [(g.scope, g.reason) for g in estate.gaps] == [("/subscriptions/dead", "403 Forbidden")]


def test_irrelevant_assignments_are_dropped_relevant_and_unknown_kept():
    storage = f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Storage/storageAccounts/st1"
    rows = [
        assignment_row(rg_scope(), READER, "reader"),                        # role grants nothing relevant
        assignment_row(storage, KV_SECRETS_USER, "on-storage"),              # scope can never cover a vault
        assignment_row(rg_scope(), KV_SECRETS_USER, "kept-rg"),
        assignment_row(vault_id() + "/secrets/s1", KV_SECRETS_USER, "kept-object"),
        assignment_row(rg_scope(), "99999999-9999-9999-9999-999999999999", "kept-unknown-role"),
        assignment_row("/", KV_SECRETS_USER, "kept-root"),
        assignment_row(vault_id(), KV_SECRETS_USER, "kept-no-scope", omit_scope=True),
    ]
    estate = load_estate(RawSnapshot(tables=basic_tables(role_assignments=rows)))
    kept = sorted(a.principal_id for a in estate.assignments)
    assert kept == ["kept-no-scope", "kept-object", "kept-rg", "kept-root", "kept-unknown-role"]
    by_principal = {a.principal_id: a for a in estate.assignments}
    assert by_principal["kept-no-scope"].scope_key == vault_id().lower()
    assert estate.counts["role_assignments"]["rows"] == 7


def test_snapshot_role_definitions_override_builtins_and_casing():
    from tests.factories import role_definition_row

    custom = role_definition_row("11111111-2222-3333-4444-555555555555", "Vault Writer",
                                 actions=["Microsoft.KeyVault/vaults/*"], key_case="pascal")
    estate = load_estate(RawSnapshot(tables=basic_tables(role_definitions=[custom])))
    role = estate.role_definitions["11111111-2222-3333-4444-555555555555"]
    assert role.custom and "Microsoft.KeyVault/vaults/write" in role.self_grant
    assert estate.role_definitions[KV_SECRETS_USER].builtin_fallback
