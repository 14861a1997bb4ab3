"""`kv-audit explain` on the command line: the demo's three root causes, stdin, JSON, exit codes."""

from __future__ import annotations

import io
import json

import pytest

from audit_function.cli.main import main
from tools.demo import make_demo as demo

GRAFANA = demo.VAULTS_BY_NAME["kv-grafana-mgmt"].id


def run(capsys, monkeypatch, *argv, stdin=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(["explain", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


# three demo vaults, three different root causes (audit_function/data/demo/README.md tells their stories)
DEMO = [
    (["--vault", "kv-crm-dev", "--principal", "crm-build-pipeline (retired)", "--action", "keys get"], "wrong-model",
     "az role assignment create"),
    (["--vault", GRAFANA + "/secrets/db-password", "--principal", "amg-platform-grafana", "--action", "getSecret"],
     "object-scoped-other", "--scope " + GRAFANA + "/secrets/db-password"),
    (["--vault", "kv-web-shared", "--principal", "func-web-shared-prod", "--action", "getSecret", "--from-ip",
      "20.50.1.7"], "firewall", "az keyvault network-rule add --name kv-web-shared"),
    (["--vault", "kv-web-certs", "--principal", "sp-online-web-deploy", "--action", "secrets get"], "wrong-model",
     "az keyvault set-policy --name kv-web-certs"),
]


@pytest.mark.parametrize("argv, reason, command", DEMO)
def test_demo_root_causes(capsys, monkeypatch, argv, reason, command):
    code, out, _ = run(capsys, monkeypatch, "--demo", "--format", "json", *argv)
    doc = json.loads(out)
    assert code == 1 and doc["verdict"] == "denied" and doc["reason"] == reason
    assert any(command in c for c in doc["fix"]["commands"]), doc["fix"]


def test_demo_has_three_different_root_causes():
    assert len({reason for _, reason, _ in DEMO}) >= 3


def test_error_text_on_stdin_and_text_output(capsys, monkeypatch):
    crm = demo.PRINCIPALS["sp-crm-ci-legacy"]
    text = (f"(Forbidden) The user, group or application 'appid={crm.app_id};oid={crm.id};"
            f"iss=https://sts.windows.net/{demo.CONTOSO_TENANT}/' does not have keys get permission on key vault "
            "'kv-crm-dev;location=westeurope'.")
    code, out, _ = run(capsys, monkeypatch, "--demo", stdin=text)
    assert code == 1
    for part in ("1. Who:", "2. Model in force: Azure RBAC", "3. Grants", "4. Network:", "5. Recent changes",
                 "6. Fix (in the model the vault enforces: rbac)", "$ az role assignment create"):
        assert part in out, out


def test_unparseable_error_exits_2_and_names_what_is_missing(capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "--demo", "--error", "403 Forbidden, something went wrong")
    assert code == 2 and out == ""
    assert "the caller" in err and "the vault" in err and "the action" in err


def test_missing_vault_exits_3(capsys, monkeypatch):
    code, _, err = run(capsys, monkeypatch, "--demo", "--vault", "kv-crm-dve", "--principal",
                       demo.PRINCIPALS["sp-crm-ci-legacy"].id, "--action", "getSecret")
    assert code == 3 and "kv-crm-dev" in err   # the close match is suggested


def test_allowed_exits_0(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "--demo", "--format", "json", "--vault", "kv-payments-prod", "--principal",
                       "id-payments-api-prod", "--action", "secrets get")
    assert code == 0 and json.loads(out)["verdict"] == "allowed"


def test_bad_ip_is_an_input_error(capsys, monkeypatch):
    code, _, err = run(capsys, monkeypatch, "--demo", "--vault", "kv-web-shared", "--principal", "x", "--action",
                       "getSecret", "--from-ip", "300.1.1.1")
    assert code == 2 and "--from-ip" in err


def test_readme_run_is_what_the_command_prints(capsys, monkeypatch):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    prompt = '$ .venv/bin/kv-audit explain --demo --vault kv-web-certs --principal sp-online-web-deploy --action "secrets get"\n'
    shown = readme.split(prompt, 1)[1].split("$ echo $?\n", 1)[0]
    code, out, _ = run(capsys, monkeypatch, "--demo", "--vault", "kv-web-certs", "--principal", "sp-online-web-deploy",
                       "--action", "secrets get")
    assert out == shown and code == 1
