"""``kv-audit migrate`` on a snapshot with hostile vault and principal names: every line it prints goes
through quoting.terminal (no escape sequence, control character or bidi override reaches the terminal),
the rollback file name is made of safe characters only, and the flip still happens."""

from __future__ import annotations

import io
import os
import time
from contextlib import redirect_stderr, redirect_stdout

import pytest
from azure.core.credentials import AccessToken

from audit_function.cli.main import build_parser
from audit_function.cli.migrate import cmd_migrate
from audit_function.snapshot.load import iter_rows, table_path
from tests.factories import KV_SECRETS_USER, assignment_row, policy, principal_row, vault_id, vault_row
from tests.fakes.arm_vaults import FakeArmVaults
from tests.fakes.clock import VirtualClock
from tests.migration.helpers import CAROL, write_snapshot

HOSTILE = "kv-\x1b]0;pwned\x07\x1b[2J\u202eevil"
CONTROL = ("\x1b", "\x07", "\u202e")


class Credential:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("t", int(time.time()) + 3600)


@pytest.fixture
def setup(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("AZURE_", "IDENTITY_", "KV_AUDIT_")) or name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
            monkeypatch.delenv(name, raising=False)
    carol = principal_row(CAROL, "user")
    carol["displayName"] = "Carol \x1b[31mRed\u202e"
    snap = write_snapshot(tmp_path / "snap", vaults=[vault_row(HOSTILE, rbac=False,
                                                                policies=[policy(CAROL, secrets=["get", "list"])])],
                          assignments=[assignment_row(vault_id(HOSTILE), KV_SECRETS_USER, CAROL)], principals=[carol])
    tables = {t: [r for _, r in iter_rows(table_path(snap, t))] for t in ("vaults", "role_assignments", "subscriptions")}
    fake = FakeArmVaults(tables, cert_dir=tmp_path / "tls")
    monkeypatch.setenv("KV_AUDIT_ARM_ENDPOINT", fake.url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake.ca_path))
    yield snap, fake
    fake.close()


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    clock = VirtualClock()
    with redirect_stdout(out), redirect_stderr(err):
        rc = cmd_migrate(build_parser().parse_args(["migrate", *argv]), credential=Credential(), sleep=clock.sleep,
                         clock=clock.now)
    return rc, out.getvalue() + err.getvalue()


def test_hostile_names_are_printed_inert_in_drift_and_in_a_flip(setup, tmp_path):
    snap, fake = setup
    vid = vault_id(HOSTILE)
    fake.vault(vid)["properties"]["accessPolicies"][0]["permissions"]["secrets"].append("set")
    rc, text = run("--snapshot", str(snap), "--apply", "--out", str(tmp_path / "out"))
    assert rc == 3 and "changed: planned secrets: get, list" in text and "Carol " in text
    assert not any(c in text for c in CONTROL)
    fake.vault(vid)["properties"]["accessPolicies"][0]["permissions"]["secrets"].remove("set")
    rc, text = run("--snapshot", str(snap), "--apply", "--out", str(tmp_path / "out"))
    assert rc == 0 and fake.rbac(vid) is True
    assert not any(c in text for c in CONTROL)
    (rollback,) = (tmp_path / "out" / "rollback").glob("*.json")
    assert all(ch.isalnum() or ch in "-_." for ch in rollback.name)
