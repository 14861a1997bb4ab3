"""The generated migration script against a stateful fake ``az``: vault by vault, pre-flight, resume, rollback."""

from __future__ import annotations

import json
import subprocess

import pytest

from audit_function.pipeline.run import demo_snapshot
from audit_function.migration.planner import run_plan
from tests import fake_az
from tests.migration.live import Azure, log_lines, state_of, touching


def touching_flip(calls, vault) -> str:
    """The --url word of the vault's flip (a PATCH of its ARM URL)."""
    (url,) = [c[2] for c in calls if c[:2] == ["rest", "--method=patch"] and vault["id"].lower() in c[2].lower()
              and "true" in c[3]]
    return url

READY, NEEDS = "kv-corp-shared", "kv-legacy-2016"
REVIEW = {"kv-lab-scratch", "kv-backup-mgmt", "kv-identity-shared", "kv-web-certs"}
BLOCKED = {"kv-fabrikam-erp", "kv-adds-dsc", "kv-online-frontend"}
STEPS = {"assign", "visible", "preflight", "flip", "verify", "rollback"}


@pytest.fixture(scope="module")
def demo():
    return demo_snapshot()


@pytest.fixture
def planned(demo, tmp_path):
    out = tmp_path / "plans"
    result = run_plan(demo, out, formats=("cli",))
    return result, out / "kv-audit-plan.sh"


def summary(done) -> dict[str, dict[str, str]]:
    """status -> vault -> why, from the script's summary on stdout."""
    out, status = {}, None
    for line in done.stdout.splitlines():
        if not line.startswith("  - "):
            status = line.split(":")[0]
            out[status] = {}
            continue
        vault, why = line[4:].split(": ", 1)
        out[status][vault] = why
    return out


def mutating(calls):
    return [c for c in calls if c[:2] == ["keyvault", "update"] or c[:1] == ["rest"] or c[1:3] in (["assignment", "create"],
                                                                             ["definition", "create"])]


def test_demo_estate_ready_and_needs_assignments_flip_blocked_untouched(planned, demo, tmp_path):
    result, script = planned
    assert [u["readiness"] for u in result.units][:2] == ["ready", "needs-assignments"]   # ready vaults first
    azure = Azure(tmp_path, state_of(demo, listDelay=2, transient=["rest --method=patch"]))
    done = azure.run(script, "run")
    assert done.returncode == 0, done.stderr
    got = summary(done)
    assert set(got["flipped and verified"]) == {READY, NEEDS}
    assert set(got["skipped"]) == REVIEW | BLOCKED and got["failed"] == {}
    assert all("--accept-latent-grants" in got["skipped"][v] for v in REVIEW)
    assert all(got["skipped"][v].startswith("blocked: ") for v in BLOCKED)
    assert "transient error (try 1 of 4)" in done.stderr          # the 500 was retried, not fatal
    for name in (READY, NEEDS):
        assert azure.vault(name)["properties"]["enableRbacAuthorization"] is True
    calls = azure.calls()
    for name in BLOCKED | REVIEW:                                 # no command touched them
        assert not touching(calls, azure.vault(name)), name
        assert azure.vault(name)["properties"]["enableRbacAuthorization"] is False
    needs = next(u for u in result.units if u["vaultName"] == NEEDS)
    created = [c for c in calls if c[:3] == ["role", "assignment", "create"]]
    assert len(created) == len(needs["create"]) == 3
    # the flip came after the new assignments were listed: the fake lists them only from the 2nd list call
    order = [tuple(c[:3]) for c in touching(calls, azure.vault(NEEDS))]
    assert order.index(("rest", "--method=patch", touching_flip(calls, azure.vault(NEEDS)))) \
        > order.index(("role", "assignment", "list"))
    assert not [c for c in calls if c[:2] == ["keyvault", "update"]]     # never a read-then-PUT of the vault
    lines = log_lines(script.parent)
    assert lines and all(set(x) == {"vaultId", "step", "result", "detail", "at"} and x["step"] in STEPS
                         for x in lines)
    for name in (READY, NEEDS):
        vid = azure.vault(name)["id"]
        steps = [(x["step"], x["result"]) for x in lines if x["vaultId"] == vid]
        assert [s for s, _ in steps if s != "assign"] == ["visible", "preflight", "flip", "verify"]
        assert all(r == "ok" for s, r in steps if s != "assign")
        # "assign ok" is a change (the settle counts from it); nothing to create is "skipped"
        assert [r for s, r in steps if s == "assign"] == (["skipped"] if name == READY else ["ok"] * 3)
    rollbacks = sorted(p.name for p in (script.parent / "rollback").iterdir())
    assert rollbacks == ["001-kv-corp-shared.sh", "002-kv-legacy-2016.sh"]

    azure.clear_calls()
    again = azure.run(script, "run")                              # a second run does nothing
    assert again.returncode == 0, again.stderr
    assert set(summary(again)["skipped"]) >= {READY, NEEDS}
    assert "already flipped and verified" in summary(again)["skipped"][READY]
    assert mutating(azure.calls()) == []


