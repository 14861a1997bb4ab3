"""The migration plan of one vault as the report's ``migration`` section holds it: compact.

:func:`~audit_function.migration.readiness.plan_vault` makes the full plan (every command, the
custom role definitions, what each entry grants in words); ``kv-audit plan`` writes it as files.
The report keeps per vault what a reviewer triages on: the verdict, its reasons, counts, each
entry's coverage and proposed roles *by id* (names and action lists in the report's ``roles``),
who would lose and who would gain access and through which grants, and (the report contract
requires them) each entry's assignment commands. What each principal can do at the vault is in the
access export (``--format access``); the flip, verify and rollback commands, custom role files and
scripts are in the plan files.
"""

from __future__ import annotations

from audit_function.estate.scopes import trailing_guid

#: the plan files, named in every compact plan's reasons when there is something to run
PLAN_HINT = "kv-audit plan writes the migration script and files (assignments, custom roles, flip, verify, rollback)"


def _entry(entry: dict) -> dict:
    custom = entry.get("customRole")
    return {
        "index": entry["index"],
        "principalId": entry["principalId"],
        "principalName": entry.get("principalName"),
        "principalType": entry["principalType"],
        "coveredByExistingRbac": entry["coveredByExistingRbac"],
        "missingInWords": entry["missingInWords"],
        "missingCount": entry["missingCount"],
        "blockedBy": entry["blockedBy"],
        # built-in roles by GUID (report ``roles``); a proposed custom role by its deterministic GUID
        "proposedRoles": [r["id"] if r.get("custom") else trailing_guid(r["id"]) for r in entry["proposedRoles"]],
        "customRole": {"id": custom["id"], "name": custom["name"]} if custom else None,
        "excess": entry["excess"],
        "commands": entry["commands"],   # contract (report.md): the assignments to create, as in the plan files
    }


def _gainer(gainer: dict) -> dict:
    grants = gainer["assignments"]
    return {
        "principalId": gainer["principalId"],
        "principalName": gainer.get("principalName"),
        "principalType": gainer["principalType"],
        "widenedCount": gainer["widenedCount"],
        "roleIds": sorted({trailing_guid(g["roleDefinitionId"]) for g in grants if g.get("roleDefinitionId")}),
        "assignmentIds": [g["assignmentId"] for g in grants],
    }


def _reasons(plan: dict) -> list[str]:
    """Blocking reasons in full (a person decides each); the per-principal gains and the uncovered
    entries, which ``gainers`` and ``entries`` list, counted once each."""
    entries, gainers = plan["entries"], plan["gainers"]
    needs = [e for e in entries if not e["coveredByExistingRbac"] and not e["blockedBy"]]
    listed = tuple(f"{g['principalId']} would gain " for g in gainers) + tuple(
        f"entry {e['index']} ({e['principalId']}) is not covered by role assignments" for e in needs)
    out = [r for r in plan["reasons"] if not r.startswith(listed)] if listed else list(plan["reasons"])
    if gainers:
        n = len(gainers)
        out.append(f"{n} principal{'' if n == 1 else 's'} would gain data access through role assignments that "
                   "are inert today (see gainers)")
    if needs:
        n = len(needs)
        out.append(f"{n} entr{'y is' if n == 1 else 'ies are'} not covered by role assignments at the vault "
                   "or above: assign the proposed roles first (see entries)")
    if any(e["proposedRoles"] for e in entries) or plan["flip"]["allowed"]:
        out.append(PLAN_HINT)
    return out


def report_entry(plan: dict) -> dict:
    """The report's element for one full plan (same verdict, compact parts)."""
    entries = plan["entries"]
    return {
        "vaultId": plan["vaultId"],
        "vaultName": plan["vaultName"],
        "subscriptionId": plan["subscriptionId"],
        "resourceGroup": plan["resourceGroup"],
        "tenantId": plan["tenantId"],
        "readiness": plan["readiness"],
        "reasons": _reasons(plan),
        "counts": {
            "entries": len(entries),
            "covered": sum(1 for e in entries if e["coveredByExistingRbac"]),
            "toAssign": sum(1 for e in entries if e["proposedRoles"]),
            "customRoles": sum(1 for e in entries if e["customRole"]),
            "blocked": sum(1 for e in entries if e["blockedBy"]),
            "losers": len(plan["losers"]),
            "gainers": len(plan["gainers"]),
        },
        "flipAllowed": plan["flip"]["allowed"],
        "entries": [_entry(e) for e in entries],
        "gainers": [_gainer(g) for g in plan["gainers"]],
        "losers": [{k: v for k, v in loser.items() if k != "lostInWords"} for loser in plan["losers"]],
        "notes": plan["notes"],
    }
