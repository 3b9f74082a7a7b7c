"""Pure: the OCI documents release writes itself for multi-platform images: image manifests and indexes.

Bytes are compact JSON with keys in the order the OCI image spec lists them, so the same content always gives the
same digest (a rerun writes the same index, and the registry's answer can be compared byte for byte).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

IMAGE_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
IMAGE_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: str | None = None  # os/arch[/variant], in an index entry
    artifact_type: str | None = None
    annotations: Mapping[str, str] | None = None

    @classmethod
    def of(cls, media_type: str, data: bytes, **more: Any) -> Descriptor:
        return cls(media_type, digest(data), len(data), **more)

    def json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.artifact_type:
            found["artifactType"] = self.artifact_type
        if self.platform:
            found["platform"] = platform_json(self.platform)
        if self.annotations:
            found["annotations"] = dict(sorted(self.annotations.items()))
        return found


def platform_json(platform: str) -> dict[str, str]:
    os_name, arch, *variant = platform.split("/")
    found = {"architecture": arch, "os": os_name}
    if variant:
        found["variant"] = variant[0]
    return found


def platform_of(entry: Mapping[str, Any]) -> str:
    """os/arch[/variant] of an index entry ("unknown/unknown" for attestation entries that declare none)."""
    found = entry.get("platform") or {}
    parts = [found.get("os") or "unknown", found.get("architecture") or "unknown"]
    return "/".join(parts + ([found["variant"]] if found.get("variant") else []))


def same_platform(got: str, wanted: str) -> bool:
    """linux/arm64 is linux/arm64/v8; a variant asked for must be the one built."""
    defaults = {"arm64": "v8"}

    def full(platform: str) -> tuple[str, ...]:
        parts = platform.split("/")
        if len(parts) == 2 and parts[1] in defaults:
            parts.append(defaults[parts[1]])
        return tuple(parts)

    return full(got) == full(wanted) or (len(wanted.split("/")) == 2 and full(got)[:2] == full(wanted)[:2])


def gzip_layer(tar: bytes) -> bytes:
    """A layer compressed the same way every time (no name, mtime 0), so a rebuilt layer has the same digest."""
    return gzip.compress(tar, compresslevel=6, mtime=0)


def image_manifest(config: bytes, layers: Sequence[Descriptor], annotations: Mapping[str, str] | None = None) -> bytes:
    body: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": IMAGE_MANIFEST,
        "config": Descriptor.of(IMAGE_CONFIG, config).json(),
        "layers": [layer.json() for layer in layers],
    }
    if annotations:
        body["annotations"] = dict(sorted(annotations.items()))
    return dump(body)


def image_index(manifests: Sequence[Descriptor], annotations: Mapping[str, str] | None = None) -> bytes:
    """An OCI image index, the way `docker buildx imagetools create` writes one (one entry per platform)."""
    body: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": IMAGE_INDEX,
        "manifests": [m.json() for m in manifests],
    }
    if annotations:
        body["annotations"] = dict(sorted(annotations.items()))
    return dump(body)
