"""``kv-audit migrate`` on the demo estate with the real azure-mgmt-keyvault and azure-mgmt-authorization clients
against the stateful local HTTPS ARM fake (tests/fakes/arm_vaults.py), on a virtual clock."""

from __future__ import annotations

import io
import json
import os
import time
from contextlib import redirect_stderr, redirect_stdout

import pytest
from azure.core.credentials import AccessToken

from audit_function.pipeline.run import demo_snapshot
from audit_function.cli.main import build_parser, main
from audit_function.migration.drift import assignment_name
from audit_function.cli.migrate import cmd_migrate
from audit_function.migration.resume_log import read as read_log
from audit_function.snapshot.load import iter_rows, table_path
from tests.fakes.arm_vaults import FakeArmVaults, VaultFaults
from tests.fakes.clock import VirtualClock
from tests.fakes.identity_server import live_azure

READY = "kv-corp-shared"
NEEDS = "kv-legacy-2016"
BLOCKED = ("kv-fabrikam-erp", "kv-adds-dsc", "kv-online-frontend")
REVIEW = ("kv-lab-scratch", "kv-backup-mgmt", "kv-identity-shared", "kv-web-certs")
TENANT = "aec79203-564d-5bb6-9c5a-1feb29fc6c27"


def demo_tables() -> dict[str, list]:
    folder = demo_snapshot()
    out = {}
    for table in ("vaults", "role_assignments", "subscriptions", "management_groups"):
        path = table_path(folder, table)
        out[table] = [row for _, row in iter_rows(path)] if path else []
    return out


TABLES = demo_tables()
VAULT_IDS = {r["name"]: r["id"] for r in TABLES["vaults"]}


class Credential:
    def __init__(self, token="fake-token"):
        self.token = token

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self.token, int(time.time()) + 3600)


@pytest.fixture(autouse=True)
def hermetic(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("AZURE_", "IDENTITY_", "MSI_", "IMDS_", "KV_AUDIT_")) or name in (
                "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def clock():
    return VirtualClock()


@pytest.fixture
def make_arm(tmp_path, monkeypatch):
    started = []

    def make(**faults):
        fake = FakeArmVaults(TABLES, faults=VaultFaults(**faults), token="fake-token",
                             cert_dir=tmp_path / f"tls{len(started)}", tenant=TENANT)
        started.append(fake)
        monkeypatch.setenv("KV_AUDIT_ARM_ENDPOINT", fake.url)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.ca_path))
        return fake

    yield make
    for fake in started:
        fake.close()


@pytest.fixture
def migrate(tmp_path, clock):
    """migrate(*argv) -> (exit code, stdout, stderr); --out defaults to tmp_path/out."""

    def run(*argv, sleep=None):
        argv = list(argv)
        if "--out" not in argv:
            argv += ["--out", str(tmp_path / "out")]
        if "--settle" not in argv and "--rollback" not in argv:   # a short settle, explicitly (default 600 s)
            argv += ["--settle", "1"]
        args = build_parser().parse_args(["migrate", *argv])
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            rc = cmd_migrate(args, credential=Credential(), sleep=sleep or clock.sleep, clock=clock.now)
        return rc, out.getvalue(), err.getvalue()

    return run


def state(fake) -> dict[str, object]:
    return {name: fake.rbac(vid) for name, vid in VAULT_IDS.items()}


