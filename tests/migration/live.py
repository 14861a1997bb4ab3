"""Run a generated plan script against the stateful fake ``az`` seeded from an estate (tests only)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from audit_function.snapshot.load import load_estate
from tests import fake_az

FAST = {"KV_AUDIT_VISIBILITY_TIMEOUT": "30", "KV_AUDIT_POLL_SECONDS": "0", "KV_AUDIT_PROPAGATION_WAIT": "0",
        "KV_AUDIT_RETRY_SECONDS": "0"}


def state_of(source, **extra) -> dict:
    """Fake Azure holding the estate's vaults (with their access policies) and role assignments."""
    estate = load_estate(source)
    state = fake_az.new_state(**extra)
    for v in estate.vaults:
        state["vaults"][v.id.lower()] = {
            "id": v.id, "name": v.name, "resourceGroup": v.resource_group or "", "subscriptionId": v.subscription_id,
            "properties": {"enableRbacAuthorization": v.is_rbac,
                           "accessPolicies": [{"tenantId": e.tenant_id, "objectId": e.object_id,
                                               **({"applicationId": e.application_id} if e.application_id else {}),
                                               "permissions": {k: list(p) for k, p in e.permissions.items()}}
                                              for e in v.access_policies]}}
    for a in estate.assignments:
        if not a.eligible:
            state["assignments"].append({"id": a.id, "principalId": a.principal_id,
                                         "roleDefinitionId": a.role_definition_id, "scope": a.scope})
    # principals of another tenant than their vault's: Azure does not know them in the vault's tenant
    state["foreign"] = sorted({e.object_id for v in estate.vaults for e in v.access_policies
                               if v.tenant_id and e.tenant_id.lower() != v.tenant_id.lower()})
    return state


class Azure:
    """A work folder with the fake ``az`` installed and seeded."""

    def __init__(self, tmp_path: Path, state: dict) -> None:
        self.work = tmp_path / "work"
        self.work.mkdir(exist_ok=True)
        self.bin = fake_az.install(tmp_path / "bin")
        fake_az.write_state(self.work, state)

    @property
    def state(self) -> dict:
        return fake_az.read_state(self.work)

    def edit(self, change) -> None:
        state = self.state
        change(state)
        fake_az.write_state(self.work, state)

    def calls(self) -> list[list[str]]:
        return fake_az.calls(self.work)

    def clear_calls(self) -> None:
        (self.work / "az.log").unlink(missing_ok=True)

    def run(self, script: Path, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
        environment = fake_az.env(self.bin, self.work, **{**FAST, **env})
        return subprocess.run(["bash", str(script), *args], cwd=self.work, env=environment, capture_output=True,
                              text=True, timeout=timeout)

    def vault(self, name: str) -> dict:
        (found,) = [v for v in self.state["vaults"].values() if v["name"] == name]
        return found


def log_lines(plan_dir: Path) -> list[dict]:
    path = plan_dir / "kv-audit-migrate.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def touching(calls: list[list[str]], vault: dict) -> list[list[str]]:
    """The az calls that name ``vault`` (by name or id, in any argument)."""
    vid = vault["id"].lower()
    return [c for c in calls if fake_az.option(c, "--name") == vault["name"] or any(vid in a.lower() for a in c)]
