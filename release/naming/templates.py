"""`{field}` templates over a flat map of known values: `{version}`, `{image.app.digest}`, `{chart.app.version}`.

Not str.format: names may hold dashes and dots (`{image.demo-app.digest}`), and an unknown field must be a
clear error that lists what is known rather than a KeyError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from release.errors import ReleaseError

FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def fields(template: str) -> list[str]:
    return [m[1] for m in FIELD.finditer(template) if m[1] is not None]


def render(template: str, values: Mapping[str, str], where: str = "template") -> str:
    def replace(match: re.Match[str]) -> str:
        if match[0] in ("{{", "}}"):
            return match[0][0]
        name = match[1].strip()
        if name not in values:
            known = ", ".join(sorted(values)) or "none"
            raise ReleaseError(f"{where}: unknown field {{{name}}} in {template!r}", f"known fields: {known}")
        return values[name]

    return FIELD.sub(replace, template)
