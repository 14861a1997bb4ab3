"""The kv-audit command line: one module per command."""
