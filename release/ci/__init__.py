"""CI: what a run hands to the next job (outputs), generated pipelines, and `release init`."""
