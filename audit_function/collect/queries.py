"""The Resource Graph queries, one ``.kql`` file per snapshot table (``queries/<table>.kql``)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

#: Snapshot tables this collector fills, in collection order (subscriptions first: they decide
#: which subscriptions the later tables ask about).
TABLES = ("subscriptions", "management_groups", "role_definitions", "vaults", "role_assignments",
          "lighthouse_delegations", "resource_groups", "managed_hsms")

#: Resource Graph tables read only by a deep collection (collect --deep)
DEEP_TABLES = ("defender_plans", "perimeter_associations")

#: Tables read at tenant scope whatever the requested scope (built-in role definitions and
#: management groups do not live in a subscription).
TENANT_TABLES = frozenset({"management_groups", "role_definitions"})

#: Tables whose query needs options.authorizationScopeFilter to include inherited rows.
INHERITED_TABLES = frozenset({"role_assignments"})


def source(table: str) -> str:
    """The .kql file's text, as checked by the test suite."""
    return resources.files(__package__).joinpath("queries", f"{table}.kql").read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def query(table: str) -> str:
    """The query sent to Resource Graph: the file without its whole-line ``//`` comments."""
    lines = [ln.rstrip() for ln in source(table).splitlines()]
    return "\n".join(ln for ln in lines if ln.strip() and not ln.lstrip().startswith("//"))
