"""A stateful fake ``az`` on PATH for tests that run generated commands and scripts through bash.

It records its argv as one JSON line per call (``FAKE_AZ_LOG``) and reads options the way ``az``
(argparse) does: ``--opt=VALUE`` or ``--opt VALUE`` where VALUE must not start with ``-`` (a separate
word starting with ``-`` is an option, so a resource group named ``--help`` passed that way is *not*
the group's value). State (``FAKE_AZ_STATE``, JSON, see :func:`new_state`) holds what Azure would:

- ``vaults``: id (lower) -> ``{"id", "name", "resourceGroup", "subscriptionId", "properties":
  {"enableRbacAuthorization", "accessPolicies"}}``; ``keyvault show`` / ``update`` find a vault by name,
  resource group and subscription (case-insensitive) and answer ``ResourceNotFound`` otherwise;
- ``assignments``: ``{"id", "principalId", "roleDefinitionId", "scope", "visibleAt"}``; a new one is
  listed only from the ``listDelay``-th ``role assignment list`` call after its creation (Azure's
  listing lags behind a create), a duplicate is ``RoleAssignmentExists``;
- ``roles``: custom role definitions (``name`` GUID, ``roleName``, ``assignableScopes``);
- ``foreign``: object ids from another tenant: assigning them fails (``PrincipalNotFound``), as
  Azure does for a principal its tenant does not know;
- ``strict``: set by :func:`new_state`; without it (an unseeded fake, for pasted remediation
  commands) every vault exists and unknown commands succeed silently;
- ``az rest``: only ``--method patch`` of a vault URL (``<ARM>/subscriptions/.../vaults/<name>?api-version=...``,
  ``ARM`` = ``armEndpoint``, default ``https://management.azure.com``) with a JSON ``--body`` of
  ``{"properties": {...}}``: the given properties are merged into the vault (ARM's PATCH semantics,
  nothing else of the vault is rewritten); any other method, URL or body fails loudly, seeded or not;
- ``transient``: argv prefixes (``"keyvault update"``, ``"rest"``) whose next call fails once with a 500
  (``ERROR: (InternalServerError) ...``, exit 1), as a real transient error does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_SCRIPT = r'''#!{python}
import json, os, sys, uuid
args = sys.argv[1:]
with open(os.environ["FAKE_AZ_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
path = os.environ.get("FAKE_AZ_STATE")
state = json.load(open(path)) if path and os.path.exists(path) and os.path.getsize(path) else {{}}
for key, default in (("vaults", {{}}), ("assignments", []), ("roles", []), ("foreign", []), ("transient", []),
                     ("listDelay", 0), ("listCalls", 0)):
    state.setdefault(key, default)

def opt(name):
    for i, a in enumerate(args):
        if a.startswith(name + "="):
            return a[len(name) + 1:]
        if a == name and i + 1 < len(args) and not args[i + 1].startswith("-"):
            return args[i + 1]
    return None

def save():
    if path:
        with open(path, "w") as handle:
            json.dump(state, handle)

def fail(code, message, rc=1):
    save()
    sys.stderr.write(f"ERROR: ({{code}}) {{message}}\n")
    sys.exit(rc)

def emit(value):
    save()
    out = (opt("--output") or opt("-o") or "json").lower()
    query = opt("--query")
    if query == "properties.enableRbacAuthorization":
        value = value["properties"]["enableRbacAuthorization"]
    if out == "none":
        sys.exit(0)
    if out == "tsv":
        print(str(value).lower() if isinstance(value, bool) else value)
    else:
        print(json.dumps(value, indent=2))
    sys.exit(0)

joined = " ".join(args)
for prefix in list(state["transient"]):
    if joined.startswith(prefix):
        state["transient"].remove(prefix)
        fail("InternalServerError", "Encountered internal server error. Please try again later. Status: 500")

def vault():
    name, rg, sub = opt("--name"), opt("--resource-group"), opt("--subscription")
    for v in state["vaults"].values():
        if (v["name"] == name and (rg is None or v["resourceGroup"].lower() == rg.lower())
                and (sub is None or v["subscriptionId"].lower() == sub.lower())):
            return v
    if not state.get("strict"):   # an unseeded fake answers every vault (remediation commands are pasted as is)
        stub = {{"id": f"/subscriptions/{{sub}}/resourceGroups/{{rg}}/providers/Microsoft.KeyVault/vaults/{{name}}",
                "name": name, "resourceGroup": rg or "", "subscriptionId": sub or "",
                "properties": {{"enableRbacAuthorization": False, "accessPolicies": []}}}}
        state["vaults"][stub["id"].lower()] = stub
        return stub
    fail("ResourceNotFound", f"The Resource 'Microsoft.KeyVault/vaults/{{name}}' under resource group '{{rg}}' "
         "was not found.", 3)

def guid(role_id):
    return str(role_id).rstrip("/").rsplit("/", 1)[-1].lower()

def covers(scope, target):
    scope, target = scope.lower().rstrip("/"), target.lower().rstrip("/")
    return scope == "" or target == scope or target.startswith(scope + "/")

if args[:2] == ["keyvault", "show"]:
    emit(vault())
elif args[:2] == ["keyvault", "update"]:
    v = vault()
    flag = opt("--enable-rbac-authorization")
    if flag is not None:
        v["properties"]["enableRbacAuthorization"] = flag.lower() == "true"
    emit(v)
elif args[:1] == ["rest"]:
    method, url, body = (opt("--method") or opt("-m") or "get").lower(), opt("--url") or opt("--uri") or "", opt("--body")
    base = state.get("armEndpoint", "https://management.azure.com").rstrip("/")
    where, _, query = url.partition("?")
    if method != "patch" or not where.lower().startswith(base.lower() + "/subscriptions/") \
            or "api-version=" not in query or body is None:
        fail("UnknownCommand", f"fake az rest knows only --method patch of {{base}}/<vault id>?api-version=... "
             f"with --body, not {{method}} {{url}}", 2)
    try:
        change = json.loads(body)
    except ValueError:
        fail("BadRequest", "the body is not JSON", 1)
    if set(change) != {{"properties"}} or not isinstance(change["properties"], dict):
        fail("BadRequest", "a vault PATCH body is {{\"properties\": {{...}}}}", 1)
    vid = where[len(base):].lower().rstrip("/")
    v = state["vaults"].get(vid)
    if v is None and not state.get("strict"):
        parts = where[len(base):].split("/")
        v = state["vaults"][vid] = {{"id": where[len(base):], "name": parts[-1], "resourceGroup": parts[4] if len(parts) > 4
                                   else "", "subscriptionId": parts[2] if len(parts) > 2 else "",
                                   "properties": {{"enableRbacAuthorization": False, "accessPolicies": []}}}}
    if v is None:
        fail("ResourceNotFound", f"The Resource '{{where[len(base):]}}' was not found.", 3)
    v["properties"].update(change["properties"])
    emit(v)
elif args[:3] == ["role", "assignment", "create"]:
    oid, role, scope = opt("--assignee-object-id"), opt("--role"), opt("--scope")
    if not oid or not role or not scope:
        fail("InvalidArgument", "--assignee-object-id, --role and --scope are required", 2)
    if oid.lower() in [f.lower() for f in state["foreign"]]:
        fail("PrincipalNotFound", f"Principal {{oid}} does not exist in the directory. Check that you have the "
             "correct principal ID.")
    found = [r for r in state["roles"] if r["roleName"] == role]
    role_guid = found[0]["name"] if found else guid(role)
    parts = scope.split("/")
    sub = parts[2] if len(parts) > 2 else ""
    if any(a["principalId"].lower() == oid.lower() and guid(a["roleDefinitionId"]) == role_guid
           and a["scope"].lower() == scope.lower() for a in state["assignments"]):
        fail("RoleAssignmentExists", "The role assignment already exists.", 1)
    new = {{"id": f"{{scope}}/providers/Microsoft.Authorization/roleAssignments/{{uuid.uuid4()}}", "principalId": oid,
           "roleDefinitionId": f"/subscriptions/{{sub}}/providers/Microsoft.Authorization/roleDefinitions/{{role_guid}}",
           "scope": scope, "principalType": opt("--assignee-principal-type"),
           "visibleAt": state["listCalls"] + state["listDelay"]}}
    state["assignments"].append(new)
    emit(new)
elif args[:3] == ["role", "assignment", "list"]:
    state["listCalls"] += 1
    scope = opt("--scope") or ""
    inherited = "--include-inherited" in args
    emit([{{k: v for k, v in a.items() if k != "visibleAt"}} for a in state["assignments"]
          if a.get("visibleAt", 0) <= state["listCalls"]
          and (covers(a["scope"], scope) if inherited else covers(scope, a["scope"]))])
elif args[:3] == ["role", "definition", "list"]:
    name = opt("--name")
    emit([r for r in state["roles"] if name is None or name in (r["roleName"], r["name"])])
elif args[:3] == ["role", "definition", "create"]:
    value = opt("--role-definition")
    body = json.load(open(value[1:])) if value.startswith("@") else json.loads(value)
    if any(r["roleName"] == body["Name"] for r in state["roles"]):
        fail("RoleDefinitionWithSameNameExists", "A custom role with the same name already exists in this directory.")
    role = {{"name": str(uuid.uuid4()), "roleName": body["Name"], "assignableScopes": body["AssignableScopes"],
            "dataActions": body.get("DataActions", [])}}
    state["roles"].append(role)
    emit(role)
elif state.get("strict"):
    fail("UnknownCommand", f"fake az does not know {{args[:3]}}", 2)
else:
    save()
'''


def install(directory: Path) -> Path:
    """Write the fake ``az`` into ``directory`` (created) and return the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    az = directory / "az"
    az.write_text(_SCRIPT.format(python=sys.executable))
    az.chmod(0o755)
    return directory


