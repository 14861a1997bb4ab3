"""Across runs: suppressions, last week's report, what changed week over week."""
