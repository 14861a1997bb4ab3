"""kv-audit: estate-wide compliance auditor for Azure Key Vault (the audit pipeline)."""

__version__ = "0.1.0"
