"""Nothing kv-audit generates runs code taken from the estate: every remediation command and the
migration script are executed through bash with a fake ``az`` on PATH, on an estate whose names
are hostile, and ``az`` must receive each hostile string as one intact argument."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import rules
from audit_function.cli.plan import run_plan
from tests import fake_az
from tests.factories import (KV_SECRETS_OFFICER, KV_SECRETS_USER, SUB, SUB2, assignment_row, nsp_association_row,
                             nsp_profile_row, nsp_rule_row, perimeter_id, policy, principal_row, role_definition_row,
                             run_rules, subscription_row, vault_id, vault_row)
from tests.migration.helpers import ALICE, BOB, CAROL, GROUP, write_snapshot

PWN = "PWNED"
HOSTILE_NAME = f"kv$(touch {PWN}1)`touch {PWN}2`;touch {PWN}3;'\"x\ntouch {PWN}4\x1b[31m\r\x9b2J"
HOSTILE_REVIEW = f"kv-review'\ntouch {PWN}5\n#"
HELP_RG = "--help"
HOSTILE_RG = f"rg';touch {PWN}6;'$(touch {PWN}7)"
HOSTILE_ROLE = f"Secrets $(touch {PWN}8) \"`touch {PWN}9`\" '; touch {PWN}10\ntouch {PWN}11"
HOSTILE_TAGS = {f"owner$(touch {PWN}12)": f"`touch {PWN}13`\n\x1b]0;title\x07"}
ROLE_GUID = "7e57a000-0000-4000-8000-0000000000ee"
HOSTILE_RULE = f"allow$(touch {PWN}14)`touch {PWN}15`;'\"x\ntouch {PWN}16"
PLACEHOLDER = re.compile(r"'<[A-Za-z][A-Za-z0-9 _-]*>'")


def hostile_rows() -> dict:
    open_net = {"bypass": "None", "defaultAction": "Allow", "ipRules": [{"value": "0.0.0.0/0"}],
                "virtualNetworkRules": []}
    vaults = [
        vault_row(HOSTILE_NAME, rg=HELP_RG, rbac=False, tags=HOSTILE_TAGS, enablePurgeProtection=False,
                  publicNetworkAccess="Enabled", networkAcls=open_net,
                  policies=[policy(ALICE, secrets=["all"])]),
        vault_row("kv-two", rg=HOSTILE_RG, rbac=True, publicNetworkAccess="Enabled",
                  networkAcls={**open_net, "defaultAction": "Deny"}, policies=[policy(CAROL, secrets=["get", "list"]),
                            policy(BOB, tenant="f8cdef31-a31e-4b4a-93e4-5f571e91255a", keys=["get"])]),
        vault_row(HOSTILE_REVIEW, sub=SUB2, rg=HELP_RG, rbac=None, policies=[policy(ALICE, keys=["get"])]),
    ]
    definitions = [role_definition_row(ROLE_GUID, HOSTILE_ROLE, data_actions=["Microsoft.KeyVault/vaults/*"],
                                       actions=["*"])]
    assignments = [assignment_row(vault_id("kv-two", rg=HOSTILE_RG), ROLE_GUID, BOB,
                                  role_prefix=f"/subscriptions/{SUB}"),
                   assignment_row(vault_id("kv-two", rg=HOSTILE_RG), KV_SECRETS_USER, CAROL),
                   assignment_row(f"/subscriptions/{SUB2}", KV_SECRETS_OFFICER, GROUP, principal_type="Group")]
    principals = [principal_row(ALICE, "user"), principal_row(CAROL, "user"), principal_row(BOB, "servicePrincipal"), principal_row(GROUP, "group")]
    # a network security perimeter whose broad rule has a hostile name: its id is the remediation's --ids value
    perimeter = [nsp_association_row(vault_id(HOSTILE_NAME, rg=HELP_RG)), nsp_profile_row(),
                 nsp_rule_row(HOSTILE_RULE, prefixes=["0.0.0.0/0"])]
    return dict(vaults=vaults, assignments=assignments, definitions=definitions, principals=principals,
                perimeter=perimeter)


def commands_of(remediation: str) -> list[str]:
    """The commands in a remediation: the backticked spans, or all of it when it starts with ``az ``."""
    if "`" not in remediation:
        return [remediation] if remediation.startswith("az ") else []
    return remediation.split("`")[1::2]


def runnable(command: str) -> str:
    """What someone pastes after filling in the human placeholders (``<vault id>``)."""
    return PLACEHOLDER.sub("filled-in", command)


@pytest.fixture
def bin_dir(tmp_path):
    directory = fake_az.install(tmp_path / "bin")
    os.symlink(directory / "az", directory / "kv-audit")  # `kv-audit plan --vault …` is recorded, not run
    return directory


def no_pwned(*folders: Path) -> None:
    for folder in folders:
        assert not [p for p in folder.rglob(f"*{PWN}*")], f"injected command ran in {folder}"


def test_every_remediation_command_runs_with_hostile_values_as_single_arguments(tmp_path, bin_dir):
    rows = hostile_rows()
    run = run_rules(rules.ALL_RULES, vaults=rows["vaults"], assignments=rows["assignments"],
                    definitions=rows["definitions"], principals=rows["principals"],
                    subscriptions=[subscription_row(), subscription_row(SUB2)],
                    tables={"perimeter_associations": rows["perimeter"]})
    commands = [(f["ruleId"], c) for f in run.findings for c in commands_of(f["remediation"])]
    fired = {rule for rule, _ in commands}
    assert {"access-policy-model", "dead-access-policy", "wildcard-custom-role", "purge-protection-disabled",
            "firewall-allows-any", "perimeter-allows-public"} <= fired, fired
    work = tmp_path / "work"
    work.mkdir()
    environment = fake_az.env(bin_dir, work)
    for rule_id, command in commands:
        assert not re.search("[\x00-\x1f\x7f-\x9f]", command), (rule_id, command)  # one line, no escape codes
        done = fake_az.bash(runnable(command), work, environment)
        assert done.returncode == 0, (rule_id, command, done.stderr)
    no_pwned(tmp_path)
    calls = fake_az.calls(work)
    assert len(calls) >= len(commands)
    names = {fake_az.option(c, "--name") for c in calls if c[:1] == ["keyvault"]} - {"filled-in"}
    assert names == {HOSTILE_NAME, HOSTILE_REVIEW, "kv-two"}
    groups = {fake_az.option(c, "--resource-group") for c in calls if "--resource-group" in " ".join(c)}
    assert groups - {"filled-in"} == {HELP_RG, HOSTILE_RG}  # `--help` reached az as the group's value, not as an option
    role_names = {fake_az.option(c, "--name") for c in calls if c[:3] == ["role", "definition", "list"]}
    assert role_names == {HOSTILE_ROLE}
    assert not any(a in ("--help", "-h") for c in calls for a in c)
    rule_ids = {fake_az.option(c, "--ids") for c in calls if c[:3] == ["network", "perimeter", "profile"]}
    assert rule_ids == {f"{perimeter_id()}/profiles/default/accessRules/{HOSTILE_RULE}"}


def test_prose_in_remediations_has_no_control_characters(tmp_path):
    rows = hostile_rows()
    run = run_rules(rules.ALL_RULES, **{k: rows[k] for k in ("vaults", "assignments", "definitions", "principals")})
    for finding in run.findings:
        assert not re.search("[\x00-\x1f\x7f-\x9f]", finding["remediation"]), finding["remediation"]
        assert finding["remediation"].count("`") % 2 == 0


def test_the_plan_script_runs_with_hostile_names_and_skips_the_review_flip(tmp_path, bin_dir):
    rows = hostile_rows()
    snapshot = write_snapshot(tmp_path / "snap", vaults=rows["vaults"], assignments=rows["assignments"],
                              definitions=rows["definitions"], principals=rows["principals"])
    out = tmp_path / "plans"
    result = run_plan(snapshot, out)
    readiness = {p["vaultName"]: p["readiness"] for p in result.plans}
    assert readiness[HOSTILE_REVIEW] == "review-latent-grants" and readiness[HOSTILE_NAME] != "blocked"
    script = out / "kv-audit-plan.sh"
    text = script.read_text()
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", text)
    for line in text.splitlines():  # estate text only inside quoted words or comments
        if PWN in line and not line.lstrip().startswith("#"):
            assert re.search(r"\$'[^']*" + PWN, line) or re.search(r"'[^']*" + PWN, line), line
    from tests.migration.live import FAST, state_of

    work = tmp_path / "work"
    work.mkdir()
    fake_az.write_state(work, state_of(snapshot, listDelay=1))
    environment = fake_az.env(bin_dir, work, **FAST)
    done = subprocess.run(["bash", str(script), "run"], cwd=work, env=environment, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", done.stdout + done.stderr)
    rollbacks = sorted((out / "rollback").glob("*.sh"))
    assert len(rollbacks) == 1
    rolled = subprocess.run(["bash", str(rollbacks[0])], cwd=work, env=environment, capture_output=True,
                            text=True, timeout=60)
    assert rolled.returncode == 0, rolled.stderr
    no_pwned(tmp_path)
    calls = fake_az.calls(work)
    assert not [c for c in calls if c[:2] == ["keyvault", "update"]]
    vaults = {v["id"].lower(): v for v in fake_az.read_state(work)["vaults"].values()}
    patched = fake_az.patches(calls)
    flipped = {vaults[v]["name"] for v, props in patched if props == {"enableRbacAuthorization": True}}
    assert flipped == {HOSTILE_NAME}  # the review vault is skipped unless --accept-latent-grants
    assert {vaults[v]["resourceGroup"] for v, _ in patched} == {HELP_RG}
    assert [props for _, props in patched][-1] == {"enableRbacAuthorization": False}   # the rollback
    assert vaults[patched[0][0]]["properties"]["enableRbacAuthorization"] is False
    shown = [c for c in calls if c[:2] == ["keyvault", "show"]]
    assert shown and all(fake_az.option(c, "--resource-group") == HELP_RG for c in shown)
    assert {fake_az.option(c, "--name") for c in shown} == {HOSTILE_NAME}
    plan_json = json.loads((out / "kv-audit-plan.json").read_text())
    commands = [c for plan in plan_json["vaults"] for e in plan["entries"] for c in e["commands"]]
    commands += [plan["flip"]["command"] for plan in plan_json["vaults"] if plan.get("flip")]
    assert commands and not [c for c in commands if re.search("[\x00-\x1f\x7f-\x9f`]", c)]


def test_terminal_output_of_an_audit_carries_no_escape_sequence(tmp_path):
    rows = hostile_rows()
    snapshot = write_snapshot(tmp_path / "snap", vaults=rows["vaults"], assignments=rows["assignments"],
                              definitions=rows["definitions"], principals=rows["principals"])
    done = subprocess.run([sys.executable, "-m", "audit_function.cli.main", "audit", "--snapshot", str(snapshot),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode in (0, 1, 3), done.stderr
    for stream in (done.stdout, done.stderr):
        assert "\x1b" not in stream and "\x9b" not in stream and "\r" not in stream
    assert "Traceback" not in done.stderr
    plan = subprocess.run([sys.executable, "-m", "audit_function.cli.main", "plan", "--snapshot", str(snapshot),
                           "--out", str(tmp_path / "plan")], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert plan.returncode in (0, 3), plan.stderr
    for stream in (plan.stdout, plan.stderr):
        assert "\x1b" not in stream and "\x9b" not in stream and "\r" not in stream
