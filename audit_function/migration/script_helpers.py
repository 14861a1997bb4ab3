"""The fixed parts of the generated migration script: bash helper functions and the embedded Python helper.

Nothing here contains estate text: the per-vault functions (:mod:`~audit_function.migration.script`)
set ``V_ID``, ``V_NAME``, ``V_RG``, ``V_SUB`` and ``V_SPEC`` from quoted literals, and these helpers only
ever expand them inside double quotes, passing them to ``az`` as ``--option="$V"`` (one word; a value
starting with ``-`` is never read as an option).

Why an embedded ``python3`` helper: the pre-flight compares JSON (``az keyvault show`` and
``az role assignment list`` output) with the planned JSON, and the resume log is JSON Lines with
arbitrary ``az`` error text in it. Doing that in bash would need ``jq`` (often absent) or fragile
``--query`` strings; ``python3`` is present wherever the Azure CLI is installed (it runs on Python).
The helper reads files the script wrote, never evaluates them, and uses the standard library only.
"""

from audit_function.migration.commands import VAULT_API

PY_HELPER = r'''
import datetime, json, sys

def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

def load(path, default=None):
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return default
    return json.loads(text) if text.strip() else default

def lines(path):
    out = []
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                if isinstance(item, dict):
                    out.append(item)
    except OSError:
        pass
    return out

def append(path, item):
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(item, ensure_ascii=True) + "\n")

def policy(p):
    perms = p.get("permissions") or {}
    return {"tenantId": str(p.get("tenantId") or "").lower(), "objectId": str(p.get("objectId") or "").lower(),
            "applicationId": str(p.get("applicationId") or "").lower(),
            "permissions": {str(k).lower(): sorted({str(x).lower() for x in (v or [])})
                            for k, v in perms.items() if v}}

def grouped(policies):
    out = {}
    for p in policies:
        out.setdefault((p["objectId"], p["applicationId"]), []).append(json.dumps(p, sort_keys=True))
    return {k: sorted(v) for k, v in out.items()}

def guid(role_id):
    return str(role_id or "").rstrip("/").rsplit("/", 1)[-1].lower()

def missing(spec, assignments, roles):
    """Planned assignments not in the listing: (roleName, principalId) pairs."""
    have_ids = {str(a.get("id") or "").lower() for a in assignments}
    have = {(str(a.get("principalId") or "").lower(), guid(a.get("roleDefinitionId")),
             str(a.get("scope") or "").lower().rstrip("/")) for a in assignments}
    out = []
    for c in spec["create"]:
        role = roles.get(c["roleName"], c["roleGuid"]) if c["custom"] else c["roleGuid"]
        if (c["principalId"].lower(), str(role).lower(), c["scope"].lower().rstrip("/")) not in have:
            out.append((c["roleName"], c["principalId"]))
    for k in spec["keep"]:
        if k["assignmentId"].lower() not in have_ids:
            out.append((k["roleName"], k["principalId"]))
    return out

BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A)) | {0x061C, 0x200E, 0x200F, 0x2028, 0x2029}

def clean(text):
    """Text safe for a terminal: C0, DEL, C1 and bidi controls as visible escapes (quoting.terminal's rule)."""
    out = []
    for ch in str(text):
        n = ord(ch)
        if n < 0x20 or 0x7F <= n <= 0x9F:
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch, f"\\x{n:02x}"))
        elif n in BIDI:
            out.append(f"\\u{n:04x}")
        else:
            out.append(ch)
    return "".join(out)

def main(cmd, args):
    if cmd == "log":                      # LOG VAULT_ID STEP RESULT DETAIL
        append(args[0], {"vaultId": args[1], "step": args[2], "result": args[3], "detail": args[4], "at": now()})
    elif cmd == "state":                  # LOG VAULT_ID -> new | flipped | finished AT | rolled-back AT
        state, at = "new", ""
        for item in lines(args[0]):
            if str(item.get("vaultId", "")).lower() != args[1].lower():
                continue
            step, result = item.get("step"), item.get("result")
            if step == "flip" and result == "ok":
                state, at = "flipped", item.get("at", "")
            elif step == "verify" and result == "ok":
                state, at = "finished", item.get("at", "")
            elif step == "rollback" and result == "ok":
                state, at = "rolled-back", item.get("at", "")
        print(f"{state}\t{at}".rstrip("\t"))
    elif cmd == "settle-left":            # LOG VAULT_ID WAIT -> seconds left of WAIT after the last assign ok
        last = None
        for item in lines(args[0]):
            if (str(item.get("vaultId", "")).lower() == args[1].lower()
                    and (item.get("step"), item.get("result")) == ("assign", "ok")):
                try:
                    last = datetime.datetime.strptime(str(item.get("at")), "%Y-%m-%dT%H:%M:%SZ").replace(
                        tzinfo=datetime.timezone.utc).timestamp()
                except ValueError:
                    continue
        wait = int(args[2])
        elapsed = datetime.datetime.now(datetime.timezone.utc).timestamp() - (last + 1) if last is not None else 0
        print(0 if last is None or wait <= 0 else max(0, int(wait - max(0, elapsed) + 0.999)))
    elif cmd == "role-guid":              # LISTING -> the GUID of the first role definition listed
        listing = load(args[0], [])
        listing = listing if isinstance(listing, list) else [listing]
        print(guid(listing[0].get("name")) if listing and isinstance(listing[0], dict) else "")
    elif cmd == "remember-role":          # ROLES_FILE NAME GUID
        roles = load(args[0], {}) or {}
        roles[args[1]] = args[2]
        with open(args[0], "w", encoding="utf-8") as handle:
            json.dump(roles, handle)
    elif cmd == "visible":                # SPEC ASSIGNMENTS ROLES -> exit 1 and the missing ones
        spec = json.loads(args[0])
        gone = missing({"create": spec["create"], "keep": []}, load(args[1], []) or [], load(args[2], {}) or {})
        for role, principal in gone:
            print(f"{role} for {principal}")
        return 1 if gone else 0
    elif cmd == "preflight":              # SPEC VAULT ASSIGNMENTS ROLES -> drift lines, exit 1 on drift
        spec = json.loads(args[0])
        vault = load(args[1], {}) or {}
        props = vault.get("properties") or {}
        drift = []
        if props.get("enableRbacAuthorization") is True:
            # Already Azure RBAC: an earlier run's flip took effect but its log line was never written (or
            # someone flipped it). The policies no longer matter; the planned assignments must be there.
            gone = missing(spec, load(args[2], []) or [], load(args[3], {}) or {})
            for role, principal in gone:
                print(f"enableRbacAuthorization is already true and a planned role assignment is missing: "
                      f"{role} for {principal}")
            return 1 if gone else 3
        planned = grouped(spec["policies"])
        live = grouped([policy(p) for p in props.get("accessPolicies") or []])
        for key in sorted(set(planned) | set(live)):
            was, now_ = planned.get(key, []), live.get(key, [])
            if was == now_:
                continue
            if len(now_) > len(was):
                drift.append(f"new access policy entry for {key[0]}")
            elif len(now_) < len(was) and not set(now_) - set(was):
                drift.append(f"access policy entry for {key[0]} removed")
            else:
                drift.append(f"access policy entry for {key[0]} changed")
        for role, principal in missing(spec, load(args[2], []) or [], load(args[3], {}) or {}):
            drift.append(f"planned role assignment missing: {role} for {principal}")
        for line in drift:
            print(line)
        return 1 if drift else 0
    elif cmd == "say":                    # TEXT -> the text with control characters shown as escapes
        print(clean(args[0]))
    elif cmd == "result":                 # RESULTS STATUS NAME WHY
        append(args[0], {"status": args[1], "vault": args[2], "why": args[3]})
    elif cmd == "summary":                # RESULTS -> the summary, exit 1 when a vault failed
        results = lines(args[0])
        for status, title in (("flipped", "flipped and verified"), ("skipped", "skipped"), ("failed", "failed")):
            group = [r for r in results if r.get("status") == status]
            print(f"{title}: {len(group)}")
            for r in group:
                print(f"  - {clean(r.get('vault'))}: {clean(r.get('why'))}")
        return 1 if any(r.get("status") == "failed" for r in results) else 0
    return 0

sys.exit(main(sys.argv[1], sys.argv[2:]))
'''

