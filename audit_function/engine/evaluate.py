"""Runs the rules over the estate: one pass over the vaults, then the estate-level rules.

A rule that raises does not stop the audit: its error becomes a gap naming the rule and the
vault, and the rule is listed as not evaluated there, so the report says it is incomplete.
"""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from audit_function.access.engine import AccessIndex
from audit_function.estate.model import Estate
from audit_function.estate.scopes import MG_PREFIX, scope_key
from audit_function.engine.findings import FindingStore, Spool
from audit_function.engine.passes import GAP_NAMES, AccessRowsPass, InventoryPass, MigrationPass
from audit_function.vocabulary import Finding, Gap, NotEvaluated, RuleContext


@dataclass
class Evaluation:
    """What the vault pass and the estate rules produced. ``results``: each per-vault pass's own
    results by pass name (see passes.py); the properties below name the ones the report reads."""

    findings: FindingStore = field(default_factory=FindingStore)
    not_evaluated: list[NotEvaluated] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    unknown_ancestry: int = 0                                       # vaults whose management groups are unknown
    results: dict = field(default_factory=dict)                     # pass name -> its results object

    @property
    def vault_stats(self) -> dict[str, dict]:
        """Vault key -> inventory extras (``inventory`` pass)."""
        return self.results.get("inventory") or {}

    @property
    def access(self) -> Spool:
        """Access rows (access export, spreadsheet), in vault order (``access`` pass)."""
        return self.results["access"] if "access" in self.results else Spool()

    @property
    def migration(self) -> Spool:
        """One plan per access-policy vault, in vault order (``migration`` pass)."""
        return self.results["migration"].spool if "migration" in self.results else Spool()

    @property
    def readiness(self) -> Counter:
        """Migration verdict -> vaults."""
        return self.results["migration"].readiness if "migration" in self.results else Counter()


def _collect(results, rule_id: str, out: Evaluation, where: str | None) -> list[Finding]:
    found: list[Finding] = []
    for item in results:
        if isinstance(item, Finding):
            found.append(item)
        elif isinstance(item, NotEvaluated):
            out.not_evaluated.append(item)
            if item.gap:
                out.gaps.append(Gap(item.scope or item.vault_id or where or "/", "vaults", f"{rule_id}: {item.reason}"))
        else:
            raise TypeError(f"rule {rule_id} yielded {type(item).__name__}, not Finding or NotEvaluated")
    return found


def _rule_failed(rule_id: str, where: str | None, exc: BaseException, out: Evaluation) -> None:
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    reason = f"rule raised {type(exc).__name__}: {exc} ({frame.filename.rsplit('/', 1)[-1]}:{frame.lineno})"
    out.gaps.append(Gap(where or "/", None, f"{rule_id}: {reason}"))
    out.not_evaluated.append(NotEvaluated(rule_id, where, reason, gap=True))


def evaluate(estate: Estate, rules, ctx: RuleContext, *, index: AccessIndex | None = None,
             with_access: bool = False, planner: Callable | None = None, store: FindingStore | None = None,
             workers: int = 1, progress: Callable[..., None] | None = None, passes: tuple = ()) -> Evaluation:
    """Run ``rules`` over ``estate``, and the per-vault passes beside them (passes.py).

    The inventory pass always runs; ``with_access`` adds the access rows, ``planner(vault, access,
    ctx)`` the migration plans (one per access-policy vault), ``passes`` any other. Like a rule, a
    pass that raises for a vault becomes a gap. ``workers`` > 1 splits the vaults over that many
    forked processes (see parallel.py).
    """
    index = index or AccessIndex(estate)
    passes = (InventoryPass(),) + ((AccessRowsPass(index),) if with_access else ()) + (
        (MigrationPass(planner),) if planner is not None else ()) + tuple(passes)
    out = Evaluation(findings=store if store is not None else FindingStore(),
                     results={p.name: p.results() for p in passes})
    # key order: findings arrive in report order; Managed HSM pools go through the same pass
    vaults = sorted(estate.vaults + estate.hsms, key=lambda v: v.key)
    unread = [g for g in estate.gaps if g.file is None]  # collection gaps (rows skipped on load name a file)
    _unread_scopes(unread, rules, out)
    rules = _required_tables(estate, _collected_tables(estate, rules, out), out)
    job = VaultJob(index, [r for r in rules if r.META.applies_to == "vault"], ctx, passes,
                   [g for g in unread if g.table in RBAC_TABLES])
    estate_rules = EstateJob(estate, index, [r for r in rules if r.META.applies_to == "estate"], ctx)
    if workers > 1:
        from audit_function.engine.parallel import evaluate_in_workers

        # the parent evaluates the estate-level rules after its own run, while the workers run; their
        # part is absorbed after the vaults', so the findings, gaps and markers keep the one-process order
        evaluate_in_workers(job, vaults, out, workers, progress, also=estate_rules)
    else:
        job.run(vaults, out, progress)
        estate_rules.run(out)
    return out


