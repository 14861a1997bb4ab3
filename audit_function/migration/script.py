"""The Azure CLI migration script (bash) for a set of vault plans.

Layout: helper functions, one section per custom role, one section per vault (``assign_vault_N``,
``verify_vault_N``, ``flip_vault_N``, ``rollback_vault_N``), then ``main`` which runs a phase
for every vault. Running the phases across vaults lets one propagation wait serve all of them.

Safety: every estate value reaches bash through :mod:`audit_function.quoting`: ``shell_arg`` (one
literal argument, always one line) and, in comments, ``terminal`` / ``shell_comment`` (no raw
newline or CR can end a comment early). The helper functions pass their arguments to ``az`` as
``--option="$1"``, so a name starting with ``-`` is never read as an option. Principal ids are GUIDs
(checked by the planner before any command is built). ``blocked`` vaults are never flipped;
``review-latent-grants`` vaults have their flip commented out until someone reviews the gainers.
"""

from __future__ import annotations

from audit_function import quoting
from audit_function.migration import commands as cmd

SCRIPT_NAME = "kv-audit-plan.sh"


def text(value) -> str:
    """Estate text made safe for a comment line: no control character (newline included) raw."""
    return quoting.terminal(value)


def role_file(role: dict) -> str:
    return f"custom-roles/kv-audit-{role['id']}.json"


_HELPERS = r'''
PLAN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROPAGATION_WAIT="${KV_AUDIT_PROPAGATION_WAIT:-600}"   # seconds to wait after creating assignments
VISIBILITY_TRIES="${KV_AUDIT_VISIBILITY_TRIES:-30}"     # 10-second polls for a new role or assignment

log() { printf '%s\n' "$*" | LC_ALL=C tr -d '\000-\011\013-\037\177' >&2; }  # no control character reaches the terminal

# ensure_custom_role NAME FILE LOOKUP_SCOPE: create the role unless it exists, wait until visible
ensure_custom_role() {
  local name="$1" file="$2" scope="$3" n
  if [ -n "$(az role definition list --custom-role-only true --name="$name" --scope="$scope" --query '[].name' --output tsv)" ]; then
    log "custom role already exists: $name"
    return 0
  fi
  az role definition create --role-definition "@$PLAN_DIR/$file" --output none
  for n in $(seq 1 "$VISIBILITY_TRIES"); do
    if [ -n "$(az role definition list --custom-role-only true --name="$name" --scope="$scope" --query '[].name' --output tsv)" ]; then
      log "custom role created: $name"
      return 0
    fi
    sleep 10
  done
  log "custom role not visible after $n polls: $name"
  return 1
}

# verify_assignment OBJECT_ID ROLE SCOPE SUBSCRIPTION: wait until the assignment is listed at SCOPE
verify_assignment() {
  local oid="$1" role="$2" scope="$3" sub="$4" n found
  for n in $(seq 1 "$VISIBILITY_TRIES"); do
    found="$(az role assignment list --subscription="$sub" --scope="$scope" --role="$role" --query "[?principalId=='$oid'] | length(@)" --output tsv)"
    if [ "${found:-0}" != "0" ]; then
      return 0
    fi
    sleep 10
  done
  log "assignment of $role to $oid at $scope is not visible after $n polls"
  return 1
}

# verify_model NAME RESOURCE_GROUP SUBSCRIPTION EXPECTED: the vault's enableRbacAuthorization
verify_model() {
  local actual
  actual="$(az keyvault show --name="$1" --resource-group="$2" --subscription="$3" --query properties.enableRbacAuthorization --output tsv)"
  if [ "$actual" != "$4" ]; then
    log "vault $1: enableRbacAuthorization is '$actual', expected '$4'"
    return 1
  fi
}
'''


def render(plans: list[dict], roles: list[dict], *, header: list[str]) -> str:
    """The whole script. ``roles``: :func:`~audit_function.migration.readiness.custom_roles` output."""
    out = ["#!/usr/bin/env bash", "# kv-audit migration plan: Key Vault access policies -> Azure RBAC"]
    out += [f"# {text(line)}" for line in header]
    out += [
        "#",
        "# Review this file before running it. kv-audit only wrote it; nothing changes in Azure until you run it.",
        "# Prerequisites: az login; Owner or User Access Administrator (roleAssignments/write) plus",
        "# Microsoft.KeyVault/vaults/write on every vault; roleDefinitions/write where custom roles are created.",
        "#",
        "# Usage: bash kv-audit-plan.sh assign    create custom roles and the missing role assignments",
        "#        bash kv-audit-plan.sh verify    wait until every planned assignment is visible",
        "#        bash kv-audit-plan.sh flip      verify, then switch each vault to RBAC and check it",
        "#        bash kv-audit-plan.sh all       assign, wait KV_AUDIT_PROPAGATION_WAIT seconds (600), verify, flip",
        "#        bash kv-audit-plan.sh rollback  switch the vaults back to access policies (they are retained)",
        "# Blocked vaults are never flipped; vaults whose flip would widen access have the flip commented out.",
        "#",
        "# Vaults:",
    ]
    out += [f"#   {n}. {text(p['vaultName'])}: {p['readiness']}" for n, p in enumerate(plans, 1)]
    out += ["", "set -euo pipefail", _HELPERS.rstrip("\n"), ""]
    out += _custom_role_section(roles)
    for n, plan in enumerate(plans, 1):
        out += _vault_section(n, plan)
    out += _main(len(plans))
    return "\n".join(out) + "\n"


