"""Multi-platform images (`images[].platforms`): one build per platform through the engine, each pushed by digest,
then one OCI image index under every tag, the version tag last (what `docker buildx imagetools create` does).

The engine's layer cache does not know platforms: Podman hands back the linux/amd64 image for an identical
FROM-scratch linux/arm64 build. Each build's config is checked, and a build of the wrong platform is done again
without the cache. A platform the engine runs only under emulation (a RUN step of another architecture) fails in
one line naming it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release.adapters import engine
from release.adapters.registry import Manifest, Registry
from release.config import ImageConfig
from release.errors import ReleaseError
from release.images import oci

Say = Callable[[str], None]
EMULATION_SIGNS = ("exec format error", "exec user process caused", "cannot execute binary file")


@dataclass
class Built:
    platform: str
    image_id: str
    descriptor: oci.Descriptor | None = None  # once pushed


def local_tag(tag: str, platform: str) -> str:
    """The engine-local tag of one platform's build (never pushed): 1.2.3-linux-arm64."""
    return f"{tag}-{platform.replace('/', '-')}"


def build_all(
    eng: engine.Engine,
    image: ImageConfig,
    build: Callable[..., str],
    ref: str,
    say: Say,
) -> list[Built]:
    """Build every platform (the engine's own first, so a RUN step that fails everywhere is reported as such).

    `build(tag=…, platform=…, nocache=…)` is the engine build with the image's context, args and labels bound."""
    native = eng.native_platform()
    order = sorted(image.platforms, key=lambda p: not oci.same_platform(native, p))
    built = {p: Built(p, build_one(eng, image, build, ref, p, native, say)) for p in order}
    return [built[p] for p in image.platforms]


def build_one(
    eng: engine.Engine, image: ImageConfig, build: Callable[..., str], ref: str, platform: str, native: str, say: Say
) -> str:
    tag = local_tag(ref, platform)
    try:
        image_id = build(tag=tag, platform=platform, nocache=False)
        got = eng.image_platform(image_id)
        if not oci.same_platform(got, platform):
            say(f"the engine's cache gave a {got} image for {platform}: building {image.name} again without it")
            image_id = build(tag=tag, platform=platform, nocache=True)
    except engine.BuildFailed as exc:
        if not oci.same_platform(native, platform) and needs_emulation(exc):
            raise ReleaseError(
                f"image {image.name}: platform {platform} needs emulation: the engine ({native}) cannot run its "
                f"RUN steps ({exc.message})",
                f"register qemu-user-static (binfmt_misc) on the engine's host, or remove {platform} from "
                "images[].platforms",
            ) from None
        raise
    got = eng.image_platform(image_id)
    if not oci.same_platform(got, platform):
        raise ReleaseError(
            f"image {image.name}: the engine built {got} when asked for {platform}",
            "use an engine that honours the build's platform (Docker with BuildKit, Podman 4 or later)",
        )
    return image_id


def needs_emulation(exc: engine.BuildFailed) -> bool:
    text = "\n".join([exc.message, *exc.output]).lower()
    return any(sign in text for sign in EMULATION_SIGNS)


def push_platform(eng: engine.Engine, registry: Registry, built: Built) -> oci.Descriptor:
    """Export one platform's image from the engine and push its blobs and manifest by digest (no tag)."""
    with tempfile.TemporaryDirectory(prefix="release-image-") as tmp:
        archive = eng.export(built.image_id, Path(tmp))
        layers = []
        for path in archive.layers:
            data = oci.gzip_layer(path.read_bytes())
            registry.upload_blob(data)
            layers.append(oci.Descriptor.of(oci.LAYER_GZIP, data))
        registry.upload_blob(archive.config)
    body = oci.image_manifest(archive.config, layers)
    registry.put_manifest(oci.digest(body), body, oci.IMAGE_MANIFEST)
    return oci.Descriptor.of(oci.IMAGE_MANIFEST, body, platform=built.platform)


def push_index(
    registry: Registry,
    manifests: Sequence[oci.Descriptor],
    tags: Sequence[str],
    version_tag: str,
    annotations: Mapping[str, str],
    say: Say,
) -> str:
    """One index under every tag, the version tag last; returns its digest."""
    body = oci.image_index(manifests, annotations)
    for tag in [t for t in tags if t != version_tag] + [version_tag]:
        say(f"pushing {registry.repo.name}:{tag} (index of {', '.join(m.platform or '' for m in manifests)})")
        registry.put_manifest(tag, body, oci.IMAGE_INDEX)
    return oci.digest(body)


def published_platforms(manifest: Manifest) -> dict[str, str]:
    """platform → manifest digest of a published index; {} for a single-platform image."""
    if manifest.media_type not in (oci.IMAGE_INDEX, "application/vnd.docker.distribution.manifest.list.v2+json"):
        return {}
    entries: list[dict[str, Any]] = manifest.body.get("manifests") or []
    return {oci.platform_of(e): str(e.get("digest")) for e in entries if "platform" in e}


def check_same_platforms(image: ImageConfig, ref: str, found: Manifest) -> dict[str, str]:
    """A rerun finds the index published from this commit: it must hold the platforms asked for."""
    published = published_platforms(found)
    wanted = list(image.platforms)
    if sorted(published) == sorted(wanted) or (
        len(published) == len(wanted) and all(any(oci.same_platform(p, w) for p in published) for w in wanted)
    ):
        return published
    have = ", ".join(sorted(published)) or "a single-platform image"
    raise ReleaseError(
        f"{ref} is already published from this commit with {have}, not {', '.join(wanted)}; "
        "a released version is never overwritten",
        "release a new version for the new platforms, or pass --force to replace it",
    )
