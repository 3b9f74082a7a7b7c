"""What an environment's version is made of, as its registries hold it: for `release status --json`.

For the version an environment's record names: each image's digest (gitops/resolve.py: the State when it is that
version's, else the registries), the platforms of a multi-platform index, and every artifact attached to it (SBOM,
provenance, signature bundles) as the referrers API or its `sha256-<hex>` tag fallback lists them; the same for each
OCI chart. Read-only: nothing is pushed, and a registry that cannot be read makes this part unknown, not status fail.
"""

from __future__ import annotations

from typing import Any

import semver

from release.adapters import referrers
from release.adapters.registry import Manifest, Registry
from release.charts.build import registry_for
from release.charts.publish import oci_target
from release.context import Context
from release.gitops import resolve
from release.images.platforms import published_platforms
from release.naming.imageref import Repository

UNKNOWN = "unknown/unknown"  # an index entry that is no platform's image (buildx's attestation manifests)


def of_version(ctx: Context, version: str) -> dict[str, Any]:
    """{"images": [...], "charts": [...]} for `version`, or {"unknown": why} when it cannot be read."""
    try:
        parsed = semver.Version.parse(version)
    except ValueError:
        return {"unknown": f"{version} is not a release version"}
    values = resolve.released(ctx, parsed).values
    images = []
    for name in _names(values, "image", "digest"):
        repo = Repository.parse(values[f"image.{name}.repository"])
        digest = values[f"image.{name}.digest"]
        registry = registry_for(ctx, repo)
        described = _described(registry, digest, registry.manifest(digest))
        images.append({"name": name, "repository": repo.name, **described})
    charts = []
    for name in _names(values, "chart", "digest"):
        digest = values[f"chart.{name}.digest"]
        for repo in _chart_repositories(ctx, name):
            registry = registry_for(ctx, repo)
            manifest = registry.manifest(digest)
            if manifest is not None:
                charts.append({"name": name, "repository": repo.name, **_described(registry, digest, manifest)})
                break
    return {"images": images, "charts": charts}


def _names(values: dict[str, str], kind: str, field: str) -> list[str]:
    prefix, suffix = f"{kind}.", f".{field}"
    keys = [k for k, v in values.items() if v and k.startswith(prefix) and k.endswith(suffix)]
    return sorted(k[len(prefix) : -len(suffix)] for k in keys)


def _chart_repositories(ctx: Context, name: str) -> list[Repository]:
    targets = [t for chart in ctx.config.charts for t in chart.publish if t.startswith("oci://")]
    return [oci_target(target, name)[0] for target in targets]


def _described(registry: Registry, digest: str, manifest: Manifest | None) -> dict[str, Any]:
    found = published_platforms(manifest) if manifest is not None else {}
    attached = [
        {"type": str(e.get("artifactType") or ""), "digest": str(e.get("digest") or "")}
        for e in referrers.listed(registry, digest)
    ]
    return {"digest": digest, "platforms": [p for p in found if p != UNKNOWN], "attached": attached}
