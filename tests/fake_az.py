"""A fake ``az`` on PATH for tests that run generated commands and scripts through bash.

It records its argv as one JSON line per call (``FAKE_AZ_LOG``), reads options the way ``az``
(argparse) does: ``--opt=VALUE`` or ``--opt VALUE`` where VALUE must not start with ``-`` (a
separate word starting with ``-`` is an option, so a resource group named ``--help`` passed that
way is *not* the group's value), and keeps just enough state (``FAKE_AZ_STATE``) to answer the
migration script's checks like Azure would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_SCRIPT = '''\
#!{python}
import json, os, re, sys
args = sys.argv[1:]
with open(os.environ["FAKE_AZ_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
state_path = os.environ.get("FAKE_AZ_STATE") or os.devnull
fresh = {{"roles": [], "assignments": [], "rbac": {{}}}}
has_state = state_path != os.devnull and os.path.exists(state_path) and os.path.getsize(state_path)
state = json.load(open(state_path)) if has_state else fresh
def opt(name):
    for i, a in enumerate(args):
        if a.startswith(name + "="):
            return a[len(name) + 1:]
        if a == name and i + 1 < len(args) and not args[i + 1].startswith("-"):
            return args[i + 1]
    return None
out = ""
if args[:3] == ["role", "definition", "list"]:
    out = opt("--name") if opt("--name") in state["roles"] else ""
elif args[:3] == ["role", "definition", "create"]:
    value = opt("--role-definition")
    body = json.load(open(value[1:])) if value.startswith("@") else json.loads(value)
    state["roles"].append(body["Name"])
elif args[:3] == ["role", "assignment", "create"]:
    state["assignments"].append([opt("--assignee-object-id"), opt("--role"), opt("--scope")])
elif args[:3] == ["role", "assignment", "list"] and opt("--query"):
    oid = re.search(r"principalId=='([^']*)'", opt("--query")).group(1)
    out = "1" if [oid, opt("--role"), opt("--scope")] in state["assignments"] else "0"
elif args[:2] == ["keyvault", "update"] and opt("--enable-rbac-authorization"):
    state["rbac"][opt("--name")] = opt("--enable-rbac-authorization")
elif args[:2] == ["keyvault", "show"]:
    out = state["rbac"].get(opt("--name"), "false")
if state_path != os.devnull:
    json.dump(state, open(state_path, "w"))
if out:
    print(out)
'''


def install(directory: Path) -> Path:
    """Write the fake ``az`` into ``directory`` (created) and return the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    az = directory / "az"
    az.write_text(_SCRIPT.format(python=sys.executable))
    az.chmod(0o755)
    return directory


def env(bin_dir: Path, work: Path, **extra: str) -> dict:
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FAKE_AZ_LOG": str(work / "az.log"), "FAKE_AZ_STATE": str(work / "az.state"), **extra}


def calls(work: Path) -> list[list[str]]:
    log = work / "az.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


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