def test_a_policy_added_since_the_plan_stops_exactly_that_vault(planned, demo, tmp_path):
    _, script = planned
    azure = Azure(tmp_path, state_of(demo))
    newcomer = "0d0d0d0d-0000-4000-8000-00000000dead"

    def add_policy(state):
        vault = next(v for v in state["vaults"].values() if v["name"] == NEEDS)
        vault["properties"]["accessPolicies"].append(
            {"tenantId": vault["properties"]["accessPolicies"][0]["tenantId"], "objectId": newcomer,
             "permissions": {"secrets": ["get"]}})
    azure.edit(add_policy)
    done = azure.run(script, "run")
    assert done.returncode == 1
    got = summary(done)
    assert set(got["failed"]) == {NEEDS}
    assert f"preflight drift: new access policy entry for {newcomer}" in got["failed"][NEEDS]
    assert set(got["flipped and verified"]) == {READY}
    assert azure.vault(NEEDS)["properties"]["enableRbacAuthorization"] is False
    assert not [v for v, _ in fake_az.patches(azure.calls()) if v == azure.vault(NEEDS)["id"].lower()]
    drift = [x for x in log_lines(script.parent) if x["result"] == "drift"]
    assert len(drift) == 1 and drift[0]["step"] == "preflight" and newcomer in drift[0]["detail"]


def test_changed_policy_and_removed_assignment_are_drift_too(planned, demo, tmp_path):
    result, script = planned
    azure = Azure(tmp_path, state_of(demo))
    ready = next(u for u in result.units if u["vaultName"] == READY)
    kept = ready["expected"]["keep"][0]

    def drift(state):
        vault = next(v for v in state["vaults"].values() if v["name"] == READY)
        vault["properties"]["accessPolicies"][0]["permissions"]["secrets"] = ["get", "list", "delete"]
        state["assignments"] = [a for a in state["assignments"] if a["id"].lower() != kept["assignmentId"].lower()]
    azure.edit(drift)
    done = azure.run(script, "run", READY)                        # selecting one vault runs only that one
    why = summary(done)["failed"][READY]
    oid = ready["expected"]["policies"][0]["objectId"]
    assert f"access policy entry for {oid} changed" in why
    assert f"planned role assignment missing: {kept['roleName']} for {kept['principalId']}" in why
    assert done.returncode == 1 and summary(done)["flipped and verified"] == {}
    assert not touching(azure.calls(), azure.vault(NEEDS))


