"""Render release notes with jinja2: the bundled template or the user's, errors pointing at its line."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import TracebackType

import jinja2

from release.errors import ReleaseError
from release.notes.model import Entry, Links, Section


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
    hidden: list[Entry] = field(default_factory=list)  # the commits no section shows, for templates
    style: str = "default"  # the bundled template: default.md.j2 or release-please.md.j2
    artifacts: list[dict[str, object]] = field(default_factory=list)  # what was published (source.notes.artifacts)


def default_template(style: str = "default") -> str:
    return resources.files("release.notes").joinpath(f"templates/{style}.md.j2").read_text(encoding="utf-8")


def render(data: NotesInput, template: Path | None = None) -> str:
    """Markdown notes, ending with exactly one newline."""
    if template is None:
        source, name = default_template(data.style), f"{data.style}.md.j2"
    else:
        source, name = _read_template(template)
    compiled = _compile(source, name, template, data.links)
    context = _context(data)
    try:
        text = compiled.render(context)
    except jinja2.TemplateSyntaxError as exc:  # in an included template, compiled only now
        where = f"{exc.filename or name}:{exc.lineno}"
        raise ReleaseError(
            f"{where}: template error: {_one_line(exc.message)}", "fix the template at that line"
        ) from None
    except Exception as exc:  # a user's template can fail in any way (1 + "a", 1 // 0): their error, not ours
        if template is None:
            raise  # the bundled template failing is our bug
        where = _template_where(sys.exc_info()[2], name)
        message = str(exc) if isinstance(exc, jinja2.TemplateError) else f"{type(exc).__name__}: {exc}"
        raise ReleaseError(f"{where}: template error: {_one_line(message)}", "fix the template at that line") from None
    return text.rstrip("\n") + "\n"


def _read_template(template: Path) -> tuple[str, str]:
    """A user's template: its text, and the name its errors are reported under."""
    try:
        return template.read_text(encoding="utf-8"), str(template)
    except OSError as exc:
        raise ReleaseError(f"cannot read notes template {template}: {exc.strerror}", "check notes.template") from None
    except UnicodeDecodeError as exc:
        raise ReleaseError(
            f"cannot read notes template {template}: not UTF-8 text ({exc.reason})", "save it as UTF-8"
        ) from None


def _compile(source: str, name: str, template: Path | None, links: Links) -> jinja2.Template:
    """The template compiled under `name`, so that errors and tracebacks point at its file and line."""
    env = jinja2.Environment(
        # User templates may {% include %} / {% import %} files next to them.
        loader=jinja2.FileSystemLoader(str(template.parent)) if template is not None else None,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=False,
    )
    env.filters["linkify"] = links.linkify
    try:
        compiled = env.from_string(source)
        compiled.name = name
        compiled.filename = name
    except jinja2.TemplateSyntaxError as exc:
        raise ReleaseError(
            f"{name}:{exc.lineno}: template error: {_one_line(exc.message)}", "fix the template at that line"
        ) from None
    return compiled


def _context(data: NotesInput) -> dict[str, object]:
    """The variables a notes template sees."""
    compare = data.links.compare(data.previous_tag, data.tag) if data.previous_tag and data.tag else None
    return {
        "version": data.version,
        "tag": data.tag,
        "previous": {"version": data.previous_version, "tag": data.previous_tag},
        "date": data.date,
        "component": data.component,
        "compare_url": compare,
        "project_url": data.links.project_url,
        "forge": data.links.forge,
        "sections": data.sections,
        # every commit: those the sections show (breaking ones twice, as they are shown), then the hidden ones
        "commits": [{**vars(e), "group": s.title} for s in data.sections for e in s.entries]
        + [vars(e) for e in data.hidden],
        "artifacts": data.artifacts,
    }


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _template_where(tb: TracebackType | None, name: str) -> str:
    """`file:line` of the innermost template frame. jinja2 rewrites tracebacks so that template frames carry
    the template's file and line, and a code name saying where in the template they are."""
    where = name
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name in ("template", "top-level template code") or code.co_name.startswith("block "):
            filename = name if code.co_filename == "<template>" else code.co_filename
            where = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where
