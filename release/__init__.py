"""release: one command from a commit to a GitOps deployment."""

__version__ = "0.1.0"
