"""Running the rules over the estate: per-vault passes, forked workers, the findings store."""
