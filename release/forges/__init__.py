"""Forges (GitLab, GitHub): release objects and merge requests, over the forge adapter."""
