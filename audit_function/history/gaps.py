"""Which previous findings a run's gaps may hide (week over week: ``unverified``, not ``resolved``).

A finding present last time and absent now is resolved only when the run read what decides it.
Only what a gap actually covers stays unverified:

- **scope**: a gap (or a not-evaluated entry) scoped to a subscription, resource group or vault
  covers the findings whose vault id, assignment id or ``/subscriptions/<id>`` is that scope or lies
  under it (case-insensitive, prefix ending at ``/``); one scoped to a management group covers the
  findings under it (management-group-scoped assignment ids, and the subscriptions the estate places
  under that group; without that map: every finding); ``/``, an empty scope or a scope that is not
  an Azure scope covers every finding. A finding that lives above any subscription (a grant at a
  management group or the tenant root, no vault) may draw on every subscription: any gap that feeds
  it covers it.
- **table**: a gap in a table not read scope by scope (:data:`SCOPED_TABLES`) is a whole-table gap;
  a gap in a table covers only the findings that table feeds (``feeds(table, ruleId)``,
  from the rules' metadata; without it, every finding). A gap without a table covers every finding
  under its scope.
- **not evaluated**: an entry covers the findings of its rule (``*``: every rule) on its vault, or,
  without a vault id, under its scope; with neither, every finding of that rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

MG_PREFIX = "/providers/microsoft.management/managementgroups/"
SUB_PREFIX = "/subscriptions/"
#: tables read scope by scope (per subscription, or per vault for the deep tables): a gap in one of
#: them is as wide as its scope. Any other table (role_definitions, management_groups, principals…)
#: decides findings everywhere, so a gap in it counts as a whole-table gap whatever its scope.
SCOPED_TABLES = frozenset({"vaults", "role_assignments", "subscriptions", "role_eligibilities", "deny_assignments",
                           "lighthouse_delegations", "resource_groups", "managed_hsms", "vault_objects",
                           "diagnostic_settings", "defender_plans"})


class GapCoverage:
    """The run's gaps and not-evaluated entries, asked finding by finding (:meth:`hides`).

    ``feeds(table, rule_id)``: whether rows of ``table`` decide findings of ``rule_id``.
    ``under_group``: lower management-group name -> lower subscription ids below it.
    """

    def __init__(self, gaps: Iterable[dict], not_evaluated: Iterable[dict], *,
                 feeds: Callable[[str, str], bool] | None = None,
                 under_group: dict[str, set[str]] | None = None) -> None:
        self.gaps = [(_key(g.get("scope")) if (g.get("table") or None) in SCOPED_TABLES or not g.get("table")
                      else "/", g.get("table") or None) for g in gaps or ()]
        self.not_evaluated = [(e.get("ruleId"), str(e.get("vaultId") or "").lower(), _key(e.get("scope")))
                              for e in not_evaluated or ()]
        self.feeds = feeds
        self.under_group = under_group

    def hides(self, finding: dict) -> bool:
        rule = finding.get("ruleId")
        places = _places(finding)
        above = not finding.get("vaultId") and not finding.get("subscriptionId") and not any(
            p.startswith(SUB_PREFIX) for p in places)
        for scope, table in self.gaps:
            if table is not None and self.feeds is not None and rule and not self.feeds(table, rule):
                continue
            if above or self._under(scope, places, finding):
                return True
        vault = str(finding.get("vaultId") or "").lower()
        for entry_rule, entry_vault, scope in self.not_evaluated:
            if entry_rule not in (None, "", "*", rule):
                continue
            if entry_vault:
                if entry_vault == vault:
                    return True
            elif scope is None or above or self._under(scope, places, finding):
                return True
        return False

    def _under(self, scope: str | None, places: list[str], finding: dict) -> bool:
        if not scope or scope == "/" or not places:
            return True
        if scope.startswith(SUB_PREFIX):
            return any(p == scope or p.startswith(scope + "/") for p in places)
        if scope.startswith(MG_PREFIX):
            if any(p == scope or p.startswith(scope + "/") for p in places):
                return True
            if self.under_group is None:
                return True
            subscription = str(finding.get("subscriptionId") or _subscription(places) or "").lower()
            return subscription in self.under_group.get(scope[len(MG_PREFIX):], ())
        return True   # not an Azure scope ("(row without id)", a tenant id): it may hold anything


def _key(scope) -> str | None:
    if scope is None:
        return None
    key = str(scope).strip().lower()
    return key.rstrip("/") or "/"


def _places(finding: dict) -> list[str]:
    places = [finding.get("vaultId"), finding.get("assignmentId")]
    if finding.get("subscriptionId"):
        places.append(f"{SUB_PREFIX}{finding['subscriptionId']}")
    return [str(p).lower().rstrip("/") for p in places if p]


def _subscription(places: list[str]) -> str | None:
    for place in places:
        if place.startswith(SUB_PREFIX):
            return place[len(SUB_PREFIX):].split("/", 1)[0]
    return None


def groups_of(subscriptions) -> dict[str, set[str]]:
    """lower MG name -> lower subscription ids under it, from the estate's subscriptions."""
    out: dict[str, set[str]] = {}
    for key, sub in (subscriptions or {}).items():
        for group in getattr(sub, "management_groups", ()) or ():
            out.setdefault(str(group).lower(), set()).add(key)
    return out


def is_unread(finding: dict, gaps: list[dict], not_evaluated: list[dict]) -> bool:
    """True when the run's gaps or not-evaluated list mean ``finding`` may exist unseen."""
    return GapCoverage(gaps, not_evaluated).hides(finding)


def gap_covers(gap: dict, finding: dict) -> bool:
    """True when a gap (``{scope, table, reason}``) may hide ``finding``."""
    return GapCoverage([gap], ()).hides(finding)
