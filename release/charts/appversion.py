"""Which appVersion a released chart carries, by the chart's role (pure).

`app_version:` in charts[] of release.yaml:
- unset (or `auto`): by role. An app chart, one that deploys an image this repository builds (its `values:` name an
  `{image.NAME.…}` field, or set a key under `image`), or one with no dependencies, gets the release version. An
  umbrella chart (dependencies, and no image of ours wired into its values) keeps its own appVersion: it names the
  version of what it deploys (e.g. a third-party application at 9.22.1), not the chart's.
- `keep` (or null, or ""): Chart.yaml's appVersion as written, whatever the role.
- any other text: a template (`"{version}"`, `"{major}.{minor}"`) rendered for the release.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from release.config import ChartConfig

AUTO = "auto"
KEEP = "keep"
RELEASE_VERSION = "{version}"


def is_umbrella(chart: ChartConfig, chart_yaml: Mapping[str, Any]) -> bool:
    """Dependencies, and no image of ours wired into the chart's values."""
    if not chart_yaml.get("dependencies"):
        return False
    wired = any("{image." in template for template in chart.values.values())
    return not (wired or any("image" in key.split(".") for key in chart.values))


def template(chart: ChartConfig, chart_yaml: Mapping[str, Any]) -> str | None:
    """The appVersion template to render, or None to keep Chart.yaml's appVersion."""
    setting = chart.app_version
    if setting is None or setting.strip() in ("", KEEP):
        return None
    if setting.strip() == AUTO:
        return None if is_umbrella(chart, chart_yaml) else RELEASE_VERSION
    return setting
