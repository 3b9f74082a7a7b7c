"""Supply-chain documents attached to a published image in its registry: an SBOM per platform (syft on the pushed
image, or the user's file) and an in-toto SLSA provenance statement, each an OCI artifact whose `subject` is the
image's digest (adapters/referrers.py: the referrers API, or the `sha256-<hex>` tag where the registry lacks it).

Attached after the image is pushed, and looked for first: a rerun finds what is attached and adds only what is
missing, so a run that stopped half-way is finished by the next one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from release.adapters import referrers, syft
from release.adapters.credentials import Credentials
from release.adapters.registry import Registry
from release.config import ImageConfig
from release.context import Context
from release.errors import ReleaseError
from release.source import provenance

Say = Callable[[str], None]
SBOM_TYPES = {"spdx": "application/spdx+json", "cyclonedx": "application/vnd.cyclonedx+json"}
CREATED = "org.opencontainers.image.created"


@dataclass
class Target:
    """A published image: its registry, the digest its tags name and, for an index, each platform's digest."""

    image: ImageConfig
    registry: Registry
    credentials: Credentials | None
    digest: str
    platforms: Mapping[str, str] = field(default_factory=dict)
    build_args: Mapping[str, str] = field(default_factory=dict)
    started: str | None = None  # when its build started and ended, if this run built it
    finished: str | None = None
    statement: bytes | None = None  # the provenance statement attached (made now, or read back), for signing

    @property
    def name(self) -> str:
        return self.registry.repo.name


def wanted(image: ImageConfig) -> bool:
    return bool(image.sbom) or image.provenance


def sbom_format(image: ImageConfig) -> str | None:
    """spdx or cyclonedx when syft makes the SBOM; None when a file is given or none is wanted."""
    if image.sbom is True:
        return "spdx"
    if isinstance(image.sbom, str) and image.sbom in SBOM_TYPES:
        return image.sbom
    return None


def check(ctx: Context, image: ImageConfig) -> None:
    """Before anything is built: syft is there, or the user's SBOM file is and says what it is."""
    if sbom_format(image):
        syft.binary(ctx.env)
    elif isinstance(image.sbom, str):
        sbom_file(ctx, image)


def sbom_file(ctx: Context, image: ImageConfig) -> tuple[str, bytes]:
    """(media type, bytes) of the user's SBOM file: SPDX or CycloneDX JSON."""
    path = ctx.root / str(image.sbom)
    if not path.is_file():
        raise ReleaseError(f"image {image.name}: no SBOM file {image.sbom}", "fix images[].sbom, or set sbom: true")
    data = path.read_bytes()
    try:
        document = json.loads(data)
    except ValueError:
        document = None
    if isinstance(document, dict) and "spdxVersion" in document:
        return SBOM_TYPES["spdx"], data
    if isinstance(document, dict) and document.get("bomFormat") == "CycloneDX":
        return SBOM_TYPES["cyclonedx"], data
    raise ReleaseError(
        f"image {image.name}: {image.sbom} is not an SPDX or CycloneDX JSON document",
        "give an SPDX JSON (spdxVersion) or CycloneDX JSON (bomFormat) file, or set sbom: true for syft",
    )


now = provenance.now


def attach(ctx: Context, target: Target, say: Say) -> list[dict[str, Any]]:
    """Attach what the image asks for and is not attached yet; returns every attached document's reference."""
    found: list[dict[str, Any]] = []
    if target.image.sbom:
        found += attach_sboms(ctx, target, say)
    if target.image.provenance:
        found.append(attach_provenance(ctx, target, say))
    return found


def attach_sboms(ctx: Context, target: Target, say: Say) -> list[dict[str, Any]]:
    fmt = sbom_format(target.image)
    per_platform = fmt is not None and target.platforms
    subjects: dict[str | None, str] = {None: target.digest}
    if per_platform:
        subjects = {platform: digest for platform, digest in target.platforms.items()}
    done = []
    for platform, subject in subjects.items():
        what = f"{target.name}@{subject[:19]}" + (f" ({platform})" if platform else "")
        artifact = referrers.find(target.registry, subject, set(SBOM_TYPES.values()), {})
        if artifact:
            say(f"found the SBOM of {what}: {artifact}")
        else:
            if fmt:
                say(f"making the SBOM of {what} with syft ({fmt})")
                media_type = SBOM_TYPES[fmt]
                data = syft.scan(
                    f"{target.name}@{subject}",
                    platform,
                    credentials=target.credentials,
                    plain_http=target.registry.plain_http,
                    fmt=fmt,
                    env=ctx.env,
                )
            else:
                media_type, data = sbom_file(ctx, target.image)
            artifact = referrers.attach_document(target.registry, subject, media_type, data, {CREATED: now()})
            say(f"attached the SBOM of {what}: {artifact}")
        done.append({"kind": "sbom", "platform": platform, "subject": subject, "digest": artifact})
    return done


def attach_provenance(ctx: Context, target: Target, say: Say) -> dict[str, Any]:
    predicate = provenance.PREDICATE_TYPE
    artifact = referrers.find(
        target.registry, target.digest, {provenance.MEDIA_TYPE}, {provenance.PREDICATE_ANNOTATION: predicate}
    )
    if artifact:
        say(f"found the provenance of {target.name}@{target.digest[:19]}: {artifact}")
        target.statement = referrers.document(target.registry, artifact)
    else:
        image = target.image
        parameters: dict[str, Any] = {
            "context": image.context,
            "dockerfile": image.dockerfile,
            "buildArgs": dict(target.build_args),
        }
        if image.target:
            parameters["target"] = image.target
        if image.platforms:
            parameters["platforms"] = list(image.platforms)
        data = provenance.statement(
            ctx,
            name=target.name,
            digest=target.digest,
            build_type=provenance.IMAGE_BUILD_TYPE,
            parameters=parameters,
            started=target.started,
            finished=target.finished,
        )
        notes = {CREATED: now(), provenance.PREDICATE_ANNOTATION: predicate}
        artifact = referrers.attach_document(target.registry, target.digest, provenance.MEDIA_TYPE, data, notes)
        target.statement = data
        say(f"attached the provenance of {target.name}@{target.digest[:19]}: {artifact}")
    return {"kind": "provenance", "platform": None, "subject": target.digest, "digest": artifact}
