"""Developer tools (not installed with kv-audit)."""
