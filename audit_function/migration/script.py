"""The Azure CLI migration script (bash): vault by vault, checked against live state, verified, reversible.

``bash kv-audit-plan.sh run [--accept-latent-grants] [VAULT ...]`` runs every selected vault as an
independent unit in its own subshell (issue 14): assign the planned roles -> wait until they are
listed (bounded) and for Microsoft's propagation delay -> pre-flight (re-read the vault's access
policies and ``enableRbacAuthorization`` and the role assignments, compare with the plan embedded
in the script; any drift stops that vault) -> flip -> write ``rollback/<vault>.sh`` -> verify the
model in force. Every step appends a JSON line to ``kv-audit-migrate.log`` beside the script; a
re-run reads it and skips finished vaults. One vault's failure never stops another: there is no
global ``set -e``, each unit returns its own result, and the script ends with a summary
(flipped / skipped with why / failed with why) and exit 1 when any vault failed.

Order: ``ready`` vaults first, then ``needs-assignments``, then ``review-latent-grants`` (run only with
``--accept-latent-grants``: the flip would widen someone's access). ``blocked`` vaults are comments
with their reasons: no command touches them.

Propagation: "Role assignments latency: at current expected performance, it will take up to 10
minutes (600 seconds) after role assignments is changed for role to be applied" (Azure Key Vault,
"Provide access to Key Vault keys, certificates, and secrets with Azure role-based access control",
Known limits and performance: https://learn.microsoft.com/azure/key-vault/general/rbac-guide). The
script therefore waits until the new assignments are *listed* (``KV_AUDIT_VISIBILITY_TIMEOUT``, 600 s)
and flips no earlier than ``KV_AUDIT_PROPAGATION_WAIT`` (600 s) after the vault's last new assignment.

Safety: every estate value reaches bash as one quoted literal (:func:`audit_function.quoting.shell_arg`)
assigned to a variable, and comments go through :func:`audit_function.quoting.shell_comment`; the
helpers (:mod:`~audit_function.migration.script_helpers`) pass values to ``az`` as ``--option="$V"``.
"""

from __future__ import annotations

import json

from audit_function import quoting
from audit_function.migration.commands import VAULT_API
from audit_function.migration.script_helpers import BASH_HELPERS, PY_HELPER

SCRIPT_NAME = "kv-audit-plan.sh"
LOG_NAME = "kv-audit-migrate.log"
RULE = "# " + "=" * 98


def text(value) -> str:
    """Estate text made safe for a comment line: no control character (newline included) raw."""
    return quoting.terminal(value)


def q(value) -> str:
    return quoting.shell_arg(value)


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=True, sort_keys=True, separators=(",", ":"))


def render(units: list[dict], roles: list[dict], *, header: list[str]) -> str:
    """The whole script. ``units``: :func:`~audit_function.migration.units.build`; ``roles``: placed custom roles."""
    out = ["#!/usr/bin/env bash", "# kv-audit migration plan: Key Vault access policies -> Azure RBAC"]
    out += [f"# {text(line)}" for line in header]
    out += [
        "#",
        "# Review this file before running it. kv-audit only wrote it; nothing changes in Azure until you run it.",
        "# Prerequisites: az login, python3 (the Azure CLI's own), and per vault: Microsoft.Authorization/",
        "# roleAssignments/write (Owner, User Access Administrator or Role Based Access Control Administrator)",
        "# and Microsoft.KeyVault/vaults/write; roleDefinitions/write where custom roles are created.",
        "#",
        "# Usage: bash kv-audit-plan.sh run [--accept-latent-grants] [VAULT_NAME_OR_ID ...]",
        "#   Each vault: assign -> wait until visible -> pre-flight against live state -> flip -> verify,",
        "#   logged to kv-audit-migrate.log; a re-run skips finished vaults. Rollback per flipped vault:",
        "#   bash rollback/<vault>.sh (written when the vault is flipped).",
        "#   --accept-latent-grants also runs the review-latent-grants vaults (their flip widens access).",
        "#",
        "# Vaults, in the order they run:",
    ]
    out += [f"#   {u['n']}. {text(u['vaultName'])}: {u['readiness']}" for u in units]
    out += ["", "set -uo pipefail   # no set -e: one vault's failure must not stop the others",
            "IFS= read -r -d '' KV_PY <<'KV_AUDIT_PYTHON'", PY_HELPER.strip("\n"), "KV_AUDIT_PYTHON",
            BASH_HELPERS.rstrip("\n"), ""]
    for role in roles:
        out.append(quoting.shell_comment(f"custom role {role['name']} (assignable at {role['scope']}; "
                                         f"definition {_role_file(role)}): {role['description']}"))
    out.append("")
    for unit in units:
        out += _blocked(unit) if unit["action"] == "blocked" else _unit(unit)
    out += _main(units)
    return "\n".join(out) + "\n"