def test_rollback_restores_the_access_policy_model_and_a_rerun_leaves_it(planned, demo, tmp_path):
    _, script = planned
    azure = Azure(tmp_path, state_of(demo))
    assert azure.run(script, "run").returncode == 0
    policies = azure.vault(NEEDS)["properties"]["accessPolicies"]
    rollback = script.parent / "rollback" / "002-kv-legacy-2016.sh"
    text = rollback.read_text()
    assert "access policies were never touched" in text
    subprocess.run(["bash", "-n", str(rollback)], check=True)
    done = azure.run(rollback)
    assert done.returncode == 0, done.stderr
    vault = azure.vault(NEEDS)
    assert vault["properties"]["enableRbacAuthorization"] is False and vault["properties"]["accessPolicies"] == policies
    last = log_lines(script.parent)[-1]
    assert (last["vaultId"], last["step"], last["result"]) == (vault["id"], "rollback", "ok")
    azure.clear_calls()
    again = azure.run(script, "run")
    assert "rolled back" in summary(again)["skipped"][NEEDS]
    assert not touching(azure.calls(), vault)


def test_a_principal_azure_rejects_fails_its_vault_only(planned, demo, tmp_path):
    result, script = planned
    needs = next(u for u in result.units if u["vaultName"] == NEEDS)
    rejected = needs["create"][1]["principalId"]
    azure = Azure(tmp_path, state_of(demo))
    azure.edit(lambda s: s["foreign"].append(rejected))
    done = azure.run(script, "run", "--accept-latent-grants")
    got = summary(done)
    assert done.returncode == 1
    assert set(got["failed"]) == {NEEDS} and "PrincipalNotFound" in got["failed"][NEEDS]
    assert READY in got["flipped and verified"]
    assert set(got["flipped and verified"]) == {READY} | REVIEW    # later vaults still ran
    assert azure.vault(NEEDS)["properties"]["enableRbacAuthorization"] is False
    # the re-run resumes: the assignment made before the rejection is "already assigned", not an error
    azure.edit(lambda s: s["foreign"].remove(rejected))
    again = azure.run(script, "run")
    assert again.returncode == 0 and NEEDS in summary(again)["flipped and verified"]
    assert any("already assigned" in x["detail"] for x in log_lines(script.parent))


def test_review_vaults_with_custom_roles_run_when_accepted(planned, demo, tmp_path):
    result, script = planned
    azure = Azure(tmp_path, state_of(demo, listDelay=1))
    done = azure.run(script, "run", "--accept-latent-grants")
    assert done.returncode == 0, done.stderr
    assert set(summary(done)["flipped and verified"]) == {READY, NEEDS} | REVIEW
    used = {c["roleName"] for u in result.units for c in u["create"] if c["custom"]}
    assert used and {r["roleName"] for r in azure.state["roles"]} == used   # each custom role created once


def test_visibility_wait_is_bounded(planned, demo, tmp_path):
    _, script = planned
    azure = Azure(tmp_path, state_of(demo, listDelay=10_000))
    done = azure.run(script, "run", NEEDS, KV_AUDIT_VISIBILITY_TIMEOUT="2", KV_AUDIT_POLL_SECONDS="1")
    assert done.returncode == 1
    why = summary(done)["failed"][NEEDS]
    assert why.startswith("visible failed: not listed after 2s")
    assert azure.vault(NEEDS)["properties"]["enableRbacAuthorization"] is False


def test_usage_and_missing_tools(planned, tmp_path):
    _, script = planned
    azure = Azure(tmp_path, {})
    done = azure.run(script)
    assert done.returncode == 2 and "usage" in done.stderr and not azure.calls()
    assert json.loads(json.dumps(log_lines(script.parent))) == []


def test_a_flip_whose_verification_failed_is_verified_on_the_rerun_without_a_second_flip(planned, demo, tmp_path):
    _, script = planned
    azure = Azure(tmp_path, state_of(demo))
    vault = azure.vault(READY)
    show = (f"keyvault show --name={READY} --resource-group={vault['resourceGroup']} "
            f"--subscription={vault['subscriptionId']} --query")
    azure.edit(lambda s: s["transient"].append(show))             # the check after the flip fails once
    done = azure.run(script, "run", READY, KV_AUDIT_AZ_TRIES="1")
    assert done.returncode == 1 and summary(done)["failed"][READY].startswith("verify failed")
    assert (script.parent / "rollback" / "001-kv-corp-shared.sh").exists()   # written before verification
    azure.clear_calls()
    again = azure.run(script, "run", READY)
    assert again.returncode == 0 and READY in summary(again)["flipped and verified"]
    assert mutating(azure.calls()) == []                          # resumed at verify: no second flip
    steps = [x["step"] for x in log_lines(script.parent)]
    assert steps.count("flip") == 1 and steps[-1] == "verify"


