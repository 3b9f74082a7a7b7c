"""Sigstore without the internet, for the signing tests: the Sigstore project's own mocks and verifier.

- `SigstoreMock.start(tmpdir)`: tests/sigstore/mock-server.js (npm `@sigstore/mock`: Fulcio, Rekor, a TSA) on
  127.0.0.1:<random port>; `trust_config` is the ClientTrustConfig file naming it (what sigstore-python signs
  with, as a private Sigstore's would be), `trusted_root` the trusted root alone (what a verifier trusts).
- `verify(bundle, …)`: tests/sigstore/verify.js, npm `@sigstore/verify` (sigstore-js), an implementation
  independent of the sigstore-python that signs; returns the signed statement, or raises with its reason.
- `identity_token(…)`: an OIDC token as GitLab's `id_tokens` gives one (the mock Fulcio reads its claims and does
  not check its signature).

scripts/setup.sh installs the npm packages into tests/sigstore/node_modules (package-lock.json pins them).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.services import ServiceError

HERE = Path(__file__).resolve().parent / "sigstore"
HINT = "run scripts/setup.sh (npm install in tests/sigstore)"


def node() -> str:
    found = shutil.which("node")
    if not found:
        raise ServiceError(f"node not found: {HINT}")
    if not (HERE / "node_modules" / "@sigstore" / "mock").is_dir():
        raise ServiceError(f"@sigstore/mock is not installed in {HERE}: {HINT}")
    return found


class SigstoreMock:
    def __init__(self, root: Path, process: subprocess.Popen[str], url: str) -> None:
        self.root = root
        self.process = process
        self.url = url
        self.trust_config = root / "trust_config.json"
        self.trusted_root = root / "trusted_root.json"

    @classmethod
    def start(cls, tmpdir: Path, timeout: float = 30.0) -> SigstoreMock:
        root = Path(tmpdir)
        root.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            [node(), str(HERE / "mock-server.js")],
            stdout=subprocess.PIPE,
            stderr=(root / "server.log").open("wb"),
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=HERE,
            start_new_session=True,
        )
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        line = process.stdout.readline() if ready else ""
        if not line.startswith("{"):
            process.kill()
            raise ServiceError(f"the Sigstore mock did not start: {(root / 'server.log').read_text()[-2000:]}")
        info = json.loads(line)
        mock = cls(root, process, info["url"])
        mock.trust_config.write_text(json.dumps(info["trustConfig"], indent=2))
        mock.trusted_root.write_text(json.dumps(info["trustConfig"]["trustedRoot"], indent=2))
        return mock

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def __enter__(self) -> SigstoreMock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def verify(self, bundle: bytes, identity: str | None = None, issuer: str | None = None) -> dict[str, Any]:
        """The verified bundle's statement, with sigstore-js; AssertionError with its reason when it fails."""
        path = self.root / f"bundle-{time.monotonic_ns()}.json"
        path.write_bytes(bundle)
        argv = [node(), str(HERE / "verify.js"), str(self.trusted_root), str(path)]
        argv += [a for a in (identity, issuer) if a]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, cwd=HERE)
        if done.returncode != 0:
            raise AssertionError(f"@sigstore/verify refused the bundle: {done.stderr.strip()}")
        result: dict[str, Any] = json.loads(done.stdout)
        return result


def identity_token(subject: str, issuer: str = "https://gitlab.example.com", lifetime: int = 600) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"iss": issuer, "aud": "sigstore", "sub": subject, "iat": now, "nbf": now, "exp": now + lifetime}
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.{part({'sig': 'mock'})}"
