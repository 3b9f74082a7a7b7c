"""One module per stage: NAME, skip(ctx) -> reason | None, run(ctx) -> summary."""
