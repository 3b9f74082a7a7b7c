"""GitOps: environments, the infra repository clone, byte-preserving edits, promote, rollback and status."""