def test_a_flip_that_took_effect_without_its_log_line_is_verified_on_resume(planned, demo, tmp_path):
    result, script = planned
    azure = Azure(tmp_path, state_of(demo))
    ready = next(u for u in result.units if u["vaultName"] == READY)

    def flipped_unlogged(state):          # the PATCH went through, the run died before `record flip ok`
        next(v for v in state["vaults"].values() if v["name"] == READY)["properties"]["enableRbacAuthorization"] = True
    azure.edit(flipped_unlogged)
    done = azure.run(script, "run", READY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(summary(done)["flipped and verified"]) == {READY}
    assert not fake_az.patches(azure.calls())                      # not flipped a second time
    steps = [(x["step"], x["result"]) for x in log_lines(script.parent) if x["vaultId"] == ready["vaultId"]]
    assert ("preflight", "ok") in steps and steps[-2:] == [("flip", "ok"), ("verify", "ok")]
    assert (script.parent / "rollback" / f"{ready['file']}.sh").exists()
    again = azure.run(script, "run", READY)                         # and now it is finished
    assert "already flipped and verified" in summary(again)["skipped"][READY]


def test_already_rbac_but_a_relied_on_assignment_gone_is_still_drift(planned, demo, tmp_path):
    result, script = planned
    azure = Azure(tmp_path, state_of(demo))
    ready = next(u for u in result.units if u["vaultName"] == READY)
    kept = ready["expected"]["keep"][0]

    def change(state):
        next(v for v in state["vaults"].values() if v["name"] == READY)["properties"]["enableRbacAuthorization"] = True
        state["assignments"] = [a for a in state["assignments"] if a["id"].lower() != kept["assignmentId"].lower()]
    azure.edit(change)
    done = azure.run(script, "run", READY)
    why = summary(done)["failed"][READY]
    assert "already true and a planned role assignment is missing" in why and kept["principalId"] in why


def test_a_resumed_run_waits_what_remains_after_the_last_logged_assignment(planned, demo, tmp_path):
    import time

    result, script = planned
    needs = next(u for u in result.units if u["vaultName"] == NEEDS)
    azure = Azure(tmp_path, state_of(demo))

    def created_earlier(state):          # an interrupted run created them (and logged it) 597 s ago
        sub = needs["subscriptionId"]
        for n, c in enumerate(needs["create"]):
            state["assignments"].append({
                "id": f"{c['scope']}/providers/Microsoft.Authorization/roleAssignments/0000000{n}-0000-4000-8000-000000000000",
                "principalId": c["principalId"], "scope": c["scope"], "principalType": c["principalType"],
                "roleDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{c['roleGuid']}"})
    azure.edit(created_earlier)
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 597))
    (script.parent / "kv-audit-migrate.log").write_text("".join(
        json.dumps({"vaultId": needs["vaultId"], "step": "assign", "result": "ok", "detail": c["roleName"], "at": at})
        + "\n" for c in needs["create"]))
    started = time.monotonic()
    done = azure.run(script, "run", NEEDS, KV_AUDIT_PROPAGATION_WAIT="600")
    assert set(summary(done)["flipped and verified"]) == {NEEDS}, done.stdout + done.stderr
    waited = [line for line in done.stderr.splitlines() if "waiting" in line]
    assert len(waited) == 1 and int(waited[0].split("waiting ")[1].split("s")[0]) <= 5, waited
    assert time.monotonic() - started >= 2
