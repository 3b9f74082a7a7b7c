"""Charts: reproducible archives, values bumps, dependency ranges, and every publish target (OCI, classic repos)."""