def test_demo_apply_flips_ready_and_needs_assignments_and_leaves_the_others(make_arm, migrate, tmp_path, clock):
    # one transient 503 (request 2), a 429 with Retry-After (request 6), new assignments listed after 2 listings
    fake = make_arm(visible_after=2, script={2: "503", 6: "429"}, retry_after=3)
    before = state(fake)
    rc, out, err = migrate("--demo", "--apply")
    assert rc == 0, (out, err)
    after = state(fake)
    assert after[READY] is True and after[NEEDS] is True
    for name in BLOCKED + REVIEW:
        assert after[name] == before[name], name
        assert f"{name} [" in out and "never acted on" in out
    # the ready vault first; the flips are PATCHes carrying only enableRbacAuthorization
    patches = [e for e in fake.writes() if e["method"] == "PATCH"]
    assert [p["path"].rsplit("/", 1)[-1] for p in patches] == [READY, NEEDS]
    assert all(p["body"] == {"properties": {"enableRbacAuthorization": True}} for p in patches)
    assert not [e for e in fake.log if e["method"] == "PUT" and "roleassignments" not in e["path"]]
    # the access policies are untouched
    for name in (READY, NEEDS):
        row = next(r for r in TABLES["vaults"] if r["name"] == name)
        assert fake.vault(VAULT_IDS[name])["properties"]["accessPolicies"] == row["properties"]["accessPolicies"]
    # three assignments for kv-legacy-2016, deterministic names, at the vault, with the planned roles
    puts = [e for e in fake.writes() if e["method"] == "PUT"]
    assert len(puts) == 3
    vid = VAULT_IDS[NEEDS].lower()
    roles = {e["body"]["properties"]["roleDefinitionId"].rsplit("/", 1)[-1] for e in puts}
    assert roles == {"b86a8fe4-44ce-4948-aee5-eccb2c155cd7", "00482a5a-887f-4fb3-b363-3b7fe8e74483",
                     "4633458b-17de-408a-b874-0445c86b69e6"}
    for e in puts:
        props = e["body"]["properties"]
        assert e["path"] == f"{vid}/providers/microsoft.authorization/roleassignments/" + assignment_name(
            VAULT_IDS[NEEDS], props["principalId"], props["roleDefinitionId"].rsplit("/", 1)[-1])
    # the faults were answered and retried: the 503 with back-off, the 429 after its Retry-After
    assert fake.statuses[503] == 1 and fake.statuses[429] == 1 and 3 in clock.sleeps
    # waited for visibility by polling (virtual time), within the bound
    assert clock.sleeps.count(10.0) >= 1
    # log: one line per step, verify ok for both; rollback files written
    log = read_log(tmp_path / "out" / "kv-audit-migrate.log")
    assert log.torn is None
    steps = [(r["vaultId"].rsplit("/", 1)[-1], r["step"], r["result"]) for r in log.records]
    assert steps == [(READY, "preflight", "ok"), (READY, "assign", "skipped"), (READY, "preflight", "ok"),
                     (READY, "flip", "ok"), (READY, "verify", "ok"),
                     (NEEDS, "preflight", "ok"), (NEEDS, "assign", "ok"), (NEEDS, "visible", "ok"),
                     (NEEDS, "preflight", "ok"), (NEEDS, "flip", "ok"), (NEEDS, "verify", "ok")]
    assert all(set(r) == {"vaultId", "step", "result", "detail", "at"} for r in log.records)
    rollbacks = sorted((tmp_path / "out" / "rollback").glob("*.json"))
    assert len(rollbacks) == 2
    doc = json.loads(rollbacks[0].read_text())
    assert doc["rollback"] == {"method": "PATCH", "properties": {"enableRbacAuthorization": False}}
    assert "access policies were not changed" in doc["note"]

    # a second run does nothing: no write, both vaults skipped from the log, exit 0
    writes = len(fake.writes())
    rc, out, _ = migrate("--demo", "--apply")
    assert rc == 0 and len(fake.writes()) == writes
    assert f"{READY} [ready]: skipped" in out and f"{NEEDS} [needs-assignments]: skipped" in out


def test_dry_run_reads_live_state_and_changes_nothing(make_arm, migrate, tmp_path, clock):
    fake = make_arm(script={1: "429-lower"}, retry_after=4)      # a lower-case retry-after is honoured too
    rc, out, err = migrate("--demo")
    assert rc == 0, err
    assert fake.statuses[429] == 1 and clock.sleeps[0] == 4
    assert not fake.writes() and fake.requests > 0
    assert "dry run: nothing changed" in out
    assert f"{NEEDS} [needs-assignments]: would-migrate" in out
    assert out.count("would assign ") == 3
    assert "would set enableRbacAuthorization=true" in out
    assert not (tmp_path / "out" / "kv-audit-migrate.log").exists()


def test_a_policy_added_between_plan_and_run_stops_exactly_that_vault(make_arm, migrate):
    fake = make_arm()
    intruder = "12345678-0000-4000-8000-00000000abcd"
    fake.add_policy(VAULT_IDS[NEEDS], {"tenantId": TENANT, "objectId": intruder,
                                       "permissions": {"secrets": ["get"]}})
    rc, out, err = migrate("--demo", "--apply")
    assert rc == 3
    assert fake.rbac(VAULT_IDS[READY]) is True
    assert fake.rbac(VAULT_IDS[NEEDS]) is not True
    assert not [e for e in fake.writes() if NEEDS in e["path"]]   # nothing created for it either
    assert f"{NEEDS} [needs-assignments]: stopped - drift: new access-policy entry for {intruder}" in out
    assert NEEDS in err and READY not in err


def test_an_assignment_the_plan_relies_on_removed_since_stops_the_ready_vault(make_arm, migrate):
    fake = make_arm()
    vid = VAULT_IDS[READY].lower()
    relied = [k for k, r in fake.assignments.items() if r["properties"]["scope"].lower() == vid]
    assert relied
    del fake.assignments[relied[0]]
    rc, out, _ = migrate("--demo", "--apply")
    assert rc == 3 and fake.rbac(VAULT_IDS[READY]) is not True and fake.rbac(VAULT_IDS[NEEDS]) is True
    assert "which covers an entry today, is gone" in out


