"""Sigstore keyless signing through sigstore-python: the CI's OIDC identity token buys a short-lived certificate
from Fulcio, each in-toto statement is signed as a DSSE envelope and logged in Rekor, and the result is a Sigstore
bundle (v0.3 JSON), the format cosign v3 and Flux verify.

The token: SIGSTORE_ID_TOKEN (GitLab's `id_tokens: SIGSTORE_ID_TOKEN: {aud: sigstore}`, or any CI that puts one
there), else GitHub Actions' token service (`permissions: id-token: write`). Never on a command line or in a log:
it is registered as a secret the moment it is read.

A private Sigstore: a ClientTrustConfig file (the trusted root, and the Fulcio, Rekor and TSA URLs) instead of the
public-good instance's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release import secrets
from release.errors import ReleaseError

TOKEN_VARIABLE = "SIGSTORE_ID_TOKEN"
NO_TOKEN_HINT = (
    "GitLab: give the job `id_tokens: {SIGSTORE_ID_TOKEN: {aud: sigstore}}`; GitHub: `permissions: id-token: write`; "
    "or turn signing off"
)


def identity_token(env: Mapping[str, str]) -> str:
    """The CI's OIDC identity token for Sigstore, or one line saying how to get one."""
    token = env.get(TOKEN_VARIABLE, "").strip()
    if not token and env.get("GITHUB_ACTIONS") and env.get("ACTIONS_ID_TOKEN_REQUEST_URL"):
        from sigstore.oidc import IdentityError, detect_credential

        try:
            token = detect_credential() or ""
        except IdentityError as exc:
            raise ReleaseError(f"GitHub did not give an OIDC token for Sigstore: {exc}", NO_TOKEN_HINT) from None
    if not token:
        raise ReleaseError(
            f"signing needs an OIDC identity token and found none ({TOKEN_VARIABLE} is empty)", NO_TOKEN_HINT
        )
    secrets.register(token)
    return token


def check_installed() -> None:
    try:
        import sigstore.sign  # noqa: F401
    except ImportError:
        raise ReleaseError("sigstore-python is not installed", "pip install 'release[sign]'") from None


@dataclass
class Signing:
    signer: Any  # sigstore.sign.Signer
    verifier: Any  # sigstore.verify.Verifier
    identity: str
    issuer: str

    def sign(self, statement: bytes) -> bytes:
        """A Sigstore bundle (JSON) of the DSSE-signed in-toto `statement`, checked with sigstore-python's verifier."""
        from sigstore import dsse
        from sigstore.errors import Error
        from sigstore.verify.policy import Identity

        try:
            bundle = self.signer.sign_dsse(dsse.Statement(statement))
        except Error as exc:
            raise ReleaseError(
                f"Sigstore signing failed: {_one_line(exc)}", "check the Sigstore URLs and the token"
            ) from None
        try:
            self.verifier.verify_dsse(bundle, Identity(identity=self.identity, issuer=self.issuer))
        except Error as exc:
            raise ReleaseError(
                f"the signature Sigstore returned does not verify: {_one_line(exc)}",
                "check the trusted root matches the Fulcio and Rekor that signed; nothing was attached",
            ) from None
        return str(bundle.to_json()).encode()


@contextmanager
def session(token: str, trust_config: Path | None) -> Iterator[Signing]:
    """A signer holding one certificate for the run (every statement signed with the same ephemeral key)."""
    from sigstore.errors import Error
    from sigstore.models import ClientTrustConfig
    from sigstore.oidc import IdentityToken
    from sigstore.sign import SigningContext
    from sigstore.verify import Verifier

    try:
        config = (
            ClientTrustConfig.from_json(trust_config.read_text()) if trust_config else ClientTrustConfig.production()
        )
        identity = IdentityToken(token)
    except OSError as exc:
        raise ReleaseError(
            f"cannot read the Sigstore trust config {trust_config}: {exc.strerror}", "fix the path"
        ) from None
    except (Error, ValueError) as exc:
        raise ReleaseError(
            f"Sigstore refused the setup: {_one_line(exc)}", "check the token and the trust config"
        ) from None
    context = SigningContext.from_trust_config(config)
    verifier = Verifier(trusted_root=config.trusted_root)
    try:
        with context.signer(identity) as signer:
            yield Signing(signer, verifier, str(identity.identity), str(identity.federated_issuer or identity.issuer))
    except Error as exc:
        raise ReleaseError(
            f"Sigstore signing failed: {_one_line(exc)}", "check the Sigstore URLs and the token"
        ) from None


def _one_line(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:300]
