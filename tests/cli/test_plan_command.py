"""``kv-audit plan``: files for every access-policy vault that parse (bash -n, pycep) and escape hostile names."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from pycep import BicepParser

from audit_function.cli.plan import parse_formats, register, run_plan
from audit_function.errors import ConfigError
from audit_function.migration.bicep import file_name
from audit_function.migration.files import MANIFEST, write_plan_files
from tests.factories import (KV_SECRETS_OFFICER, KV_SECRETS_USER, SUB, SUB2, assignment_row, policy, principal_row,
                             vault_id, vault_row)
from tests import fake_az as fake_az_module
from tests.migration.helpers import ALICE, APP, BOB, CAROL, GROUP, write_snapshot
from tests.migration.live import Azure, state_of, touching

HOSTILE_VAULT = "kv'; touch PWNED_A; echo \"$(touch PWNED_B)`touch PWNED_C`${HOME}\n\\x"
HOSTILE_RG = "rg $(touch PWNED_D) 'q' ${x}"
HOSTILE_TAGS = {"owner'); touch PWNED_E; #": "${jndi}\n$(touch PWNED_F)", "plain": "it's"}
BACKUP = dict(keys=["get", "list", "backup"], secrets=["get", "list", "backup"])


def estate_rows():
    vaults = [
        vault_row(HOSTILE_VAULT, rg=HOSTILE_RG, rbac=False, tags=HOSTILE_TAGS,
                  policies=[policy(ALICE, secrets=["get", "list"]), policy(BOB, **BACKUP)]),
        vault_row("kv-ready", rbac=False, policies=[policy(CAROL, secrets=["get", "list"])]),
        vault_row("kv-blocked", rbac=False, policies=[policy(ALICE, application_id=APP, secrets=["get"])]),
        vault_row("kv-review", sub=SUB2, rbac=None, policies=[policy(ALICE, keys=["get"])]),
        vault_row("kv-rbac", rbac=True, policies=[policy(ALICE, secrets=["get"])]),
    ]
    assignments = [assignment_row(vault_id("kv-ready"), KV_SECRETS_USER, CAROL),
                   assignment_row(f"/subscriptions/{SUB2}", KV_SECRETS_OFFICER, GROUP, principal_type="Group")]
    principals = [principal_row(ALICE, "user"), principal_row(BOB, "servicePrincipal"), principal_row(CAROL, "user"),
                  principal_row(GROUP, "group")]
    return dict(vaults=vaults, assignments=assignments, principals=principals)


@pytest.fixture
def snapshot(tmp_path):
    return write_snapshot(tmp_path / "snap", **estate_rows())


def unescape(bicep_text: str) -> str:
    """Decode the inside of a Bicep string literal."""
    simple = {"\\": "\\", "'": "'", "$": "$", "n": "\n", "r": "\r", "t": "\t"}

    def one(m: re.Match) -> str:
        return chr(int(m.group(1), 16)) if m.group(1) else simple[m.group(2)]

    return re.sub(r"\\(?:u\{([0-9A-Fa-f]+)\}|(.))", one, bicep_text)


def parse_bicep(text: str) -> dict:
    return BicepParser().parse(text=text)


def by_readiness(result):
    return {p["vaultName"]: p["readiness"] for p in result.plans}


def test_plan_covers_every_access_policy_vault_and_files_parse(snapshot, tmp_path):
    out = tmp_path / "plans"
    result = run_plan(snapshot, out)
    assert by_readiness(result) == {HOSTILE_VAULT: "needs-assignments", "kv-ready": "ready",
                                    "kv-blocked": "blocked", "kv-review": "review-latent-grants"}
    assert [u["vaultName"] for u in result.units][0] == "kv-ready"            # ready first, blocked last
    assert result.units[-1]["vaultName"] == "kv-blocked" and result.units[-1]["create"] == []
    script = out / "kv-audit-plan.sh"
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert text.splitlines()[:1] == ["#!/usr/bin/env bash"]
    assert "set -uo pipefail" in text and "set -e" not in text.replace("set -e:", "")
    bicep_files = sorted(p.relative_to(out / "bicep").as_posix() for p in (out / "bicep").rglob("*.bicep"))
    # one custom-role file (BOB's backup role, used in SUB only), the flip module, (assignments, flip) per group
    assert len(bicep_files) == 1 + 1 + 2 * 3, bicep_files
    (roles_name,) = [n for n in bicep_files if n.startswith("custom-roles-")]
    roles_text = (out / "bicep" / roles_name).read_text()
    assert "targetScope = 'subscription'" in roles_text
    (custom,) = parse_bicep(roles_text)["resources"].values()
    assert custom["type"] == "Microsoft.Authorization/roleDefinitions" and not custom["existing"]
    (placed,) = result.custom_roles
    assert custom["config"]["name"] == placed["id"] and placed["assignableScopes"] == [f"/subscriptions/{SUB}"]
    units = {u["vaultName"]: u for u in result.units}
    for name in bicep_files:
        if name.startswith(("custom-roles-", "modules/")):
            continue
        tree = parse_bicep((out / "bicep" / name).read_text())
        if name.endswith(".flip.bicep"):
            for module in tree["modules"].values():
                assert module["detail"]["path"] == "modules/kv-audit-flip.bicep"
            continue
        tree = tree.get("resources", {})
        existing = {unescape(r["config"]["name"]) for r in tree.values() if r["existing"]}
        assignments = [r for r in tree.values() if r["type"] == "Microsoft.Authorization/roleAssignments"]
        assert len(tree) == len(existing) + len(assignments)  # no vault is (re)declared in step 1
        assert len(assignments) == sum(len(units[v]["create"]) for v in existing)
        assert "kv-blocked" not in existing
    flips = {}
    for name in bicep_files:
        if name.endswith(".flip.bicep"):
            for module in parse_bicep((out / "bicep" / name).read_text()).get("modules", {}).values():
                target = module["config"]["config"] if "condition" in module["config"] else module["config"]
                vault = target["params"]["current"]["function"]["parameters"]["resource_identifier"]
                flips[unescape(vault["function"]["parameters"]["resource_name_1"])] = module["config"].get("condition")
    assert flips == {HOSTILE_VAULT: None, "kv-ready": None, "kv-review": "acknowledgeLatentGrants"}
    module = parse_bicep((out / "bicep" / "modules" / "kv-audit-flip.bicep").read_text())["resources"]["vault"]
    assert module["config"]["properties"]["function"]["parameters"]["arg_2"] == {"enableRbacAuthorization": True}
    doc = json.loads((out / "kv-audit-plan.json").read_text())
    assert [v["vaultName"] for v in doc["vaults"]] == [p["vaultName"] for p in result.plans]
    assert doc["order"] == [u["vaultId"] for u in result.units] and doc["warnings"] == []
    assert json.loads((out / "custom-roles" / f"kv-audit-{placed['id']}.json").read_text())["DataActions"]
    assert sorted((out / MANIFEST).read_text().split()) == sorted(result.files)


def test_hostile_names_are_escaped_in_bicep(snapshot):
    result = run_plan(snapshot, None, formats=("bicep",))
    name = file_name(SUB, HOSTILE_RG)
    assert re.fullmatch(r"bicep/rg-touch-PWNED_D-q-x-[0-9a-f]{8}\.bicep", name)
    text = result.files[name].decode()
    tree = parse_bicep(text)["resources"]
    (existing,) = [r for r in tree.values() if r["existing"]]
    assert unescape(existing["config"]["name"]) == HOSTILE_VAULT
    hostile = next(u for u in result.units if u["vaultName"] == HOSTILE_VAULT)
    assert len(tree) == 1 + len(hostile["create"])
    flip_text = result.files[file_name(SUB, HOSTILE_RG, ".flip.bicep")].decode()
    assert "PWNED_E" not in flip_text        # the flip reads tags from the live vault: none from the snapshot
    for line in (text + flip_text).splitlines():  # estate text only in comments or string literals, one line
        assert not any(ord(c) < 0x20 for c in line)
        if "PWNED" in line:
            assert line.lstrip().startswith(("//", "name: '", "current: reference(resourceId(")), line


def hostile_plan(result):
    return next(p for p in result.plans if p["vaultName"] == HOSTILE_VAULT)


def test_script_runs_against_a_fake_az_and_no_name_injects_a_command(snapshot, tmp_path):
    out = tmp_path / "plans"
    result = run_plan(snapshot, out, formats=("cli",))
    azure = Azure(tmp_path, state_of(snapshot, listDelay=1))
    done = azure.run(out / "kv-audit-plan.sh", "run", "--accept-latent-grants")
    assert done.returncode == 0, done.stderr
    assert not list(tmp_path.rglob("PWNED*"))
    calls = azure.calls()
    opt = fake_az_module.option
    assert not [c for c in calls if c[:2] == ["keyvault", "update"]]
    flipped = {vid: props for vid, props in fake_az_module.patches(calls)}
    by_id = {v["id"].lower(): v for v in azure.state["vaults"].values()}
    assert sorted(by_id[v]["name"] for v in flipped) == sorted([HOSTILE_VAULT, "kv-ready", "kv-review"])
    assert all(props == {"enableRbacAuthorization": True} for props in flipped.values())
    assert by_id[hostile_plan(result)["vaultId"].lower()]["resourceGroup"] == HOSTILE_RG
    assert azure.vault(HOSTILE_VAULT)["properties"]["enableRbacAuthorization"] is True
    created = [c for c in calls if c[:3] == ["role", "assignment", "create"]]
    review = next(p for p in result.plans if p["vaultName"] == "kv-review")
    assert {opt(c, "--scope") for c in created} == {hostile_plan(result)["vaultId"], review["vaultId"]}
    assert len(created) == sum(len(u["create"]) for u in result.units)
    assert [c for c in calls if c[:3] == ["role", "definition", "create"]]
    assert not touching(calls, azure.vault("kv-blocked"))
    hostile = next(u for u in result.units if u["vaultName"] == HOSTILE_VAULT)
    assert re.fullmatch(r"\d{3}-vault-[0-9a-f]{8}", hostile["file"])
    rollback = out / "rollback" / f"{hostile['file']}.sh"
    rolled = azure.run(rollback)
    assert rolled.returncode == 0, rolled.stderr
    assert azure.vault(HOSTILE_VAULT)["properties"]["enableRbacAuthorization"] is False
    assert not list(tmp_path.rglob("PWNED*"))


def test_script_with_an_old_phase_only_prints_usage(snapshot, tmp_path):
    out = tmp_path / "plans"
    run_plan(snapshot, out, formats=("cli",))
    azure = Azure(tmp_path, state_of(snapshot))
    for phase in ((), ("assign",), ("all",)):
        done = azure.run(out / "kv-audit-plan.sh", *phase)
        assert done.returncode == 2 and "usage" in done.stderr
    assert azure.calls() == []


def test_plan_command_arguments(snapshot, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    out = tmp_path / "one"
    args = parser.parse_args(["plan", "--snapshot", str(snapshot), "--out", str(out), "--format", "cli,json",
                              "--vault", vault_id("kv-ready"), "--vault", "KV-BLOCKED"])
    assert args.handler(args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["kv-audit-plan.files", "kv-audit-plan.json", "kv-audit-plan.sh"]
    printed = capsys.readouterr().out
    assert "2 access-policy vault(s) planned" in printed and "kv-ready" in printed and "blocked" in printed
    for bad in (["--vault", "kv-rbac"], ["--vault", "nope"], ["--format", "pdf"], ["--subscription", SUB]):
        args = parser.parse_args(["plan", "--snapshot", str(snapshot), "--out", str(out), *bad])
        with pytest.raises(ConfigError):
            args.handler(args)
    assert parse_formats(["bicep", "json,cli", "bicep"]) == ("bicep", "json", "cli")
    assert parse_formats([]) == ("cli", "bicep", "terraform", "json")


def test_rewriting_a_plan_removes_its_own_stale_files_only(tmp_path):
    out = tmp_path / "plans"
    write_plan_files(out, {"bicep/a.bicep": b"one", "kv-audit-plan.sh": b"#!/bin/sh\n"})
    (out / "bicep" / "mine.bicep").write_text("user file")
    write_plan_files(out, {"bicep/b.bicep": b"two", "kv-audit-plan.sh": b"#!/bin/sh\n"})
    assert sorted(p.name for p in (out / "bicep").iterdir()) == ["b.bicep", "mine.bicep"]
    assert not list(out.rglob("*.tmp"))
    with pytest.raises(Exception):
        write_plan_files(out, {"../escape.sh": b"x"})


DEMO = Path(__file__).resolve().parents[2] / "audit_function" / "data" / "demo"


def test_demo_estate_plans_every_access_policy_vault_with_parseable_files(tmp_path):
    from audit_function.migration import READINESS
    from audit_function.snapshot.load import load_estate

    estate = load_estate(DEMO)
    expected = {v.id for v in estate.vaults if not v.is_rbac}
    result = run_plan(DEMO, tmp_path / "plans")
    assert {p["vaultId"] for p in result.plans} == expected and expected
    assert all(p["readiness"] in READINESS and p["reasons"] for p in result.plans)
    subprocess.run(["bash", "-n", str(tmp_path / "plans" / "kv-audit-plan.sh")], check=True)
    for path in (tmp_path / "plans" / "bicep").glob("*.bicep"):
        parse_bicep(path.read_text())
    for plan in result.plans:  # verdicts agree with what the plan found
        if plan["readiness"] == "ready":
            assert not plan["losers"] and not plan["gainers"]
        if plan["gainers"]:
            assert plan["readiness"] in ("review-latent-grants", "blocked")


def test_estate_without_access_policy_vaults_writes_an_empty_but_valid_plan(tmp_path):
    snap = write_snapshot(tmp_path / "snap", vaults=[vault_row("kv-rbac", rbac=True)])
    result = run_plan(snap, tmp_path / "plans")
    assert result.plans == [] and result.custom_roles == []
    subprocess.run(["bash", "-n", str(tmp_path / "plans" / "kv-audit-plan.sh")], check=True)
    assert not (tmp_path / "plans" / "bicep").exists()
    assert json.loads((tmp_path / "plans" / "kv-audit-plan.json").read_text())["vaults"] == []


def test_incomplete_snapshot_is_reported(tmp_path, capsys):
    rows = estate_rows()
    snap = write_snapshot(tmp_path / "snap", **rows)
    with (snap / "vaults.jsonl").open("a") as handle:
        handle.write(json.dumps({"id": "/subscriptions/x/resourceGroups/r/providers/Microsoft.KeyVault/vaults/bad",
                                 "properties": {"enableRbacAuthorization": "yes"}}) + "\n")
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["plan", "--snapshot", str(snap), "--out", str(tmp_path / "plans")])
    assert args.handler(args) == 3
    assert "INCOMPLETE" in capsys.readouterr().err
    assert (tmp_path / "plans" / "kv-audit-plan.sh").exists()


def test_a_plan_write_that_fails_part_way_leaves_the_previous_plan_whole(tmp_path):
    from audit_function.errors import SinkError

    out = tmp_path / "plans"
    write_plan_files(out, {"a.sh": b"old a\n", "b.bicep": b"old b\n"})
    (out / "blocker").mkdir()
    (out / "blocker" / "keep").write_text("x")       # a rename onto a non-empty folder fails
    with pytest.raises(SinkError, match="previous plan is unchanged"):
        write_plan_files(out, {"a.sh": b"new a\n", "c.bicep": b"new c\n", "blocker": b"new\n"})
    assert (out / "a.sh").read_bytes() == b"old a\n"       # replaced, then put back
    assert not (out / "c.bicep").exists()                   # new in the failed plan: removed
    assert (out / "b.bicep").read_bytes() == b"old b\n"
    assert (out / MANIFEST).read_text() == "a.sh\nb.bicep\n"
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []   # no temp or backup left
