"""origin: where this repository's tags go and where missing history comes from, with the credentials CI gives."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

from release.context import Context

REMOTE = "origin"


def remote(ctx: Context) -> tuple[str, Mapping[str, str] | None] | None:
    """Where tags go and the git environment that authenticates there; None without an origin remote.

    With RELEASE_GIT_TOKEN and an https origin the token goes in a header scoped to that host (never in a URL or
    argv); otherwise git's own credentials apply (actions/checkout's header, a credential helper, ssh keys)."""
    url = ctx.git.remote_url(REMOTE)
    if url is None:
        return None
    parts = urllib.parse.urlsplit(url)
    if ctx.env.get("RELEASE_GIT_TOKEN") and parts.scheme in ("http", "https"):
        host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
        bare = urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, ""))
        from release.adapters import gitclone  # TLS settings and ssl: only when a token needs them

        return bare, gitclone.auth_env(ctx.env, bare)
    return REMOTE, None
