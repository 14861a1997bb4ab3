"""Shared builders for migration tests: factory rows -> load_estate -> AccessIndex -> plan_vault."""

from __future__ import annotations

import json
from pathlib import Path

from audit_function import permissions as perms
from audit_function.access.engine import AccessIndex
from audit_function.migration import plan_vault
from audit_function.snapshot.load import RawSnapshot, load_estate
from rules.base import RuleContext
from tests.factories import AS_OF, SUB, SUB2, subscription_row

# object ids are GUIDs, as in Azure (the planner refuses to build commands for anything else)
ALICE = "a11ce000-0000-4000-8000-000000000001"
BOB = "b0b00000-0000-4000-8000-000000000002"
CAROL = "ca401000-0000-4000-8000-000000000003"
APP = "a9900000-0000-4000-8000-000000000004"
GROUP = "96000000-0000-4000-8000-000000000005"


def mask(**categories) -> int:
    """Data actions of access-policy permissions: ``mask(keys=["get"], secrets=["all"])``."""
    out = 0
    for category, names in categories.items():
        for name in names:
            got = perms.permission_mask(category, name)
            assert got is not None, (category, name)
            out |= got
    return out


def tables(vaults=(), assignments=(), definitions=(), principals=None, subscriptions=None) -> dict:
    out = {
        "subscriptions": list(subscriptions if subscriptions is not None else [subscription_row(), subscription_row(SUB2)]),
        "role_definitions": list(definitions),
        "vaults": list(vaults),
        "role_assignments": list(assignments),
    }
    if principals is not None:
        out["principals"] = list(principals)
    return out


def estate_of(**kw):
    return load_estate(RawSnapshot(tables=tables(**kw)))


def plans_of(**kw) -> dict[str, dict]:
    """Plan every access-policy vault; result keyed by vault name."""
    estate = estate_of(**kw)
    index = AccessIndex(estate)
    ctx = RuleContext(as_of=AS_OF, groups_expanded=estate.directory_data)
    return {v.name: plan_vault(v, index.vault_access(v), estate.role_definitions, ctx, principals=estate.principals)
            for v in estate.vaults if not v.is_rbac}


def plan_of(**kw) -> dict:
    (plan,) = plans_of(**kw).values()
    return plan


def write_snapshot(directory: Path, **kw) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for table, rows in tables(**kw).items():
        (directory / f"{table}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return directory


__all__ = ["ALICE", "BOB", "CAROL", "APP", "GROUP", "SUB", "SUB2", "mask", "tables", "estate_of", "plans_of",
           "plan_of", "write_snapshot"]
