"""The estate model: vaults, grants, role definitions, principals, scopes and gaps, parsed from snapshot rows."""
