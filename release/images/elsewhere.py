"""Images built by another CI job (kaniko, BuildKit, buildah): wait for the version tag, check its commit.

An image is built elsewhere when its entry says `build: elsewhere`, or when the job has no engine at all
(`RELEASE_ENGINE=none`, what the GitLab component's `engine: none` input sets). The images stage then builds
nothing: it polls the registry for the version tag (up to `wait` seconds, a progress line every few seconds),
requires its `org.opencontainers.image.revision` label to be the commit being released, and records its digest
as a build would. Missing after the wait, built from another commit, or unlabelled: one line, and the release
stops before anything is published.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from release.adapters.registry import Registry
from release.config import ImageConfig
from release.errors import ReleaseError

REVISION = "org.opencontainers.image.revision"
POLL_SECONDS = 2.0
PROGRESS_SECONDS = 5.0

Say = Callable[[str], None]


def no_engine(env: Mapping[str, str]) -> bool:
    """RELEASE_ENGINE=none: this job has no container engine; every image comes from another job."""
    return env.get("RELEASE_ENGINE", "").strip().lower() == "none"


def built_elsewhere(image: ImageConfig, env: Mapping[str, str]) -> bool:
    return image.build == "elsewhere" or no_engine(env)


def why(image: ImageConfig) -> str:
    return "build: elsewhere" if image.build == "elsewhere" else "RELEASE_ENGINE=none"


def check_revision(image: ImageConfig, ref: str, labels: Mapping[str, str], head: str) -> None:
    """The image at `ref` must carry this commit's revision label: release never ships another commit's build."""
    revision = labels.get(REVISION)
    if revision is None:
        raise ReleaseError(
            f"image {image.name}: {ref} carries no {REVISION} label, so release cannot tell which commit it was "
            "built from",
            f"have the job that builds it add --label {REVISION}=$CI_COMMIT_SHA (kaniko, buildah, docker buildx)",
        )
    if revision != head:
        raise ReleaseError(
            f"image {image.name}: {ref} was built from commit {revision[:12]}, not {head[:12]} ({why(image)}); "
            "nothing was published",
            "rerun the job that builds the image for this commit, then rerun the release",
        )


def wait_for(
    image: ImageConfig,
    registry: Registry,
    ref: str,
    tag: str,
    head: str,
    say: Say,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """The digest of `ref` once another job has pushed it (checked against `head`), polling up to `image.wait`."""
    start = clock()
    said = start
    say(f"waiting up to {image.wait}s for {ref}, built by another job ({why(image)})")
    while True:
        found = registry.labels(tag)
        if found is not None:
            digest, labels = found
            check_revision(image, ref, labels, head)
            say(f"found {ref} ({digest}), built from {head[:12]}")
            return digest
        now = clock()
        if now - start >= image.wait:
            raise ReleaseError(
                f"image {image.name}: {ref} is not in the registry after waiting {image.wait}s ({why(image)}); "
                "nothing was published",
                f"check that the job building it pushed {ref} for commit {head[:12]}, or raise images[].wait",
            )
        if now - said >= PROGRESS_SECONDS:
            said = now
            say(f"still waiting for {ref}: {int(now - start)}s of {image.wait}s")
        sleep(min(POLL_SECONDS, max(0.1, image.wait - (now - start))))