BASH_HELPERS = r'''
PLAN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_FILE="${KV_AUDIT_MIGRATE_LOG:-$PLAN_DIR/kv-audit-migrate.log}"   # JSON Lines, read on re-run to resume
VISIBILITY_TIMEOUT="${KV_AUDIT_VISIBILITY_TIMEOUT:-600}"   # seconds to wait until new assignments are listed
PROPAGATION_WAIT="${KV_AUDIT_PROPAGATION_WAIT:-600}"       # seconds after the last logged assign ok before the flip
POLL_SECONDS="${KV_AUDIT_POLL_SECONDS:-10}"
ARM="${KV_AUDIT_ARM_ENDPOINT:-https://management.azure.com}"   # Azure Resource Manager (another cloud: its endpoint)
ARM="${ARM%/}"
VAULT_API=@VAULT_API@
AZ_TRIES="${KV_AUDIT_AZ_TRIES:-4}"                          # tries of an az call that failed transiently
RETRY_SECONDS="${KV_AUDIT_RETRY_SECONDS:-15}"
TRANSIENT='InternalServerError|ServiceUnavailable|GatewayTimeout|BadGateway|TooManyRequests|RetryableError|(^|[^0-9])(429|500|502|503|504)([^0-9]|$)|timed out|Connection reset'
ACCEPT_LATENT=no

say() { py say "$*" >&2; }   # no control character, escape sequence or bidi override reaches the terminal
py() { python3 -c "$KV_PY" "$@"; }
record() { py log "$LOG_FILE" "$V_ID" "$@"; }             # STEP RESULT DETAIL
result() { py result "$RESULTS" "$1" "$V_NAME" "$2"; }    # STATUS WHY
fail() {                                                  # STEP RESULT DETAIL: this vault stops here
  record "$1" "$2" "$3"
  result failed "$1 $2: $3"
  say "  $V_NAME: $1 $2: $3"
  return 1
}
skip() { result skipped "$1"; say "  $V_NAME: skipped: $1"; return 0; }

# az_call OUT ARGS...: az ARGS with stdout in OUT; transient errors (5xx, 429, timeouts) are retried.
# On failure AZ_ERROR holds az's first ERROR line.
az_call() {
  local out="$1" n=1 err
  shift
  err="$WORK/az.err"
  while :; do
    if az "$@" >"$out" 2>"$err"; then
      return 0
    fi
    AZ_ERROR="$(grep -m1 'ERROR' "$err" || head -n1 "$err")"
    AZ_ERROR="${AZ_ERROR:-az exited non-zero}"
    if [ "$n" -ge "$AZ_TRIES" ] || ! grep -Eq "$TRANSIENT" "$err"; then
      return 1
    fi
    say "  $V_NAME: transient error (try $n of $AZ_TRIES), retrying: $AZ_ERROR"
    n=$((n + 1))
    sleep "$RETRY_SECONDS"
  done
}

list_assignments() {   # OUT: every assignment at the vault or above
  az_call "$1" role assignment list --scope="$V_ID" --subscription="$V_SUB" --include-inherited \
    --fill-principal-name=false --fill-role-definition-name=false --output=json
}

unit_begin() {         # per-vault scratch folder and the vault's state in the resume log
  WORK="$(mktemp -d)" || { say "  $V_NAME: cannot create a scratch folder"; return 1; }
  trap 'rm -rf "$WORK"' EXIT
  printf '{}' >"$WORK/roles.json"
  V_STATE=new V_AT= V_ALREADY_RBAC=no
  IFS=$'\t' read -r V_STATE V_AT < <(py state "$LOG_FILE" "$V_ID")
}

wanted() {             # the vault is selected on the command line (or nothing was selected)
  local s
  [ "${#SELECTED[@]}" -eq 0 ] && return 0
  for s in "${SELECTED[@]}"; do
    if [ "$s" = "$V_NAME" ] || [ "${s,,}" = "${V_ID,,}" ]; then return 0; fi
  done
  return 1
}

# ensure_custom_role NAME FILE SCOPE: print the role's GUID, creating the role if it is not there yet
ensure_custom_role() {
  local name="$1" file="$2" scope="$3" id waited=0
  az_call "$WORK/roles" role definition list --custom-role-only=true --name="$name" --scope="$scope" --output=json \
    || { fail assign failed "custom role $name: $AZ_ERROR"; return 1; }
  id="$(py role-guid "$WORK/roles")"
  if [ -z "$id" ]; then
    az_call "$WORK/role" role definition create --role-definition "@$PLAN_DIR/$file" --output=json \
      || { fail assign failed "custom role $name not created: $AZ_ERROR"; return 1; }
    record assign ok "custom role created: $name"
    while :; do
      az_call "$WORK/roles" role definition list --custom-role-only=true --name="$name" --scope="$scope" --output=json \
        || { fail assign failed "custom role $name: $AZ_ERROR"; return 1; }
      id="$(py role-guid "$WORK/roles")"
      [ -n "$id" ] && break
      [ "$waited" -ge "$VISIBILITY_TIMEOUT" ] && { fail visible failed "custom role $name not visible after ${waited}s"; return 1; }
      sleep "$POLL_SECONDS"
      waited=$((waited + POLL_SECONDS))
    done
  fi
  py remember-role "$WORK/roles.json" "$name" "$id"
  printf '%s\n' "$id"
}

# assign_role OBJECT_ID PRINCIPAL_TYPE ROLE_NAME ROLE_GUID [CUSTOM_FILE CUSTOM_SCOPE]: a built-in role by its
# GUID, or a custom role by name (created from CUSTOM_FILE when missing: the CLI picks its GUID)
assign_role() {
  local oid="$1" kind="$2" label="$3" role="$4"
  if [ -n "${5:-}" ]; then
    role="$(ensure_custom_role "$label" "$5" "$6")" || return 1
  fi
  local args=(role assignment create --assignee-object-id="$oid" --role="$role" --scope="$V_ID" --subscription="$V_SUB" --output=none)
  [ -n "$kind" ] && args+=(--assignee-principal-type="$kind")
  if az_call "$WORK/out" "${args[@]}"; then
    record assign ok "$label for $oid"
  elif printf '%s' "$AZ_ERROR" | grep -q 'RoleAssignmentExists'; then
    record assign skipped "$label for $oid: already assigned"   # not a change: the settle is not restarted
  else
    fail assign failed "$label for $oid: $AZ_ERROR"
  fi
}

await_visible() {      # bounded wait until every new assignment is listed, then the propagation delay
  local waited=0 gone left
  while :; do
    list_assignments "$WORK/assignments" || { fail visible failed "cannot list role assignments: $AZ_ERROR"; return 1; }
    gone="$(py visible "$V_SPEC" "$WORK/assignments" "$WORK/roles.json")" && break
    if [ "$waited" -ge "$VISIBILITY_TIMEOUT" ]; then
      fail visible failed "not listed after ${waited}s: ${gone//$'\n'/; }"
      return 1
    fi
    sleep "$POLL_SECONDS"
    waited=$((waited + POLL_SECONDS))
  done
  record visible ok "every planned assignment is listed"
  # PROPAGATION_WAIT after the vault's last logged assign ok, this run's or an interrupted earlier run's
  left="$(py settle-left "$LOG_FILE" "$V_ID" "$PROPAGATION_WAIT")" || left="$PROPAGATION_WAIT"
  if [ "$left" -gt 0 ]; then
    say "  $V_NAME: waiting ${left}s for the new role assignments to take effect"
    sleep "$left"
  fi
}

preflight() {          # live vault and assignments against the plan; any drift stops this vault
  local drift
  az_call "$WORK/vault" keyvault show --name="$V_NAME" --resource-group="$V_RG" --subscription="$V_SUB" --output=json \
    || { fail preflight failed "cannot read the vault: $AZ_ERROR"; return 1; }
  list_assignments "$WORK/assignments" || { fail preflight failed "cannot list role assignments: $AZ_ERROR"; return 1; }
  local rc=0
  drift="$(py preflight "$V_SPEC" "$WORK/vault" "$WORK/assignments" "$WORK/roles.json")" || rc=$?
  if [ "$rc" -eq 3 ]; then    # already Azure RBAC with every planned assignment listed: verify it
    V_ALREADY_RBAC=yes
    record preflight ok "already Azure RBAC (an earlier flip took effect) and every planned assignment is listed"
    return 0
  elif [ "$rc" -ne 0 ]; then
    fail preflight drift "${drift//$'\n'/; }"
    return 1
  fi
  record preflight ok "access policies and role assignments as planned"
}

# flip: a PATCH of enableRbacAuthorization alone. Not `az keyvault update`, which reads the whole vault and
# PUTs it back: an access policy added between its read and its write would be lost.
flip() {
  if [ "$V_ALREADY_RBAC" = yes ]; then
    record flip ok "enableRbacAuthorization was already true (an earlier run's flip took effect)"
    return 0
  fi
  az_call "$WORK/out" rest --method=patch --url="${ARM}${V_ID}?api-version=$VAULT_API" \
    --body='{"properties":{"enableRbacAuthorization":true}}' --output=none || { fail flip failed "$AZ_ERROR"; return 1; }
  record flip ok "enableRbacAuthorization set to true"
}

write_rollback() {     # TEXT: the vault's rollback script, written before the model is verified
  mkdir -p "$PLAN_DIR/rollback" && printf '%s' "$1" >"$PLAN_DIR/rollback/$V_FILE.sh" && chmod 755 "$PLAN_DIR/rollback/$V_FILE.sh" \
    || { fail flip failed "rollback file not written: $PLAN_DIR/rollback/$V_FILE.sh"; return 1; }
  say "  $V_NAME: rollback: bash rollback/$V_FILE.sh"
}

verify_flip() {        # the model in force is Azure RBAC
  local actual
  az_call "$WORK/model" keyvault show --name="$V_NAME" --resource-group="$V_RG" --subscription="$V_SUB" \
    --query=properties.enableRbacAuthorization --output=tsv || { fail verify failed "cannot read the vault: $AZ_ERROR"; return 1; }
  actual="$(tr -d '[:space:]' <"$WORK/model")"
  [ "$actual" = true ] || { fail verify failed "enableRbacAuthorization is '$actual' after the flip"; return 1; }
  record verify ok "the vault uses Azure RBAC"
  result flipped "flipped and verified; rollback: bash rollback/$V_FILE.sh"
  say "  $V_NAME: flipped to Azure RBAC and verified"
}
'''

BASH_HELPERS = BASH_HELPERS.replace("@VAULT_API@", VAULT_API)   # one API version for every flip