def test_a_changed_entry_is_drift_named(make_arm, migrate):
    fake = make_arm()
    policies = fake.vault(VAULT_IDS[READY])["properties"]["accessPolicies"]
    policies[0]["permissions"]["secrets"].append("Delete")
    rc, out, _ = migrate("--demo", "--apply", "--vault", READY)
    assert rc == 3 and fake.rbac(VAULT_IDS[READY]) is not True
    assert "changed: planned secrets: get, list, now secrets: delete, get, list" in out


def test_cross_tenant_principal_fails_that_vault_only(make_arm, migrate, tmp_path):
    plan_principal = "e959bb00-421d-59cd-acfa-708caef91457"     # entry 1 of kv-legacy-2016
    fake = make_arm(foreign_principals={plan_principal})
    rc, out, err = migrate("--demo", "--apply")
    assert rc == 3
    assert fake.rbac(VAULT_IDS[READY]) is True and fake.rbac(VAULT_IDS[NEEDS]) is not True
    assert "failed - assign: HTTP 400 PrincipalNotFound: Principal" in out
    log = read_log(tmp_path / "out" / "kv-audit-migrate.log").records
    assert log[-1]["step"] == "assign" and log[-1]["result"] == "failed" and NEEDS in log[-1]["vaultId"]


def test_assignments_never_listed_fail_the_vault_after_the_bound(make_arm, migrate, clock):
    fake = make_arm(visible_after=10_000)
    rc, out, _ = migrate("--demo", "--apply", "--vault", NEEDS, "--visible-timeout", "60")
    assert rc == 3 and fake.rbac(VAULT_IDS[NEEDS]) is not True
    assert "failed - visible: not listed after 60s" in out
    assert sum(clock.sleeps) <= 60


def test_rollback_restores_the_access_policy_model(make_arm, migrate, tmp_path):
    fake = make_arm()
    assert migrate("--demo", "--apply", "--vault", NEEDS)[0] == 0
    assert fake.rbac(VAULT_IDS[NEEDS]) is True
    rc, out, _ = migrate("--rollback", "--vault", NEEDS)
    assert rc == 0, out
    assert fake.rbac(VAULT_IDS[NEEDS]) is False
    assert fake.writes()[-1]["body"] == {"properties": {"enableRbacAuthorization": False}}
    assert "access policies in force again (3 entries)" in out
    log = read_log(tmp_path / "out" / "kv-audit-migrate.log")
    assert (log.records[-1]["step"], log.records[-1]["result"]) == ("rollback", "ok")
    assert VAULT_IDS[NEEDS].lower() not in log.finished()
    # unknown vault: usage error naming it
    with pytest.raises(Exception, match="no rollback file"):
        migrate("--rollback", "--vault", READY)
    # a rolled-back vault is left alone by the next run, as the generated script does with the same log
    writes = len(fake.writes())
    rc, out, _ = migrate("--demo", "--apply", "--vault", NEEDS)
    assert rc == 0 and f"{NEEDS} [needs-assignments]: skipped - rolled back (" in out
    assert "delete its lines from the resume log to migrate it again" in out
    assert len(fake.writes()) == writes and fake.rbac(VAULT_IDS[NEEDS]) is False
    assert VAULT_IDS[NEEDS].lower() in read_log(tmp_path / "out" / "kv-audit-migrate.log").rolled_back()


def test_an_interrupted_run_resumes_where_it_stopped(make_arm, migrate, tmp_path, clock):
    fake = make_arm(visible_after=3)

    def interrupt(seconds):          # Ctrl-C while waiting for kv-legacy-2016's assignments
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        migrate("--demo", "--apply", sleep=interrupt)
    assert fake.rbac(VAULT_IDS[READY]) is True and fake.rbac(VAULT_IDS[NEEDS]) is not True
    path = tmp_path / "out" / "kv-audit-migrate.log"
    with open(path, "a", encoding="utf-8") as handle:    # what a kill in the middle of a write leaves
        handle.write('{"vaultId": "/subscriptions/x", "step": "vis')
    existing = set(fake.assignments)
    assert len([e for e in fake.writes() if e["method"] == "PUT"]) == 3
    rc, out, err = migrate("--demo", "--apply")
    assert rc == 0, (out, err)
    assert "torn line" in err
    assert f"{READY} [ready]: skipped" in out and fake.rbac(VAULT_IDS[NEEDS]) is True
    assert set(fake.assignments) == existing     # re-PUT under the same deterministic names: nothing twice
    log = read_log(path)
    assert log.torn is not None and {VAULT_IDS[READY].lower(), VAULT_IDS[NEEDS].lower()} <= log.finished()


