"""The report document: its sections (run, coverage, inventory, findings) built from the evaluation."""