def new_state(**extra) -> dict:
    """A seeded (``strict``) state: unknown vaults are ``ResourceNotFound``, unknown commands fail."""
    return {"strict": True, "vaults": {}, "assignments": [], "roles": [], "foreign": [], "transient": [], "listDelay": 0,
            "listCalls": 0, **extra}


def write_state(work: Path, state: dict) -> None:
    (work / "az.state").write_text(json.dumps(state))


def read_state(work: Path) -> dict:
    return json.loads((work / "az.state").read_text())


def env(bin_dir: Path, work: Path, **extra: str) -> dict:
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FAKE_AZ_LOG": str(work / "az.log"), "FAKE_AZ_STATE": str(work / "az.state"), **extra}


def calls(work: Path) -> list[list[str]]:
    log = work / "az.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def patches(argv_list: list[list[str]], arm: str = "https://management.azure.com") -> list[tuple[str, dict]]:
    """``(vault id lower-cased, properties)`` of every ``az rest --method patch`` call, in order."""
    out = []
    for argv in argv_list:
        if argv[:1] == ["rest"] and (option(argv, "--method") or "").lower() == "patch":
            where = (option(argv, "--url") or "").partition("?")[0]
            out.append((where[len(arm.rstrip("/")):].lower().rstrip("/"), json.loads(option(argv, "--body") or "{}")
                        .get("properties", {})))
    return out


def option(argv: list[str], name: str) -> str | None:
    """The value ``az`` would read for ``name`` (``--opt=V`` or ``--opt V`` with V not an option)."""
    for i, arg in enumerate(argv):
        if arg.startswith(name + "="):
            return arg[len(name) + 1:]
        if arg == name and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            return argv[i + 1]
    return None


def bash(command: str, cwd: Path, environment: dict, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=timeout)