@dataclass
class EstateJob:
    """The estate-level rules (grant and role-definition findings), run once after the vaults."""

    estate: Estate
    index: AccessIndex
    rules: list
    ctx: RuleContext

    def run(self, out: Evaluation) -> None:
        for rule in self.rules:
            try:
                found = _collect(rule.evaluate(self.estate, self.index, self.ctx), rule.META.id, out, None)
            except Exception as exc:  # noqa: BLE001
                _rule_failed(rule.META.id, None, exc, out)
            else:
                out.findings.add_sorted(found)


def _collected_tables(estate: Estate, rules, out: Evaluation) -> list:
    """The rules whose optional tables were collected; each other rule is listed once as not evaluated."""
    kept = []
    for rule in rules:
        missing = [t for t in rule.META.tables if not estate.collected.get(t)]
        if missing:
            out.not_evaluated.append(NotEvaluated(
                rule.META.id, None, f"not collected: {', '.join(missing)} (collect with --deep); see run.coverage",
                scope="/"))
        else:
            kept.append(rule)
    return kept


def _required_tables(estate: Estate, rules, out: Evaluation) -> list:
    """Whole tables some rules cannot do without. Empty (no subscriptions at all; no role definitions
    while role assignments exist), each is a gap (the run is incomplete, exit 3) and every rule that
    depends on it is listed once as not evaluated instead of judging an estate it cannot see."""
    def no_rows(table: str, kept) -> bool:  # rows in the snapshot; unreadable ones are gaps of their own
        count = estate.counts.get(table)
        return count.get("rows") == 0 if isinstance(count, dict) and "rows" in count else not kept

    empty = []
    if no_rows("subscriptions", estate.subscriptions):  # scope ancestry (inherited grants), per-subscription rules
        empty.append(("subscriptions", "the snapshot has no subscriptions at all",
                      lambda m: m.uses_rbac or m.applies_to == "estate"))
    read = [r for r in estate.role_definitions.values() if not r.builtin_fallback]  # not the tool's built-ins
    if no_rows("role_definitions", read) and estate.assignments:  # grants would reach only the tool's built-ins
        empty.append(("role_definitions", f"the snapshot has no role definitions while {len(estate.assignments)} "
                      "role assignment(s) and eligibilities exist",
                      lambda m: m.uses_rbac or m.subject in ("grant", "roleDefinition")))
    for table, why, _ in empty:
        out.gaps.append(Gap("/", table, f"{why}: the rules that depend on it were not evaluated"))
    kept = []
    for rule in rules:
        missing = [f"required table {table} is empty ({why})" for table, why, needs in empty if needs(rule.META)]
        if missing:
            out.not_evaluated.append(NotEvaluated(rule.META.id, None, "; ".join(missing), scope="/"))
        else:
            kept.append(rule)
    return kept


#: tables whose unread parts leave a vault's RBAC picture incomplete (None: a gap of unknown extent)
RBAC_TABLES = ("role_assignments", "role_definitions", "role_eligibilities", "deny_assignments",
               "lighthouse_delegations", None)


def _covers(gap_scope: str, vault, management_groups) -> bool:
    key = scope_key(gap_scope or "/")
    if key == "/":
        return True
    if key.startswith(MG_PREFIX):
        return key[len(MG_PREFIX):] in management_groups
    return vault.key == key or vault.key.startswith(key + "/")


def _unread_scopes(gaps, rules, out: Evaluation) -> None:
    """What a collection gap leaves unevaluated beyond single vaults: vaults never read, broad assignments."""
    for gap in gaps:
        if gap.table in ("vaults", "subscriptions", None):
            out.not_evaluated.append(NotEvaluated("*", None, f"vaults under this scope could not be read: {gap.reason}",
                                                  scope=gap.scope))
        if gap.table in RBAC_TABLES:
            for rule in rules:
                if rule.META.applies_to == "estate":
                    out.not_evaluated.append(NotEvaluated(
                        rule.META.id, None, f"role assignments under this scope could not be read: {gap.reason}",
                        scope=gap.scope))


