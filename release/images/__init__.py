"""Images: build through the engine, push tags by convention, record digests."""
