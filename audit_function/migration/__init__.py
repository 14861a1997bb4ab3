"""Pre-migration inventory and plan for moving access-policy vaults to Azure RBAC (docs/migration.md).

- :func:`plan_vault` (``readiness``): one ``report["migration"]`` element per access-policy vault;
- :func:`summarize`: one terminal line per vault;
- :func:`custom_roles`: the custom roles proposed across vaults, deduplicated by permission signature;
- :mod:`~audit_function.migration.roles`: the least-privilege role search and its cost function;
- :mod:`~audit_function.migration.planner`: ``kv-audit plan`` without the command line (estate -> files);
- :mod:`~audit_function.migration.placement`: where each custom role is defined (one assignable scope each);
- :mod:`~audit_function.migration.units`: per-vault units (run order, assignments, the pre-flight's expectations);
- :mod:`~audit_function.migration.script` (+ ``script_helpers``) / ``bicep`` / ``terraform``: plan files.
"""

from audit_function.migration.readiness import READINESS, custom_roles, plan_vault, summarize
from audit_function.migration.roles import RoleCatalog

__all__ = ["READINESS", "RoleCatalog", "custom_roles", "plan_vault", "summarize"]
