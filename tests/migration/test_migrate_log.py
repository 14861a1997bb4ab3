"""The migration resume log: the shared JSON Lines format, durable appends, torn records, finished vaults."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_function.errors import InputError
from audit_function.migration.resume_log import RESULTS, STEPS, ResumeLog, read, record

V1 = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-1"
V2 = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-2"


def test_record_has_exactly_the_shared_fields_and_rejects_unknown_steps():
    item = record(V1, "verify", "ok", "done", at="2026-12-01T00:00:00Z")
    assert item == {"vaultId": V1, "step": "verify", "result": "ok", "detail": "done", "at": "2026-12-01T00:00:00Z"}
    with pytest.raises(ValueError):
        record(V1, "flipped", "ok")
    with pytest.raises(ValueError):
        record(V1, "flip", "maybe")


def test_finished_is_the_last_verify_or_rollback_line(tmp_path):
    log = ResumeLog(tmp_path / "m.log")
    log.append(V1, "flip", "ok")
    log.append(V1, "verify", "ok")
    log.append(V2, "verify", "ok")
    log.append(V2, "rollback", "ok")
    log.append(V1, "preflight", "skipped", "already migrated")
    assert read(tmp_path / "m.log").finished() == {V1.lower()}
    log.append(V2, "verify", "failed")
    assert read(tmp_path / "m.log").finished() == {V1.lower()}


def test_a_torn_record_is_set_aside_and_the_next_append_starts_a_new_line(tmp_path):
    path = tmp_path / "m.log"
    path.write_text(json.dumps(record(V1, "verify", "ok")) + "\n" + '{"vaultId": "' + V2[:20], encoding="utf-8")
    log = ResumeLog(path)
    assert log.state.torn is not None and log.state.finished() == {V1.lower()}
    log.append(V2, "preflight", "ok")
    again = read(path)
    assert [r["vaultId"] for r in again.records] == [V1, V2] and again.torn is not None
    assert path.read_text().splitlines()[-1].startswith('{"vaultId": "' + V2)


@pytest.mark.parametrize("garbage", ["not json at all", "[1, 2]", '{"step": "verify"}', "\x00\x01"])
def test_a_file_that_is_not_a_migration_log_is_an_input_error_naming_the_line(tmp_path, garbage):
    path = tmp_path / "m.log"
    path.write_text(json.dumps(record(V1, "flip", "ok")) + "\n" + garbage + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"m\.log:2"):
        read(path)


records = st.builds(record, st.text(min_size=1, max_size=30), st.sampled_from(STEPS), st.sampled_from(RESULTS),
                    st.text(max_size=60))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(st.lists(records, max_size=8), st.integers(min_value=1, max_value=200))
def test_any_records_round_trip_and_any_cut_of_the_last_one_is_tolerated(tmp_path_factory, items, cut):
    path = tmp_path_factory.mktemp("log") / "m.log"
    log = ResumeLog(path)
    for item in items:
        log.append(item["vaultId"], item["step"], item["result"], item["detail"])
    back = read(path)
    assert [(r["vaultId"], r["step"], r["result"], r["detail"]) for r in back.records] == \
        [(r["vaultId"], r["step"], r["result"], r["detail"]) for r in items]
    if items:
        data = path.read_bytes()
        last = data.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        keep = max(1, min(len(last) - 1, cut))
        path.write_bytes(data[: len(data) - len(last) - 1] + last[:keep])
        torn = read(path)
        assert len(torn.records) == len(items) - 1 and torn.torn is not None
