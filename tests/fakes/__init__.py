"""Local fakes of outside HTTP APIs that cannot run here (forges); real services live in tests/services.py."""
