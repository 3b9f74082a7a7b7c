"""Keyless signatures of what a release publishes to OCI registries (`signing: sigstore` or `--sign`).

Each signature is a Sigstore bundle whose DSSE envelope holds an in-toto statement about the published digest:
cosign's `https://sigstore.dev/cosign/sign/v1` statement for the image or chart itself, and the SLSA provenance
statement when provenance is on. Each bundle is attached as a referrer of the digest in cosign v3's layout
(artifactType and layer `application/vnd.dev.sigstore.bundle.v0.3+json`, annotations
`dev.sigstore.bundle.content: dsse-envelope` and `dev.sigstore.bundle.predicateType`), so `cosign verify` and
Flux's verification find them. A rerun signs only what has no bundle yet.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from release.adapters import referrers, sigstore
from release.adapters.registry import Registry
from release.context import Context
from release.errors import ReleaseError
from release.source import provenance

Say = Callable[[str], None]
BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
CONTENT = "dev.sigstore.bundle.content"
PREDICATE = "dev.sigstore.bundle.predicateType"
TRUST_CONFIG_VARIABLE = "RELEASE_SIGSTORE_TRUST_CONFIG"


def enabled(ctx: Context) -> bool:
    return ctx.config.signing == "sigstore" or ctx.options.sign


def trust_config(ctx: Context) -> Path | None:
    """A private Sigstore's ClientTrustConfig: RELEASE_SIGSTORE_TRUST_CONFIG, else `sigstore.trust_config`."""
    named = ctx.env.get(TRUST_CONFIG_VARIABLE) or ctx.config.sigstore.trust_config
    return (ctx.root / named) if named else None


def check(ctx: Context) -> None:
    """Before anything is built or pushed: sigstore-python, an identity token, a readable trust config."""
    if not enabled(ctx):
        return
    sigstore.check_installed()
    token(ctx)
    path = trust_config(ctx)
    if path is not None and not path.is_file():
        raise ReleaseError(
            f"the Sigstore trust config {path} does not exist",
            f"fix sigstore.trust_config or {TRUST_CONFIG_VARIABLE}, or leave both unset for the public Sigstore",
        )


def token(ctx: Context) -> str:
    if "sigstore_token" not in ctx.cache:
        ctx.cache["sigstore_token"] = sigstore.identity_token(ctx.env)
    return str(ctx.cache["sigstore_token"])


def cosign_statement(name: str, digest: str) -> bytes:
    """The statement `cosign sign` (v3, bundle format) signs: the digest, and an empty predicate."""
    algorithm, _, value = digest.partition(":")
    body = {
        "_type": provenance.STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {algorithm: value}}],
        "predicateType": SIGN_PREDICATE,
        "predicate": {},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def sign_and_attach(
    ctx: Context, registry: Registry, name: str, subject: str, say: Say, statement: bytes | None = None
) -> list[dict[str, Any]]:
    """Sign `subject` (and the provenance `statement` about it, if given) unless already signed; the references."""
    wanted = {SIGN_PREDICATE: cosign_statement(name, subject)}
    if statement is not None:
        wanted[provenance.PREDICATE_TYPE] = statement
    done: list[dict[str, Any]] = []
    missing: dict[str, bytes] = {}
    for predicate, body in wanted.items():
        found = referrers.find(registry, subject, {BUNDLE_TYPE}, {PREDICATE: predicate})
        if found:
            say(f"found the signature of {name}@{subject[:19]} ({predicate}): {found}")
            done.append({"kind": "signature", "predicate": predicate, "subject": subject, "digest": found})
        else:
            missing[predicate] = body
    if not missing:
        return done
    with sigstore.session(token(ctx), trust_config(ctx)) as signing:
        bundles = {predicate: signing.sign(body) for predicate, body in missing.items()}
    for predicate, bundle in bundles.items():
        notes = {CONTENT: "dsse-envelope", PREDICATE: predicate, "org.opencontainers.image.created": provenance.now()}
        artifact = referrers.attach_document(registry, subject, BUNDLE_TYPE, bundle, notes)
        say(f"signed {name}@{subject[:19]} ({predicate}) as {signing.identity}: {artifact}")
        done.append({"kind": "signature", "predicate": predicate, "subject": subject, "digest": artifact})
    return done
