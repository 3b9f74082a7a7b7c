"""Render release notes with jinja2: the bundled template or the user's, errors pointing at its line."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from types import TracebackType

import jinja2

from release.errors import ReleaseError
from release.notes.model import Links, Section


@dataclass(frozen=True)
class NotesInput:
    version: str
    tag: str | None
    previous_version: str | None
    previous_tag: str | None
    date: str  # YYYY-MM-DD
    sections: list[Section]
    links: Links
    component: str | None = None


def default_template() -> str:
    return resources.files("release.notes").joinpath("templates/default.md.j2").read_text(encoding="utf-8")


def render(data: NotesInput, template: Path | None = None) -> str:
    """Markdown notes, ending with exactly one newline."""
    if template is None:
        source, name = default_template(), "default.md.j2"
    else:
        try:
            source, name = template.read_text(encoding="utf-8"), str(template)
        except OSError as exc:
            raise ReleaseError(
                f"cannot read notes template {template}: {exc.strerror}", "check notes.template"
            ) from None
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=False,
    )
    env.filters["linkify"] = data.links.linkify
    try:
        compiled = env.from_string(source)
        compiled.name = name
        compiled.filename = name
    except jinja2.TemplateSyntaxError as exc:
        raise ReleaseError(
            f"{name}:{exc.lineno}: template error: {exc.message}", "fix the template at that line"
        ) from None
    compare = data.links.compare(data.previous_tag, data.tag) if data.previous_tag and data.tag else None
    context = {
        "version": data.version,
        "tag": data.tag,
        "previous": {"version": data.previous_version, "tag": data.previous_tag},
        "date": data.date,
        "component": data.component,
        "compare_url": compare,
        "project_url": data.links.project_url,
        "forge": data.links.forge,
        "sections": data.sections,
        "commits": [asdict(e) | {"group": s.title} for s in data.sections for e in s.entries],
    }
    try:
        text = compiled.render(context)
    except jinja2.TemplateError as exc:
        line = _template_line(sys.exc_info()[2], name)
        where = f"{name}:{line}" if line else name
        raise ReleaseError(f"{where}: template error: {exc}", "fix the template at that line") from None
    return text.rstrip("\n") + "\n"


def _template_line(tb: TracebackType | None, name: str) -> int | None:
    """jinja2 rewrites tracebacks so template frames carry the template's name and line."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in (name, "<template>"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