def test_a_403_on_the_flip_names_the_missing_permission(make_arm, migrate):
    fake = make_arm(forbidden_writes={VAULT_IDS[READY]})
    rc, out, _ = migrate("--demo", "--apply")
    assert rc == 3 and fake.rbac(VAULT_IDS[NEEDS]) is True
    assert "failed - flip: HTTP 403 AuthorizationFailed" in out
    assert "RoleBasedAccessControl: missing Microsoft.KeyVault/vaults/write" in out


def test_explicitly_chosen_blocked_vault_is_reported_and_exits_3(make_arm, migrate):
    fake = make_arm()
    rc, out, _ = migrate("--demo", "--apply", "--vault", BLOCKED[0])
    assert rc == 3 and not fake.writes()
    assert f"{BLOCKED[0]} [blocked]: stopped - blocked, never acted on:" in out


def test_cli_with_managed_identity_and_without_credentials(make_arm, monkeypatch, tmp_path, capsys):
    fake = make_arm()
    with live_azure(monkeypatch, token="fake-token") as identity:
        rc = main(["migrate", "--demo", "--vault", READY, "--out", str(tmp_path / "o")])
        assert rc == 0 and fake.requests >= 2 and identity.requests
    monkeypatch.delenv("IDENTITY_ENDPOINT")
    monkeypatch.delenv("IDENTITY_HEADER")
    monkeypatch.setenv("AZURE_CLIENT_ID", "")     # nothing configured: DefaultAzureCredential finds no identity
    monkeypatch.setattr("audit_function.collect.clouds.default_credential", lambda target: _NoCredential())
    capsys.readouterr()
    assert main(["migrate", "--demo", "--out", str(tmp_path / "o")]) == 2
    assert "no credential for Azure Resource Manager" in capsys.readouterr().err


class _NoCredential:
    def get_token(self, *scopes, **kwargs):
        from azure.core.exceptions import ClientAuthenticationError

        raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token from the included "
                                        "credentials.")


@pytest.mark.parametrize("argv, message", [
    (["migrate", "--apply"], "give the plan's source"),
    (["migrate", "--rollback"], "--rollback needs --vault"),
    (["migrate", "--demo", "--subscription", "s"], "go with --live"),
    (["migrate", "--demo", "--vault", "no-such-vault"], "no vault of that name"),
])
def test_usage_errors_exit_2_with_a_clear_message(make_arm, tmp_path, capsys, argv, message):
    make_arm()
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err


def test_out_that_is_a_file_and_a_log_that_is_not_a_log_exit_2(make_arm, tmp_path, capsys):
    make_arm()
    (tmp_path / "file").write_text("x")
    assert main(["migrate", "--demo", "--out", str(tmp_path / "file")]) == 2
    (tmp_path / "bad.log").write_text("hello\n")
    assert main(["migrate", "--demo", "--out", str(tmp_path / "o"), "--log", str(tmp_path / "bad.log")]) == 2
    assert "bad.log:1: not a kv-audit migration log record" in capsys.readouterr().err


def test_the_flip_waits_600s_by_default_after_the_last_logged_assignment(make_arm, migrate, clock):
    assert build_parser().parse_args(["migrate", "--demo"]).settle == 600.0
    make_arm()
    assert migrate("--demo", "--apply", "--vault", NEEDS, "--settle", "600")[0] == 0
    assert [s for s in clock.sleeps if s > 100] and all(598 <= s <= 601 for s in clock.sleeps if s > 100)


def test_a_resumed_run_waits_only_what_remains_of_the_settle(make_arm, migrate, tmp_path, clock):
    fake = make_arm()

    def interrupt(seconds):          # Ctrl-C during the settle: the assignments exist and are listed
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        migrate("--demo", "--apply", "--vault", NEEDS, "--settle", "600", sleep=interrupt)
    assert fake.rbac(VAULT_IDS[NEEDS]) is not True
    path = tmp_path / "out" / "kv-audit-migrate.log"
    earlier = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 400))
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x for x in lines if (x["step"], x["result"]) == ("assign", "ok")]
    path.write_text("".join(json.dumps({**x, "at": earlier}) + "\n" for x in lines))   # assigned 400 s ago
    rc, out, err = migrate("--demo", "--apply", "--vault", NEEDS, "--settle", "600")
    assert rc == 0, (out, err)
    assert fake.rbac(VAULT_IDS[NEEDS]) is True
    long = [s for s in clock.sleeps if s > 50]
    assert len(long) == 1 and 195 <= long[0] <= 202, clock.sleeps
