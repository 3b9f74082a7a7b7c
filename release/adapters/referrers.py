"""Artifacts attached to an image or chart in the registry (OCI 1.1): an SBOM, a provenance statement, a signature.

Each is an OCI image manifest with an `artifactType`, the empty config, its document as the one layer and a
`subject` naming the digest it is about. It is found again through the registry's referrers API or, where the
registry lacks it (CNCF Distribution 2.x, GHCR, Docker Hub), through the referrers tag schema of the distribution
spec: an image index under the tag `sha256-<hex of the subject>` listing every referrer, which the writer keeps
up to date (read, add the new entry, put). cosign, oras and Flux read both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from release.adapters.registry import Manifest, Registry
from release.errors import ReleaseError

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
EMPTY_DATA = b"{}"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Document:
    media_type: str
    data: bytes
    annotations: Mapping[str, str] | None = None

    def descriptor(self) -> dict[str, Any]:
        found: dict[str, Any] = {"mediaType": self.media_type, "digest": digest_of(self.data), "size": len(self.data)}
        if self.annotations:
            found["annotations"] = dict(sorted(self.annotations.items()))
        return found


def subject_of(manifest: Manifest) -> dict[str, Any]:
    return {"mediaType": manifest.media_type, "digest": manifest.digest, "size": manifest.size}


def referrers_tag(subject_digest: str) -> str:
    """sha256:abc… → sha256-abc… (the referrers tag schema's fallback tag)."""
    algorithm, _, hex_digest = subject_digest.partition(":")
    return f"{algorithm}-{hex_digest}"[:128]


def artifact_manifest(
    artifact_type: str, documents: Sequence[Document], subject: Mapping[str, Any], annotations: Mapping[str, str]
) -> bytes:
    body: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": EMPTY_CONFIG, "digest": digest_of(EMPTY_DATA), "size": len(EMPTY_DATA)},
        "layers": [d.descriptor() for d in documents],
        "subject": dict(subject),
    }
    if annotations:
        body["annotations"] = dict(sorted(annotations.items()))
    return dump(body)


def listed(registry: Registry, subject_digest: str) -> list[dict[str, Any]]:
    """Every referrer of `subject_digest`: through the referrers API, else the `sha256-<hex>` tag's index."""
    found = registry.referrers(subject_digest)
    if found is not None:
        return found
    index = registry.manifest(referrers_tag(subject_digest))
    return list(index.body.get("manifests") or []) if index is not None else []


def attach(
    registry: Registry,
    subject: Mapping[str, Any],
    artifact_type: str,
    documents: Sequence[Document],
    annotations: Mapping[str, str],
) -> str:
    """Push the artifact by digest, then list it under the fallback tag when the registry has no referrers API.

    Blobs first, then the artifact, then the index entry: a crash in between leaves an unlisted artifact that a
    rerun lists (the same bytes give the same digest). Returns the artifact's digest."""
    for document in documents:
        registry.upload_blob(document.data)
    registry.upload_blob(EMPTY_DATA)
    body = artifact_manifest(artifact_type, documents, subject, annotations)
    artifact = registry.put_manifest(digest_of(body), body, MANIFEST)
    if registry.referrers(str(subject["digest"])) is None:
        add_to_fallback(registry, str(subject["digest"]), artifact, len(body), artifact_type, annotations)
    return artifact


def add_to_fallback(
    registry: Registry, subject: str, artifact: str, size: int, artifact_type: str, annotations: Mapping[str, str]
) -> None:
    tag = referrers_tag(subject)
    index = registry.manifest(tag)
    entries: list[dict[str, Any]] = list(index.body.get("manifests") or []) if index is not None else []
    if any(e.get("digest") == artifact for e in entries):
        return
    entry: dict[str, Any] = {"mediaType": MANIFEST, "digest": artifact, "size": size, "artifactType": artifact_type}
    if annotations:
        entry["annotations"] = dict(sorted(annotations.items()))
    body = dump({"schemaVersion": 2, "mediaType": INDEX, "manifests": [*entries, entry]})
    registry.put_manifest(tag, body, INDEX)


def find(registry: Registry, subject: str, artifact_types: set[str], annotations: Mapping[str, str]) -> str | None:
    """The digest of a referrer of `subject` of one of `artifact_types` carrying `annotations`, or None."""
    for entry in listed(registry, subject):
        theirs = entry.get("annotations") or {}
        if entry.get("artifactType") in artifact_types and all(theirs.get(k) == v for k, v in annotations.items()):
            return str(entry["digest"])
    return None


def document(registry: Registry, artifact: str) -> bytes:
    """The first layer of an attached artifact (its document)."""
    manifest = registry.manifest(artifact)
    layers = (manifest.body.get("layers") or []) if manifest else []
    if not layers:
        raise ReleaseError(f"{registry.repo.name}@{artifact} has no document", "check the registry")
    return registry.blob(str(layers[0]["digest"]))


def attach_document(
    registry: Registry, subject: str, media_type: str, data: bytes, annotations: Mapping[str, str]
) -> str:
    """Attach one document (its media type as the artifact type) to the manifest `subject` names."""
    manifest = registry.manifest(subject)
    if manifest is None:
        raise ReleaseError(f"{registry.repo.name}@{subject} is not in the registry", "push it first; rerunning is safe")
    try:
        return attach(registry, subject_of(manifest), media_type, [Document(media_type, data)], annotations)
    except ReleaseError as exc:
        raise ReleaseError(
            f"could not attach {media_type} to {registry.repo.name}@{subject}: {exc.message}",
            "the registry must accept OCI artifacts (artifactType, subject); what is published stays, and "
            "rerunning attaches what is missing",
        ) from None
