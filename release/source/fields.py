"""The `{fields}` templates in release.yaml can use: the release's version parts and what the State recorded.

`{version}`, `{major}`, `{sha}` …; `{image.NAME.repository|digest|tag|ref}` for every image pushed;
`{chart.NAME.version|app_version}` for every chart published.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import semver

from release.naming.imageref import ReleaseFacts, template_values

if TYPE_CHECKING:
    from release.context import Context
    from release.versioning.plan import Plan


def release_fields(ctx: Context, version: semver.Version) -> dict[str, str]:
    values = template_values(ReleaseFacts(version, ctx.git.head() or "", ctx.branch()))
    for image in ctx.state.images:
        name = image["name"]
        values[f"image.{name}.repository"] = image["repository"]
        values[f"image.{name}.digest"] = image.get("digest") or ""
        values[f"image.{name}.tag"] = (image.get("tags") or [""])[0]
        values[f"image.{name}.ref"] = f"{image['repository']}@{image.get('digest')}"
    for chart in ctx.state.charts:
        values[f"chart.{chart['name']}.version"] = str(chart.get("version") or "")
        values[f"chart.{chart['name']}.app_version"] = str(chart.get("app_version") or "")
    return values


def fields_for(ctx: Context, plan: Plan) -> dict[str, str]:
    """What chart templates can use: the release's fields and every image recorded in the State."""
    assert plan.next_version is not None
    return release_fields(ctx, plan.next_version)
