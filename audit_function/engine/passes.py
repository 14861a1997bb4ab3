"""Per-vault passes: the work beside the rules that the engine runs for every vault.

The engine hands each pass the vault and its access (computed once per vault) and knows nothing
of what the pass produces: every pass owns a results object that it fills, and that results
object says how it travels from a forked worker to the parent (``export`` in the worker, a
picklable payload; ``absorb`` in the parent, in vault order). A new per-vault output is a new
pass here, not a new field in the engine, the worker protocol and the report builder.

- :class:`InventoryPass` (``inventory``): per-vault figures for the report's ``vaults`` rows;
- :class:`AccessRowsPass` (``access``): the access export and Access sheet rows;
- :class:`MigrationPass` (``migration``): one migration plan per access-policy vault and the
  readiness counts.

A pass that raises for a vault does not stop the audit: like a rule, its error becomes a gap
naming the pass and the vault (``failed``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from audit_function.access.rows import access_rows
from audit_function.engine.findings import Spool


class MergedDict(dict):
    """A results dict (key -> value) that workers export whole and the parent merges."""

    def export(self, folder: str, tag: str) -> dict:
        return dict(self)

    def absorb(self, part: dict) -> None:
        self.update(part)


class Plans:
    """Migration plans (spooled, in vault order) and the count of vaults per readiness verdict."""

    def __init__(self, path: str | None = None) -> None:
        self.spool = Spool(path)
        self.readiness: Counter = Counter()

    def add(self, plan: dict) -> None:
        self.spool.append(plan)
        self.readiness[plan["readiness"]] += 1

    def export(self, folder: str, tag: str) -> dict:
        return {"spool": self.spool.export(folder, tag), "readiness": self.readiness}

    def absorb(self, part: dict) -> None:
        self.spool.absorb(part["spool"])
        self.readiness.update(part["readiness"])


class InventoryPass:
    """Figures for the inventory row of every vault: principals with RBAC data access, and its owner."""

    name = "inventory"
    access_policy_vaults_only = False

    def results(self, folder: str | None = None, tag: str = "") -> MergedDict:
        return MergedDict()

    def run(self, vault, access, ctx, results: MergedDict) -> None:
        results[vault.key] = {"rbacDataPrincipalCount": sum(
            1 for p in access.data_principals() if access.rbac_data(p, objects=True)),
            "owner": ctx.owner(vault)}   # inventory owner: the tag chain its findings use


class AccessRowsPass:
    """One row per vault x principal x source with data access (``access_rows.access_rows``)."""

    name = "access"
    access_policy_vaults_only = False

    def __init__(self, index) -> None:
        self.index = index

    def results(self, folder: str | None = None, tag: str = "") -> Spool:
        return Spool(f"{folder}/{tag}.jsonl" if folder else None)

    def run(self, vault, access, ctx, results: Spool) -> None:
        for row in access_rows(self.index, access):
            results.append(row)


class MigrationPass:
    """``planner(vault, access, ctx)`` for every access-policy vault: its report ``migration`` element."""

    name = "migration"
    access_policy_vaults_only = True

    def __init__(self, planner: Callable) -> None:
        self.planner = planner

    def results(self, folder: str | None = None, tag: str = "") -> Plans:
        return Plans(f"{folder}/{tag}.jsonl" if folder else None)

    def run(self, vault, access, ctx, results: Plans) -> None:
        results.add(self.planner(vault, access, ctx))


#: what a failing pass is called in its gap (the migration planner keeps its historical name)
GAP_NAMES = {"migration": "migration-plan"}
