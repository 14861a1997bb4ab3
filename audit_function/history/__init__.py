"""Across runs: suppressions, the state file (and a previous report), which findings a gap leaves unverified, what changed week over week."""
