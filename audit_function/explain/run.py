"""``explain``: one request, one answer. Source -> estate -> the caller's grants -> decision -> fix.

Sources are resolved as ``run_audit`` resolves them (:func:`audit_function.pipeline.source.open_source`) for
``--demo`` and ``--snapshot``; ``--live`` reads only what one answer needs
(:mod:`audit_function.explain.live`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from audit_function.access.engine import AccessIndex
from audit_function.pipeline.source import open_source
from audit_function.estate.grant_rows import assignment_from_row, eligibility_from_row
from audit_function.estate.rows import RowError, get_ci
from audit_function.explain.fix import build_fix
from audit_function.explain.network import network_verdict
from audit_function.explain.parse import Request
from audit_function.explain.verdict import PROPAGATION, PROPAGATION_SOURCE, judge
from audit_function.explain.who import find_vault, resolve_caller
from audit_function.snapshot.load import RawSnapshot, iter_rows, load_estate, table_path

EXIT = {"allowed": 0, "denied": 1, "unknown": 3}


def _rows(source, table: str):
    if isinstance(source, RawSnapshot):
        yield from source.tables.get(table) or ()
        return
    path = table_path(Path(source), table)
    if path is not None:
        for _, row in iter_rows(path):
            yield row


def caller_grants(source, ids: set[str]):
    """The role assignments and eligible assignments naming one of ``ids``, with ``createdOn``, read
    from the raw rows: the estate keeps only roles that can matter to a rule, and explain must also
    show a Reader or Contributor that grants no data action."""
    out = []
    for table, convert in (("role_assignments", assignment_from_row), ("role_eligibilities", eligibility_from_row)):
        for row in _rows(source, table):
            props = row.get("properties") if isinstance(row, dict) else None
            principal = get_ci(props, "principalId") if isinstance(props, dict) else None
            if not isinstance(principal, str) or principal.lower() not in ids:
                continue
            try:
                grant = convert(row)
            except RowError:
                continue
            created = get_ci(props, "createdOn") or get_ci(props, "startDateTime")
            out.append((grant, created if isinstance(created, str) else None))
    return out


def _as_of(estate, clock) -> datetime:
    collected = (estate.manifest or {}).get("collectedAt")
    if isinstance(collected, str):
        try:
            return datetime.fromisoformat(collected.replace("Z", "+00:00"))
        except ValueError:
            pass
    return clock()


def explain(request: Request, source_kind: str, snapshot=None, *, live: dict | None = None,
            clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> dict:
    """The answer document (see :mod:`audit_function.explain.render`); ``exitCode`` inside."""
    if source_kind == "live":
        from audit_function.explain.live import collect_for

        source = collect_for(request, **(live or {}))
    else:
        source, _ = open_source(source_kind, snapshot)
    estate = load_estate(source)
    vault, object_key = find_vault(estate, request.vault)
    caller = resolve_caller(estate, request)
    index = AccessIndex(estate)
    as_of = _as_of(estate, clock)
    network = network_verdict(vault, request.client_ip, request.form)
    warnings = list(caller.notes)
    decision = None
    if request.action is not None:
        ids = set(index.vault_access(vault).ids(caller.object_id))
        if caller.principal is not None:
            ids |= set(caller.principal.member_of)
        decision = judge(estate, index, vault, caller, request.action, object_key, caller_grants(source, ids), as_of)
        warnings += _identity_warnings(estate, index, vault, caller, decision)
    if request.token_tenant and vault.tenant_id and request.token_tenant.lower() != vault.tenant_id.lower():
        warnings.append(f"the token was issued by tenant {request.token_tenant}, the vault accepts tokens of tenant "
                        f"{vault.tenant_id} only: sign in to the vault's tenant (az login --tenant ...) or use an "
                        "identity homed there")
    if request.inner_code == "ForbiddenByPolicy" and vault.is_rbac:
        warnings.append("the error is an access-policy answer (ForbiddenByPolicy) but the data says the vault uses "
                        "Azure RBAC: the model changed after the error, or the data is older than it")
    if request.inner_code == "ForbiddenByRbac" and not vault.is_rbac:
        warnings.append("the error is an RBAC answer (ForbiddenByRbac) but the data says the vault uses access "
                        "policies: the model changed after the error, or the data is older than it")
    for table, words in (("deny_assignments", "a deny assignment could deny this action"),
                         ("role_eligibilities", "a PIM-eligible role is not shown")):
        if estate.collected.get(table) is False:
            warnings.append(f"{table} were not collected: {words}")
    if estate.gaps:
        warnings.append(f"the data has {len(estate.gaps)} gap(s) (first: {estate.gaps[0].scope}: "
                        f"{estate.gaps[0].reason}): grants there are not seen")
    verdict, reason = _overall(decision, network)
    fix = build_fix(decision, network, estate) if decision is not None else _network_fix(vault, network, estate)
    if verdict == "allowed" and request.form != "arguments" and reason != "propagation":
        groups = [j for j in decision.grants if j.authorizes and j.via_group] if decision else []
        fix["notes"].append(
            "the data says this request is allowed: if the 403 is current, the token predates the grant"
            + (" or the caller's membership in the group that holds it" if groups else "")
            + " (get a fresh token: sign in again or restart the app), or the data is older than the change "
            f"(as of {as_of.isoformat()})")
    from audit_function.explain.render import document

    return document(request, vault, caller, decision, network, fix, warnings, verdict, reason, as_of,
                    {"minutes": int(PROPAGATION.total_seconds() // 60), "source": PROPAGATION_SOURCE},
                    EXIT[verdict], source_kind, estate)


def _network_fix(vault, network, estate) -> dict:
    from audit_function.explain.fix import _vault_args, opt

    commands, notes = [], []
    if network.get("verdict") == "denied":
        if network["reason"] == "firewall":
            commands.append(" ".join(["az keyvault network-rule add", *_vault_args(vault),
                                      opt("--ip-address", network["fromIp"])]))
            notes.append(f"allow {network['fromIp']} through the vault firewall (or call from an allowed network)")
        else:
            notes.append("call from a network connected to an approved private endpoint of the vault")
    return {"model": vault.model, "commands": commands, "notes": notes, "alternative": None}


def _overall(decision, network: dict) -> tuple[str, str]:
    net = network["verdict"]
    if decision is not None and decision.identity == "denied":
        return "denied", decision.reason
    if net == "denied":
        return "denied", network["reason"]
    if decision is not None and decision.identity == "unknown":
        return "unknown", decision.reason
    if net == "unknown":
        return "unknown", network["reason"]
    if decision is None:
        return ("allowed", network["reason"]) if net == "allowed" else ("unknown", network["reason"])
    return "allowed", decision.reason


def _identity_warnings(estate, index, vault, caller, decision) -> list[str]:
    """Grants on this vault made for someone else who looks like the caller, or for deleted identities."""
    out = []
    if estate.directory_data and caller.principal is None:
        out.append(f"{caller.object_id} is not in the directory data: a deleted identity, one from another "
                   "tenant, or one created after the data was collected")
    access = index.vault_access(vault)
    mine = set(decision.ids)
    others = set(access.data_principals()) | {e.object_key for e in vault.access_policies}
    principals = estate.principals or {}
    name = (caller.name or "").lower()
    need = decision.action.need
    for key in sorted(others - mine):
        row = principals.get(key)
        if row is None:
            if estate.directory_data:
                out.append(f"this vault grants data access to {key}, which the directory does not know (deleted?): "
                           "if the app's identity was re-created, the grants still name the old one")
            continue
        other = (row.display_name or "").lower()
        held = access.rbac_data(key) if vault.is_rbac else access.policy_data(key)
        if name and other and (other in name or name in other) and other != name:
            out.append(f"grants on this vault name {row.display_name!r} ({row.id}, {row.type}), not the caller "
                       f"{caller.name!r}: is the app running as another identity?")
        elif held & need == need and caller.type and row.type and row.type != caller.type and row.type != "group":
            out.append(f"{row.type} {row.display_name!r} ({row.id}) is allowed this action here, the caller is a "
                       f"{caller.type}: a grant made to one does not apply when the request runs as the other")
    return out[:10]
