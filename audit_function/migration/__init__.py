"""Pre-migration inventory and plan for moving access-policy vaults to Azure RBAC (docs/migration.md).

- :func:`plan_vault` (``readiness``): one ``report["migration"]`` element per access-policy vault;
- :func:`summarize`: one terminal line per vault;
- :func:`custom_roles`: the custom roles proposed across vaults, deduplicated by permission signature;
- :mod:`~audit_function.migration.roles`: the least-privilege role search and its cost function;
- :mod:`~audit_function.migration.script` / :mod:`~audit_function.migration.bicep`: plan files.
"""

from audit_function.migration.readiness import READINESS, custom_roles, plan_vault, summarize
from audit_function.migration.roles import RoleCatalog

__all__ = ["READINESS", "RoleCatalog", "custom_roles", "plan_vault", "summarize"]
