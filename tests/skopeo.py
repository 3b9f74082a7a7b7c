"""skopeo (Debian), the independent reader of what release pushes: one login file and one call for every test."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

from tests.services import require_binary


def authfile_for(registry: Any, directory: Path) -> Path:
    """A containers auth.json holding the loopback registry's login."""
    token = base64.b64encode(f"{registry.user}:{registry.password}".encode()).decode()
    path = directory / "auth.json"
    path.write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    return path


def run(authfile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("skopeo", "skopeo", ["/usr/bin/skopeo"])
    return subprocess.run(
        [binary, *args, "--tls-verify=false", "--authfile", str(authfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def skopeo(authfile: Path, *args: str) -> str:
    """skopeo's output; any failure fails the test."""
    result = run(authfile, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def raw_or_none(authfile: Path, ref: str) -> dict[str, Any] | None:
    """`skopeo inspect --raw`: the manifest as stored, or None when the registry has none under `ref`."""
    result = run(authfile, "inspect", "--raw", f"docker://{ref}")
    if result.returncode != 0:
        assert "manifest unknown" in result.stderr, result.stderr
        return None
    found: dict[str, Any] = json.loads(result.stdout)
    return found