@dataclass
class VaultJob:
    """The per-vault part of an evaluation for a run of vaults: the vault rules, then each pass."""

    index: AccessIndex
    rules: list
    ctx: RuleContext
    passes: tuple = ()
    rbac_gaps: list = field(default_factory=list)

    def _incomplete_rbac(self, vault) -> list[str]:
        """Why the vault's RBAC picture may be incomplete (collection gaps, unknown ancestry)."""
        estate = self.index.estate
        reasons = []
        if self.rbac_gaps:
            mgs = estate.management_groups_of(vault)
            reasons.extend(f"role assignments under {g.scope or '/'} could not be read: {g.reason}"
                           for g in self.rbac_gaps if _covers(g.scope, vault, mgs))
        return reasons

    def run(self, vaults, out: Evaluation, progress: Callable[..., None] | None = None) -> None:
        total = len(vaults)
        for n, vault in enumerate(vaults, 1):
            if vault.kind != "vault":
                self._run_other(vault, out)
            else:
                self._run_vault(vault, out)
            if progress and (n % 5000 == 0 or n == total):
                progress("vaults", done=n, total=total)

    def _run_other(self, resource, out: Evaluation) -> None:
        """A Managed HSM pool: the rules that judge its kind; it has no access model (local RBAC is data plane)."""
        out.vault_stats[resource.key] = {"owner": self.ctx.owner(resource)}
        for prop, why in resource.unreadable:
            out.gaps.append(Gap(resource.id, "managed_hsms", f"properties.{prop} could not be read: {why}"))
        for rule in self.rules:
            meta = rule.META
            if resource.kind not in meta.resource_types:
                continue
            unread = [f"properties.{p} could not be read ({why})" for p, why in resource.unreadable if p in meta.reads]
            if unread:
                out.not_evaluated.append(NotEvaluated(meta.id, resource.id, "; ".join(unread)))
                continue
            try:
                found = _collect(rule.evaluate(resource, None, self.ctx), meta.id, out, resource.id)
            except Exception as exc:  # noqa: BLE001
                _rule_failed(meta.id, resource.id, exc, out)
            else:
                if found:
                    out.findings.add_vault(found)

    def _vault_rules(self, model: str) -> list:
        """The rules that judge a vault of permission ``model`` (worked out once per model)."""
        by_model = self.__dict__.setdefault("_by_model", {})
        if model not in by_model:
            by_model[model] = [r for r in self.rules
                               if model in r.META.models and "vault" in r.META.resource_types]
        return by_model[model]

    def _run_vault(self, vault, out: Evaluation) -> None:
        index, ctx = self.index, self.ctx
        estate = index.estate
        access = index.vault_access(vault)
        incomplete = self._incomplete_rbac(vault)
        unknown_ancestry = index.unknown_ancestry(vault) and (
            "the vault's subscription is not in the snapshot" if estate.subscription_of(vault) is None
            else "the vault's subscription has no management-group ancestry") + (
            " while grants exist at management-group scope: grants and denies inherited from its management "
            "groups cannot be matched")
        if unknown_ancestry:
            out.unknown_ancestry += 1
        for prop, why in vault.unreadable:
            out.gaps.append(Gap(vault.id, "vaults", f"properties.{prop} could not be read: {why}"))
        for rule in self._vault_rules(vault.model):
            meta = rule.META
            if vault.unreadable:
                unread = [f"properties.{p} could not be read ({why})" for p, why in vault.unreadable if p in meta.reads]
                if unread:
                    out.not_evaluated.append(NotEvaluated(meta.id, vault.id, "; ".join(unread)))
                    continue
            if meta.requires and not all(getattr(vault, a) for a in meta.requires):
                continue   # e.g. template deployment off: the rule cannot fire, nothing is left unexamined
            if meta.uses_rbac and unknown_ancestry and meta.subject == "vault":
                out.not_evaluated.append(NotEvaluated(meta.id, vault.id, unknown_ancestry))
                continue
            if meta.uses_rbac:
                out.not_evaluated.extend(NotEvaluated(meta.id, vault.id, why) for why in incomplete)
            if meta.uses_rbac and access.unknown_roles:
                for assignment in access.unknown_roles:
                    out.not_evaluated.append(NotEvaluated(
                        meta.id, vault.id, f"role definition {assignment.role_definition_id} of assignment "
                        f"{assignment.id} is unknown: it is counted as granting nothing"))
            try:
                found = _collect(rule.evaluate(vault, access, ctx), meta.id, out, vault.id)
            except Exception as exc:  # noqa: BLE001 - a failing rule is a result, never a crash
                _rule_failed(meta.id, vault.id, exc, out)
            else:
                if found:
                    out.findings.add_vault(found)
        for job in self.passes:
            if job.access_policy_vaults_only and vault.is_rbac:
                continue
            try:
                job.run(vault, access, ctx, out.results[job.name])
            except Exception as exc:  # noqa: BLE001 - a failing pass is a result (a gap), never a crash
                _rule_failed(GAP_NAMES.get(job.name, job.name), vault.id, exc, out)
