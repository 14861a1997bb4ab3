"""FunctionSettings.from_env: defaults, parsing, and errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit_function.errors import ConfigError
from audit_function.function.settings import DEFAULT_SCHEDULE, FunctionSettings

BASE = {"AUDIT_STORAGE_ACCOUNT_URL": "https://stkvaudit.blob.core.windows.net/"}
SUB_A = "00000000-0000-0000-0000-00000000000a"
SUB_B = "00000000-0000-0000-0000-00000000000B"


def settings(**env: str) -> FunctionSettings:
    return FunctionSettings.from_env({**BASE, **env})


def error_for(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        FunctionSettings.from_env(env)
    return str(caught.value)


def test_defaults_for_a_deployed_app():
    s = settings()
    assert s.source == "live"
    assert s.schedule == DEFAULT_SCHEDULE == "0 0 6 * * Mon"
    assert s.formats == ("json", "xlsx")
    assert s.container == "kv-audit-reports"
    assert s.storage_account_url == "https://stkvaudit.blob.core.windows.net"
    assert s.uses_identity is True
    assert (s.fail_on, s.fail_on_incomplete, s.tickets, s.config_path) == (None, True, False, None)
    assert (s.management_groups, s.subscriptions) == ((), ())
    assert s.collect_budget_minutes == 40


def test_every_setting_parsed(tmp_path: Path):
    config = tmp_path / "kv-audit.yaml"
    config.write_text("thresholds: {}\n")
    s = FunctionSettings.from_env({
        "AUDIT_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
        "AUDIT_SCHEDULE": "0 30 5 * * Sun",
        "AUDIT_MANAGEMENT_GROUPS": "mg-corp, mg-online",
        "AUDIT_SUBSCRIPTIONS": f"{SUB_A};{SUB_B} {SUB_A}",
        "AUDIT_FORMATS": "JSON",
        "AUDIT_FAIL_ON": "High",
        "AUDIT_FAIL_ON_INCOMPLETE": "false",
        "AUDIT_CONFIG_PATH": str(config),
        "AUDIT_TICKETS": "yes",
        "AUDIT_REPORT_CONTAINER": "audit-2025",
        "AUDIT_COLLECT_BUDGET_MINUTES": "25",
    })
    assert s.collect_budget_minutes == 25
    assert s.schedule == "0 30 5 * * Sun"
    assert s.management_groups == ("mg-corp", "mg-online")
    assert s.subscriptions == (SUB_A, SUB_B)  # duplicates dropped, order kept
    assert s.formats == ("json",)
    assert s.fail_on == "high"
    assert s.fail_on_incomplete is False
    assert s.config_path == config
    assert s.tickets is True
    assert s.container == "audit-2025"
    assert s.storage_connection_string == "UseDevelopmentStorage=true"
    assert s.uses_identity is False


def test_connection_string_never_appears_in_repr_or_log_summary():
    s = FunctionSettings.from_env({"AUDIT_STORAGE_CONNECTION_STRING": "AccountKey=s3cret;BlobEndpoint=x"})
    assert "s3cret" not in repr(s)
    assert "s3cret" not in str(s.describe())


def test_relative_paths_are_taken_from_the_app_root(tmp_path: Path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "kv-audit.yaml").write_text("{}\n")
    (tmp_path / "snap").mkdir()
    s = FunctionSettings.from_env({**BASE, "AUDIT_CONFIG_PATH": "conf/kv-audit.yaml",
                                   "AUDIT_SOURCE": "snapshot", "AUDIT_SNAPSHOT_PATH": "snap"}, app_root=tmp_path)
    assert s.config_path == tmp_path / "conf" / "kv-audit.yaml"
    assert s.snapshot_path == tmp_path / "snap"


def test_fail_on_none_words():
    assert settings(AUDIT_FAIL_ON="none").fail_on is None
    assert settings(AUDIT_FAIL_ON=" ").fail_on is None


@pytest.mark.parametrize("env, setting, words", [
    ({"AUDIT_FAIL_ON": "critical"}, "AUDIT_FAIL_ON", "'critical' is not one of high, medium, low"),
    ({"AUDIT_SOURCE": "prod"}, "AUDIT_SOURCE", "'prod' is not one of live, demo, snapshot"),
    ({"AUDIT_SCHEDULE": "0 6 * * Mon"}, "AUDIT_SCHEDULE", "six-field NCRONTAB"),
    ({"AUDIT_SUBSCRIPTIONS": "not-a-guid"}, "AUDIT_SUBSCRIPTIONS", "'not-a-guid' is not a subscription id"),
    ({"AUDIT_MANAGEMENT_GROUPS": "mg/corp"}, "AUDIT_MANAGEMENT_GROUPS", "'mg/corp' is not a management group id"),
    ({"AUDIT_FORMATS": "json,pdf"}, "AUDIT_FORMATS", "'pdf' is not a report format"),
    ({"AUDIT_FORMATS": "xlsx"}, "AUDIT_FORMATS", "must include json"),
    ({"AUDIT_FAIL_ON_INCOMPLETE": "maybe"}, "AUDIT_FAIL_ON_INCOMPLETE", "not a boolean"),
    ({"AUDIT_TICKETS": "2"}, "AUDIT_TICKETS", "not a boolean"),
    ({"AUDIT_TICKETS": "true"}, "AUDIT_TICKETS", "true needs AUDIT_CONFIG_PATH"),
    ({"AUDIT_COLLECT_BUDGET_MINUTES": "0"}, "AUDIT_COLLECT_BUDGET_MINUTES", "not a whole number from 1 to 1440"),
    ({"AUDIT_COLLECT_BUDGET_MINUTES": "half"}, "AUDIT_COLLECT_BUDGET_MINUTES", "not a whole number"),
    ({"AUDIT_CONFIG_PATH": "/nonexistent/kv-audit.yaml"}, "AUDIT_CONFIG_PATH", "is not a file"),
    ({"AUDIT_REPORT_CONTAINER": "Reports_2025"}, "AUDIT_REPORT_CONTAINER", "not a valid container name"),
    ({"AUDIT_SOURCE": "snapshot"}, "AUDIT_SNAPSHOT_PATH", "required when AUDIT_SOURCE=snapshot"),
    ({"AUDIT_SNAPSHOT_PATH": "/tmp"}, "AUDIT_SNAPSHOT_PATH", "set, but AUDIT_SOURCE is 'live'"),
    ({"AUDIT_STORAGE_ACCOUNT_URL": "http://stkvaudit.blob.core.windows.net"}, "AUDIT_STORAGE_ACCOUNT_URL", "https is required"),
    ({"AUDIT_STORAGE_ACCOUNT_URL": "https://x.blob.core.windows.net/reports"}, "AUDIT_STORAGE_ACCOUNT_URL", "not a blob service URL"),
])
def test_bad_setting_is_named(env, setting, words):
    message = error_for({**BASE, **env})
    assert f"{setting}: " in message
    assert words in message


def test_storage_must_be_set_exactly_once():
    assert "AUDIT_STORAGE_ACCOUNT_URL: not set (nor AUDIT_STORAGE_CONNECTION_STRING)" in error_for({})
    both = error_for({**BASE, "AUDIT_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"})
    assert "set together with AUDIT_STORAGE_CONNECTION_STRING" in both


def test_all_problems_reported_at_once():
    message = error_for({"AUDIT_FAIL_ON": "urgent", "AUDIT_FORMATS": "csv-ish", "AUDIT_SOURCE": "x"})
    for name in ("AUDIT_FAIL_ON", "AUDIT_FORMATS", "AUDIT_SOURCE", "AUDIT_STORAGE_ACCOUNT_URL"):
        assert f"  {name}: " in message
    assert message.startswith("invalid Function app settings:")


def test_audit_options_follow_the_settings(tmp_path: Path):
    from audit_function.pipeline.run import AuditOptions

    s = settings(AUDIT_MANAGEMENT_GROUPS="mg-corp", AUDIT_SUBSCRIPTIONS=SUB_A, AUDIT_FAIL_ON="medium")
    marker = object()
    options = s.audit_options(live={"credential": marker})
    assert isinstance(options, AuditOptions)
    assert options.source == "live"
    assert options.scope.management_groups == ("mg-corp",)
    assert options.scope.subscriptions == (SUB_A,)
    assert options.formats == ("json", "xlsx")
    assert options.fail_on == "medium"
    assert options.live == {"credential": marker, "deep": True}   # AUDIT_DEEP is on unless set false
    options.validate()

    demo = settings(AUDIT_SOURCE="demo").audit_options()
    assert (demo.source, demo.scope, demo.live) == ("demo", None, {})


def test_audit_deep_is_on_by_default_and_can_be_turned_off():
    assert settings().deep is True and settings().describe()["deep"] is True
    off = settings(AUDIT_DEEP="false")
    assert off.deep is False and off.audit_options().live == {"deep": False}
    assert "AUDIT_DEEP" in error_for({"AUDIT_DEEP": "sometimes"})
