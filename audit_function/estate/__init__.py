"""The estate model: vaults, grants, role definitions, principals, scopes and gaps, parsed from snapshot rows.

- ``model.py``: the immutable records (Vault, PolicyEntry, RoleDefinition, RoleAssignment, ..., Estate);
- ``rows.py``: shared row parsing (RowError, case-insensitive lookups) and the small tables;
- ``vault_rows.py``: vault rows (network, private endpoints, access-policy entries);
- ``grant_rows.py``: role definitions, assignments, eligibilities, deny assignments, Lighthouse;
- ``scopes.py``: scope keys, ancestors and levels;
- ``deep.py``: deeper tables (Managed HSM pools, key/secret metadata, diagnostic settings, Defender);
- ``owners.py``: owner tags of vaults, resource groups and subscriptions.
"""
