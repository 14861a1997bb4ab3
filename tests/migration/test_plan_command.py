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

from audit_function.cli_plan import parse_formats, register, run_plan
from audit_function.errors import ConfigError
from audit_function.migration.bicep import file_name
from audit_function.migration.files import MANIFEST, write_plan_files
from tests.factories import (KV_SECRETS_OFFICER, KV_SECRETS_USER, SUB, SUB2, assignment_row, policy, principal_row,
                             vault_id, vault_row)
from tests import fake_az as fake_az_module
from tests.migration.helpers import ALICE, APP, BOB, CAROL, GROUP, write_snapshot

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
    script = out / "kv-audit-plan.sh"
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert script.read_text().splitlines()[:1] == ["#!/usr/bin/env bash"]
    assert "set -euo pipefail" in script.read_text()
    bicep_files = sorted((out / "bicep").glob("*.bicep"))
    # custom roles + (assignments, flip) for each of 3 resource groups (kv-ready and kv-blocked share rg-app)
    assert len(bicep_files) == 7
    resources = {path.name: parse_bicep(path.read_text())["resources"] for path in bicep_files}
    roles = resources.pop("custom-roles.bicep")
    (custom,) = roles.values()
    assert custom["type"] == "Microsoft.Authorization/roleDefinitions" and not custom["existing"]
    assert custom["config"]["name"] == result.custom_roles[0]["id"]
    plans = {p["vaultName"]: p for p in result.plans}
    flips = {n: t for n, t in resources.items() if n.endswith(".flip.bicep")}
    assert len(flips) == 3
    for name, tree in resources.items():
        if name in flips:
            continue
        existing = {unescape(r["config"]["name"]) for r in tree.values() if r["existing"]}
        assignments = [r for r in tree.values() if r["type"] == "Microsoft.Authorization/roleAssignments"]
        assert len(tree) == len(existing) + len(assignments)  # no vault is (re)declared in step 1
        assert len(assignments) == sum(len(e["proposedRoles"]) for v in existing for e in plans[v]["entries"])
        assert all(a["config"]["scope"].startswith("vault") for a in assignments)
        flip_tree = flips[name[:-len(".bicep")] + ".flip.bicep"]
        flipped = {}
        for r in flip_tree.values():
            assert r["type"] == "Microsoft.KeyVault/vaults" and not r["existing"]
            conditional = "condition" in r["config"]
            flipped[unescape((r["config"]["config"] if conditional else r["config"])["name"])] = (
                r["config"]["condition"] if conditional else None)
        expected = {v: ("acknowledgeLatentGrants" if plans[v]["readiness"] == "review-latent-grants" else None)
                    for v in existing if plans[v]["readiness"] != "blocked"}
        assert flipped == expected
    doc = json.loads((out / "kv-audit-plan.json").read_text())
    assert [v["vaultName"] for v in doc["vaults"]] == [p["vaultName"] for p in result.plans]
    assert json.loads((out / "custom-roles" / f"kv-audit-{custom['config']['name']}.json").read_text())["DataActions"]
    assert sorted((out / MANIFEST).read_text().split()) == sorted(result.files)


def test_flip_redeclares_the_vault_from_the_snapshot(snapshot, tmp_path):
    result = run_plan(snapshot, None, formats=("bicep",))
    text = result.files[file_name(SUB, "rg-app", ".flip.bicep")].decode()
    (flip,) = parse_bicep(text)["resources"].values()
    body = flip["config"]
    assert unescape(body["name"]) == "kv-ready"
    props = body["properties"]
    assert props["enableRbacAuthorization"] is True
    assert props["sku"] == {"family": "A", "name": "standard"} and props["enablePurgeProtection"] is True
    assert unescape(props["accessPolicies"][0]["objectId"]) == CAROL  # policies kept for a rollback
    for read_only in ("vaultUri", "provisioningState", "privateEndpointConnections"):
        assert read_only not in props
    assert "kv-blocked" in text and "No flip: the vault is blocked" in text


def test_hostile_names_and_tags_are_escaped_in_bicep(snapshot):
    result = run_plan(snapshot, None, formats=("bicep",))
    name = file_name(SUB, HOSTILE_RG)
    assert re.fullmatch(r"bicep/rg-touch-PWNED_D-q-x-[0-9a-f]{8}\.bicep", name)
    text = result.files[name].decode()
    tree = parse_bicep(text)["resources"]
    (existing,) = [r for r in tree.values() if r["existing"]]
    assert unescape(existing["config"]["name"]) == HOSTILE_VAULT
    assert len(tree) == 1 + sum(len(e["proposedRoles"]) for e in hostile_plan(result)["entries"])
    flip_text = result.files[file_name(SUB, HOSTILE_RG, ".flip.bicep")].decode()
    (flip,) = parse_bicep(flip_text)["resources"].values()
    assert unescape(flip["config"]["name"]) == HOSTILE_VAULT
    tags = {unescape(k.strip("'")): unescape(v) for k, v in flip["config"]["tags"].items()}
    assert tags == HOSTILE_TAGS
    for line in (text + flip_text).splitlines():  # estate text only in comments or string literals, one line
        assert not any(ord(c) < 0x20 for c in line)
        if "PWNED" in line:
            assert line.lstrip().startswith(("//", "name: '", "'owner")), line


