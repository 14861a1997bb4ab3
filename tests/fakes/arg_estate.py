"""The fake Resource Graph's estate: rows by table with their scopes, which rows a query and scope
see (rows_for), and error bodies shaped like real ARG's (support boilerplate in error.message, the
cause in error.details). Used by tests/fakes/arg_server.py."""

from __future__ import annotations

import re
import uuid

from audit_function.collect.filters import TWINS

MG_PREFIX = "/providers/microsoft.management/managementgroups/"
AUTH_TABLES = {"role_assignments", "role_definitions"}
_RESOURCE = re.compile(r"^(/subscriptions/[^/]+/resourcegroups/[^/]+/providers/[^/]+/[^/]+/[^/]+)/.+")


def _norm_scope(scope: str) -> str:
    s = re.sub(r"/+", "/", scope.strip().lower())
    return s.rstrip("/") or "/"


class Estate:
    """Rows by snapshot table, with the scope facts the fake needs (MG ancestry, row locations)."""

    def __init__(self, tables: dict[str, list]) -> None:
        self.tables = {t: list(tables.get(t, [])) for t in
                       ("vaults", "subscriptions", "management_groups", "role_assignments", "role_definitions",
                        "lighthouse_delegations", "resource_groups", "managed_hsms", "defender_plans",
                        "perimeter_associations")}
        self.sub_chain: dict[str, tuple[str, ...]] = {}
        for row in self.tables["subscriptions"]:
            chain = (row.get("properties") or {}).get("managementGroupAncestorsChain") or []
            self.sub_chain[str(row.get("subscriptionId", "")).lower()] = tuple(
                str(m.get("name", "")).lower() for m in chain)
        self.mg_chain: dict[str, tuple[str, ...]] = {}
        for row in self.tables["management_groups"]:
            details = (row.get("properties") or {}).get("details") or {}
            chain = details.get("managementGroupAncestorsChain") or []
            self.mg_chain[str(row.get("name", "")).lower()] = tuple(str(m.get("name", "")).lower() for m in chain)
        self._ra_index = None
        self._chains: dict[str, frozenset[str]] = {}

    def location(self, table: str, row: dict) -> str:
        """The scope a row lives at (lower-cased)."""
        rid = str(row.get("id", ""))
        if table == "subscriptions":
            return f"/subscriptions/{str(row.get('subscriptionId', '')).lower()}"
        if table == "management_groups":
            return MG_PREFIX + str(row.get("name", "")).lower()
        if table == "role_assignments":
            scope = (row.get("properties") or {}).get("scope")
            if isinstance(scope, str) and scope.strip():
                return _norm_scope(scope)
            return _norm_scope(rid.lower().split("/providers/microsoft.authorization/")[0] or "/")
        if table == "role_definitions":
            return _norm_scope(rid.lower().split("/providers/microsoft.authorization/")[0] or "/")
        return _norm_scope(rid)

    def chain(self, loc: str) -> frozenset[str]:
        """Every scope at or above `loc` (lower-cased): '/', its management groups, path prefixes."""
        found = self._chains.get(loc)
        if found is None:
            out = {"/", loc}
            if loc.startswith(MG_PREFIX):
                out.update(MG_PREFIX + m for m in self.mg_chain.get(loc[len(MG_PREFIX):], ()))
            elif loc.startswith("/subscriptions/"):
                parts = loc.split("/")
                out.update(MG_PREFIX + m for m in self.sub_chain.get(parts[2], ()))
                out.update("/".join(parts[:i]) for i in range(3, len(parts)))
            found = self._chains[loc] = frozenset(out)
        return found

    def within(self, child: str, parent: str) -> bool:
        """Is scope `child` the scope `parent` or below it?"""
        return parent in self.chain(child)

    def subscription_of(self, loc: str) -> str | None:
        return loc.split("/")[2] if loc.startswith("/subscriptions/") else None

    # -- per-vault ARM reads ------------------------------------------------------------
    def assignments_for(self, scope: str) -> list[dict]:
        """Role assignments at, above and below an ARM scope (what ARM's list-for-scope returns)."""
        if self._ra_index is None:
            exact, inside = {}, {}
            for row in self.tables["role_assignments"]:
                loc = self.location("role_assignments", row)
                exact.setdefault(loc, []).append(row)
                m = _RESOURCE.match(loc)
                if m:
                    inside.setdefault(m.group(1), []).append(row)
            self._ra_index = (exact, inside)
        exact, inside = self._ra_index
        scope = _norm_scope(scope)
        parts = scope.split("/")
        above = ["/"]
        if scope.startswith("/subscriptions/"):
            above += [MG_PREFIX + m for m in reversed(self.sub_chain.get(parts[2], ()))]
            above += ["/".join(parts[:i]) for i in range(3, len(parts))]
        rows = [r for s in above if s != scope for r in exact.get(s, [])]
        rows += exact.get(scope, []) + inside.get(scope, [])
        return rows