def _role_file(role: dict) -> str:
    return f"custom-roles/kv-audit-{role['id']}.json"


def _vars(unit: dict) -> list[str]:
    return [f"  V_ID={q(unit['vaultId'])}", f"  V_NAME={q(unit['vaultName'])}", f"  V_RG={q(unit['resourceGroup'])}",
            f"  V_SUB={q(unit['subscriptionId'])}", f"  V_FILE='{unit['file']}'"]   # units.safe_name: [A-Za-z0-9_.-]


def _head(unit: dict) -> list[str]:
    out = [RULE, f"# Vault {unit['n']}: {text(unit['vaultName'])}  ({unit['readiness']})", f"#   id: {text(unit['vaultId'])}"]
    out += [quoting.shell_comment(reason, prefix="#   - ") for reason in unit["reasons"]]
    return out


def _blocked(unit: dict) -> list[str]:
    why = "blocked: " + "; ".join(unit["reasons"])
    return _head(unit) + ["#   No command touches this vault: the reasons above need a decision first.",
                          f"vault_{unit['n']}() {{", *_vars(unit), "  wanted || return 0", f"  skip {q(why)}", "}", ""]


def _unit(unit: dict) -> list[str]:
    out = _head(unit) + [f"vault_{unit['n']}() {{", *_vars(unit), f"  V_SPEC={q(_json(unit['expected']))}",
                         "  wanted || return 0", "  unit_begin || return 1", '  case "$V_STATE" in',
                         '    finished) skip "already flipped and verified ($V_AT)"; return 0 ;;',
                         '    rolled-back) skip "rolled back ($V_AT); delete its lines from '
                         f'{LOG_NAME} to migrate it again"; return 0 ;;',
                         "  esac"]
    if unit["action"] == "review":
        why = ("flipping would widen access (see the reasons above): review or remove those assignments, then "
               "re-run with --accept-latent-grants")
        out.append(f'  [ "$ACCEPT_LATENT" = yes ] || {{ skip {q(why)}; return 0; }}')
    out.append('  if [ "$V_STATE" != flipped ]; then')
    for item in unit["create"]:
        out.append(quoting.shell_comment(f"entry {item['entry']}: {item['principalId']} -> {item['roleName']}",
                                         prefix="    # "))
        args = [q(item["principalId"]), q(item["principalType"] or ""), q(item["roleName"])]
        args += [q(""), q(item["roleFile"]), q(item["roleScope"])] if item["custom"] else [q(item["roleGuid"])]
        out.append("    assign_role " + " ".join(args) + " || return 1")
    if not unit["create"]:
        out.append("    record assign skipped 'no new role assignment needed'")
    out += ["    await_visible || return 1", "    preflight || return 1", "    flip || return 1", "  fi",
            f"  write_rollback {q(rollback(unit))} || return 1", "  verify_flip", "}", ""]
    return out