def hostile_plan(result):
    return next(p for p in result.plans if p["vaultName"] == HOSTILE_VAULT)


def fake_az(directory: Path) -> Path:
    """An ``az`` that records its arguments and keeps just enough state to answer the script's checks."""
    return fake_az_module.install(directory)


def run_script(script: Path, phase: str, tmp_path: Path, bin_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "KV_AUDIT_PROPAGATION_WAIT": "0",
           "KV_AUDIT_VISIBILITY_TRIES": "1", "FAKE_AZ_LOG": str(tmp_path / "az.log"),
           "FAKE_AZ_STATE": str(tmp_path / "az.state")}
    return subprocess.run(["bash", str(script), phase], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)


def test_script_runs_against_a_fake_az_and_no_name_injects_a_command(snapshot, tmp_path):
    out = tmp_path / "plans"
    result = run_plan(snapshot, out, formats=("cli",))
    bin_dir = fake_az(tmp_path / "bin")
    done = run_script(out / "kv-audit-plan.sh", "all", tmp_path, bin_dir)
    assert done.returncode == 0, done.stderr
    assert not list(tmp_path.glob("PWNED*")) and not list(out.glob("PWNED*"))
    calls = [json.loads(line) for line in (tmp_path / "az.log").read_text().splitlines()]
    hostile = next(p for p in result.plans if p["vaultName"] == HOSTILE_VAULT)
    flipped = [c for c in calls if c[:2] == ["keyvault", "update"]]
    opt = fake_az_module.option
    assert sorted(opt(c, "--name") for c in flipped) == sorted([HOSTILE_VAULT, "kv-ready"])
    hostile_flip = next(c for c in flipped if opt(c, "--name") == HOSTILE_VAULT)
    assert opt(hostile_flip, "--resource-group") == HOSTILE_RG
    created = [c for c in calls if c[:3] == ["role", "assignment", "create"]]
    review = next(p for p in result.plans if p["vaultName"] == "kv-review")
    assert {opt(c, "--scope") for c in created} == {hostile["vaultId"], review["vaultId"]}
    assert len(created) == sum(len(e["proposedRoles"]) for p in result.plans for e in p["entries"])
    assert [c for c in calls if c[:3] == ["role", "definition", "create"]]
    assert "vault 4: flip commented out until the latent grants are reviewed" in done.stderr  # kv-review
    rolled = run_script(out / "kv-audit-plan.sh", "rollback", tmp_path, bin_dir)
    assert rolled.returncode == 0, rolled.stderr
    state = json.loads((tmp_path / "az.state").read_text())
    assert state["rbac"] == {HOSTILE_VAULT: "false", "kv-ready": "false", "kv-review": "false"}


def test_script_without_a_phase_only_prints_usage(snapshot, tmp_path):
    out = tmp_path / "plans"
    run_plan(snapshot, out, formats=("cli",))
    done = run_script(out / "kv-audit-plan.sh", "", tmp_path, fake_az(tmp_path / "bin"))
    assert done.returncode == 2 and "usage" in done.stderr
    assert not (tmp_path / "az.log").exists()


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
    assert parse_formats([]) == ("cli", "bicep", "json")


def test_rewriting_a_plan_removes_its_own_stale_files_only(tmp_path):
    out = tmp_path / "plans"
    write_plan_files(out, {"bicep/a.bicep": b"one", "kv-audit-plan.sh": b"#!/bin/sh\n"})
    (out / "bicep" / "mine.bicep").write_text("user file")
    write_plan_files(out, {"bicep/b.bicep": b"two", "kv-audit-plan.sh": b"#!/bin/sh\n"})
    assert sorted(p.name for p in (out / "bicep").iterdir()) == ["b.bicep", "mine.bicep"]
    assert not list(out.rglob("*.tmp"))
    with pytest.raises(Exception):
        write_plan_files(out, {"../escape.sh": b"x"})


DEMO = Path(__file__).resolve().parents[2] / "audit_function" / "demo"


def test_demo_estate_plans_every_access_policy_vault_with_parseable_files(tmp_path):
    from audit_function.migration import READINESS
    from audit_function.snapshot import load_estate

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