def _custom_role_section(roles: list[dict]) -> list[str]:
    out = ["# " + "=" * 98, "# Custom roles (one per permission signature; definitions in custom-roles/)",
           "create_custom_roles() {"]
    if not roles:
        out.append("  log 'no custom role needed'")
    for role in roles:
        out.append(f"  # {text(role['description'])}")
        users = ", ".join(f"{u['vaultId']} entry {u['entry']}" for u in role["usedBy"])
        out.append(f"  # used by: {text(users)}")
        out.append("  " + cmd.join("ensure_custom_role", cmd.q(role["name"]), cmd.q(role_file(role)),
                                   cmd.q(role["assignableScopes"][0])))
    out += ["}", ""]
    return out


def _vault_section(n: int, plan: dict) -> list[str]:
    vault_id, sub = plan["vaultId"], plan["subscriptionId"]
    out = ["# " + "=" * 98, f"# Vault {n}: {text(plan['vaultName'])}  ({plan['readiness']})",
           f"#   id: {text(vault_id)}"]
    out += [f"#   - {text(reason)}" for reason in plan["reasons"]]

    assign, verify = [], []
    for entry in plan["entries"]:
        label = f"entry {entry['index']}: {text(entry['principalId'])} ({text(entry['dataActionsInWords']) or 'nothing'})"
        if not entry["proposedRoles"]:
            assign.append(f"  # {label}: {text(entry['note'] or 'nothing to assign')}")
            continue
        for role, command in zip(entry["proposedRoles"], entry["commands"][-len(entry["proposedRoles"]):]):
            assign.append(f"  # {label} -> {text(role['name'])}")
            assign.append(f"  {command} --output none")
            ref = role["name"] if role.get("custom") else role["id"].rsplit("/", 1)[-1]
            verify.append("  " + cmd.join("verify_assignment", cmd.q(entry["principalId"]), cmd.q(ref),
                                          cmd.q(vault_id), cmd.q(sub)))
    out.append(f"assign_vault_{n}() {{")
    out.append(f"  log {cmd.q('vault ' + str(n) + ': role assignments')}")
    out += assign
    out += ["}", f"verify_vault_{n}() {{", f"  log {cmd.q('vault ' + str(n) + ': verifying role assignments')}"]
    out += verify
    out += ["}"]
    out += _flip(n, plan)
    out.append("")
    return out


def _vault_args(plan: dict) -> str:
    return cmd.join(cmd.q(plan["vaultName"]), cmd.q(plan["resourceGroup"] or ""), cmd.q(plan["subscriptionId"] or ""))


def _flip(n: int, plan: dict) -> list[str]:
    flip = plan["flip"]
    readiness = plan["readiness"]
    out = [f"flip_vault_{n}() {{"]
    if readiness == "blocked":
        out.append(f"  log {cmd.q(f'vault {n} is blocked and is not flipped (see the reasons above)')}")
        out += ["}", f"rollback_vault_{n}() {{", f"  log {cmd.q(f'vault {n} was not flipped by this plan')}", "}"]
        return out
    lines = [f"{flip['command']} --output none", f"verify_model {_vault_args(plan)} true", flip["verify"][1],
             f"log {cmd.q(f'vault {n} now uses Azure RBAC; rollback: ' + flip['rollback'])}"]
    if readiness == "review-latent-grants":
        out.append("  # Flipping would widen access (see 'would gain' above). Remove or accept those assignments,")
        out.append("  # then uncomment the lines below.")
        out.append(f"  log {cmd.q(f'vault {n}: flip commented out until the latent grants are reviewed')}")
        out += [quoting.shell_comment(line, prefix="  # ") for line in lines]
    else:
        out += [f"  {line}" for line in lines]
    out += ["}", f"rollback_vault_{n}() {{", f"  {flip['rollback']} --output none",
            f"  verify_model {_vault_args(plan)} false", "}"]
    return out


def _main(count: int) -> list[str]:
    def each(phase: str) -> str:
        return "; ".join(f"{phase}_vault_{n}" for n in range(1, count + 1)) or ":"

    return [
        "# " + "=" * 98,
        "main() {",
        '  case "${1:-}" in',
        f"    assign) create_custom_roles; {each('assign')} ;;",
        f"    verify) {each('verify')} ;;",
        f"    flip) {each('verify')}; {each('flip')} ;;",
        f"    rollback) {each('rollback')} ;;",
        "    all)",
        f"      create_custom_roles; {each('assign')}",
        '      log "waiting ${PROPAGATION_WAIT}s for the role assignments to propagate"',
        '      sleep "$PROPAGATION_WAIT"',
        f"      {each('verify')}; {each('flip')} ;;",
        "    *) log 'usage: bash kv-audit-plan.sh assign|verify|flip|all|rollback'; exit 2 ;;",
        "  esac",
        "}",
        "",
        'main "$@"',
    ]