def rollback(unit: dict) -> str:
    """The rollback script of one vault (written beside the plan when the vault is flipped)."""
    vault = " ".join([quoting.shell_option("--name", unit["vaultName"]),
                      quoting.shell_option("--resource-group", unit["resourceGroup"]),
                      quoting.shell_option("--subscription", unit["subscriptionId"])])
    vid = q(_json(unit["vaultId"]))
    lines = [
        "#!/usr/bin/env bash",
        quoting.shell_comment(f"kv-audit rollback for vault {unit['vaultName']}"),
        quoting.shell_comment(f"  id: {unit['vaultId']}"),
        "# Switches the vault back to the access-policy model. The flip changed only enableRbacAuthorization:",
        "# the vault's access policies were never touched and are in force again as soon as this has run.",
        "# Role assignments the plan created stay (inert on an access-policy vault); remove them separately.",
        "set -uo pipefail",
        'LOG_FILE="${KV_AUDIT_MIGRATE_LOG:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/' + LOG_NAME + '}"',
        "log_line() {",
        "  printf '{\"vaultId\": %s, \"step\": \"rollback\", \"result\": \"%s\", \"detail\": \"%s\", \"at\": \"%s\"}\\n' \\",
        f'    {vid} "$1" "$2" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$LOG_FILE"',
        "}",
        "# A PATCH of enableRbacAuthorization alone (az keyvault update would PUT the whole vault back).",
        'ARM="${KV_AUDIT_ARM_ENDPOINT:-https://management.azure.com}"',
        'ARM="${ARM%/}"',
        f"V_ID={q(unit['vaultId'])}",
        f'if ! az rest --method=patch --url="${{ARM}}${{V_ID}}?api-version={VAULT_API}" \\',
        "    --body='{\"properties\":{\"enableRbacAuthorization\":false}}' --output=none; then",
        "  log_line failed 'az rest --method patch failed'; exit 1",
        "fi",
        f'actual="$(az keyvault show {vault} --query=properties.enableRbacAuthorization --output=tsv)"',
        'actual="${actual//[^a-z]/}"',
        'if [ "$actual" != false ]; then',
        '  log_line failed "enableRbacAuthorization is ${actual:-unknown} after the rollback"; exit 1',
        "fi",
        "log_line ok 'access policies in force again'",
        "echo 'rolled back: the vault uses its access policies again'",
    ]
    return "\n".join(lines) + "\n"


def _main(units: list[dict]) -> list[str]:
    calls = [f"  run_one vault_{u['n']}" for u in units] or ["  :"]
    return [
        RULE,
        "run_one() {           # one vault in its own subshell: whatever happens there stays there",
        "  local before after",
        '  before="$(wc -l <"$RESULTS")"',
        '  ( "$1" )',
        "  local rc=$?",
        '  after="$(wc -l <"$RESULTS")"',
        '  if [ "$after" = "$before" ] && [ "$rc" -ne 0 ]; then',
        '    py result "$RESULTS" failed "$1" "stopped unexpectedly (exit $rc); see the messages above"',
        "  fi",
        "}",
        "",
        "run_all() {",
    ] + calls + [
        "}",
        "",
        "main() {",
        '  if [ "${1:-}" != run ]; then',
        "    say 'usage: bash kv-audit-plan.sh run [--accept-latent-grants] [VAULT_NAME_OR_ID ...]'",
        "    exit 2",
        "  fi",
        "  shift",
        "  SELECTED=()",
        "  local arg",
        '  for arg in "$@"; do',
        '    if [ "$arg" = --accept-latent-grants ]; then ACCEPT_LATENT=yes; else SELECTED+=("$arg"); fi',
        "  done",
        "  command -v az >/dev/null || { say 'az (the Azure CLI) is not on PATH'; exit 2; }",
        "  command -v python3 >/dev/null || { say 'python3 is not on PATH'; exit 2; }",
        '  RESULTS="$(mktemp)"',
        "  trap 'rm -f \"$RESULTS\"' EXIT",
        '  say "kv-audit migration: log $LOG_FILE"',
        "  run_all",
        '  py summary "$RESULTS"',
        "}",
        "",
        'main "$@"',
    ]
