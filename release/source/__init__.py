"""The application repository we release from: plans from its history, notes, the claim and the release tag, `cut`."""
