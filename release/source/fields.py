"""The `{fields}` templates in release.yaml can use: the release's version parts and what was published.

`{version}`, `{major}`, `{sha}` …; `{image.NAME.repository|digest|tag|ref}` for every image pushed;
`{chart.NAME.version|app_version|digest}` for every chart published (`digest`: its OCI manifest's, when it went to
an OCI registry).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import semver

from release.naming.imageref import ReleaseFacts, template_values

if TYPE_CHECKING:
    from release.context import Context
    from release.versioning.plan import Plan

IMAGE_FIELDS = ("repository", "digest", "tag", "ref")
CHART_FIELDS = ("version", "app_version")  # and `digest`, for a chart published to an OCI registry


def release_fields(ctx: Context, version: semver.Version) -> dict[str, str]:
    """The fields of the release this run makes: its version, HEAD, and the images and charts in the State."""
    values = template_values(ReleaseFacts(version, ctx.git.head() or "", ctx.branch()))
    return values | artifact_fields(ctx.state.images, ctx.state.charts)


def artifact_fields(images: Iterable[Mapping[str, Any]], charts: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """`image.*` and `chart.*` fields from entries shaped as the State records them."""
    values: dict[str, str] = {}
    for image in images:
        name = image["name"]
        values[f"image.{name}.repository"] = image["repository"]
        values[f"image.{name}.digest"] = image.get("digest") or ""
        values[f"image.{name}.tag"] = (image.get("tags") or [""])[0]
        values[f"image.{name}.ref"] = f"{image['repository']}@{image.get('digest')}"
    for chart in charts:
        values[f"chart.{chart['name']}.version"] = str(chart.get("version") or "")
        values[f"chart.{chart['name']}.app_version"] = str(chart.get("app_version") or "")
        digest = oci_digest(chart)
        if digest:
            values[f"chart.{chart['name']}.digest"] = digest
    return values


def oci_digest(chart: Mapping[str, Any]) -> str | None:
    """The manifest digest of a chart entry's first OCI ref (every OCI target holds the same manifest)."""
    digests = chart.get("digests") or {}
    return next((str(d) for ref, d in sorted(digests.items()) if ref.startswith("oci://") and d), None)


def fields_for(ctx: Context, plan: Plan) -> dict[str, str]:
    """What chart templates can use: the release's fields and every image recorded in the State."""
    assert plan.next_version is not None
    return release_fields(ctx, plan.next_version)