def type_literals(query: str) -> list[str]:
    """The lower-cased types a query's ``type =~ '...'`` or ``type in~ ('...', ...)`` filter names, in order."""
    found = re.search(r"\btype\s*=~\s*'([^']+)'|\btype\s+in~\s*\(([^)]*)\)", query)
    if found is None:
        return []
    if found.group(1) is not None:
        return [found.group(1).lower()]
    return [t.lower() for t in re.findall(r"'([^']+)'", found.group(2))]


def rows_for(est: Estate, f, table: str, query: str, subs: list[str], mgs: list[str], options: dict,
             api_version: str) -> tuple[list, bool]:
    """(rows in answer order, subscription limit hit) for a query and scope."""
    wanted = set(type_literals(query))
    units = ([f"/subscriptions/{s.lower()}" for s in subs] if subs
             else [MG_PREFIX + m.lower() for m in mgs] if mgs else ["/"])
    filt = "AtScopeAndBelow"
    if table in AUTH_TABLES and api_version >= "2021-06-01" and options.get("authorizationScopeFilter"):
        filt = options["authorizationScopeFilter"]
    limit_hit, covered = False, None
    if not subs and f.subscription_limit is not None:
        under = sorted(s for s in est.sub_chain
                       if any(est.within(f"/subscriptions/{s}", u) for u in units))
        if len(under) > f.subscription_limit:
            limit_hit, covered = True, set(under[:f.subscription_limit])
    forbidden = {s.lower() for s in f.forbidden_subscriptions}
    unit_set = set(units)
    above_units = set().union(*(est.chain(u) for u in units))
    clause, twin = TWINS.get(table, (None, None))
    apply_twin = twin is not None and " ".join(clause.split()) in " ".join(query.split())
    out = []
    for row in est.tables[table]:
        if str(row.get("type", "")).lower() not in wanted:
            continue
        if apply_twin and not twin(row):
            continue
        loc = est.location(table, row)
        sub = est.subscription_of(loc)
        if sub is not None and (sub in forbidden or (covered is not None and sub not in covered)):
            continue  # RBAC-trimmed, or beyond the subscription limit
        if units != ["/"]:
            below = not unit_set.isdisjoint(est.chain(loc))
            above = loc in above_units
            exact = loc in unit_set
            ok = {"AtScopeAndBelow": below, "AtScopeAndAbove": above, "AtScopeExact": exact,
                  "AtScopeAboveAndBelow": above or below}.get(filt, below)
            if not ok:
                continue
        out.append(row)
    m = re.search(r"\|\s*project\s+([\w\s,]+?)\s*(\||$)", query)
    if m:
        cols = [c.strip() for c in m.group(1).split(",") if c.strip()]
        out = [{c: r[c] for c in cols if c in r} for r in out]
    if re.search(r"\|\s*order\s+by\s+id\s+asc", query):
        out.sort(key=lambda r: str(r.get("id", "")))
    return out, limit_hit


def _support(clock) -> str:
    """The boilerplate real Resource Graph errors carry in error.message (the cause is in details)."""
    return ("Please provide below info when asking for support: timestamp = "
            f"{clock.now():.3f}, correlationId = {uuid.uuid4()}.")


def _bad_skip_token(clock, code: str) -> dict:
    return _error("BadRequest", _support(clock),
                  [(code, "The skip token could not be decoded. Please restart the query without it.")])


def _error(code: str, message: str, details=()) -> dict:
    return {"error": {"code": code, "message": message,
                      "details": [{"code": c, "message": m} for c, m in details]}}
