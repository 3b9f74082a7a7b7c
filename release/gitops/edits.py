"""What a promote writes: the edits of an environment's files (texts in, texts out, byte-preserving) and the
commit message with its trailers."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from release.config import EnvironmentConfig, KustomizeImageConfig, UpdateConfig
from release.errors import ReleaseError
from release.naming import templates
from release.yaml import edit as yamledit

_IMAGE_FIELDS = ("newName", "newTag", "digest")


@dataclass(frozen=True)
class FileEdit:
    file: str
    old: str
    new: str

    @property
    def changed(self) -> bool:
        return self.old != self.new

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.old.splitlines(keepends=True),
                self.new.splitlines(keepends=True),
                f"a/{self.file}",
                f"b/{self.file}",
            )
        )


def _render(template: str | None, values: Mapping[str, str], where: str) -> str | None:
    return None if template is None else templates.render(template, values, where)


def apply_update(text: str, update: UpdateConfig, values: Mapping[str, str], env: str) -> str:
    """`text` with one update applied; only the values' bytes change."""
    where = f"environment {env}, {update.file}"
    if update.image is not None:
        image = update.image
        return yamledit.set_kustomize_image(
            text,
            image.name,
            new_name=_render(image.newName, values, where),
            new_tag=_render(image.newTag, values, where),
            digest=_render(image.digest, values, where),
            filename=update.file,
        )
    rendered = {path: templates.render(t, values, where) for path, t in update.set.items()}
    return yamledit.set_values(
        text,
        rendered,
        document=update.document,
        match=update.match or None,
        create=update.create,
        allow_anchor=update.allow_anchor,
        filename=update.file,
    )


def plan_edits(
    env: EnvironmentConfig,
    updates: Sequence[UpdateConfig],
    read: Callable[[str], str | None],
    values: Mapping[str, str],
    where: str,
) -> list[FileEdit]:
    """One FileEdit per file, in the order the updates first name them, every update applied in turn."""
    texts: dict[str, tuple[str, str]] = {}
    for update in updates:
        if update.file not in texts:
            old = read(update.file)
            if old is None:
                raise ReleaseError(
                    f"environment {env.name}: {update.file} does not exist in {where}",
                    "check the path in release.yaml (relative to the infra repository's top)",
                )
            texts[update.file] = (old, old)
        old, current = texts[update.file]
        texts[update.file] = (old, apply_update(current, update, values, env.name))
    return [FileEdit(file, old, new) for file, (old, new) in texts.items()]


def image_entry(text: str, name: str, filename: str = "kustomization.yaml") -> dict[str, Any]:
    """The Kustomize `images:` entry for `name` ({} when there is none)."""
    docs = yamledit.load_all(text, filename)  # a file that is not YAML is a ReleaseError naming it
    data = docs[0] if docs else None
    images = data.get("images") if isinstance(data, dict) else None
    for entry in images if isinstance(images, list) else []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    return {}


def current_value(update: UpdateConfig, text: str) -> str | None:
    """What the update's first value is now: the version an environment holds, for `status` and rollback."""
    if update.image is not None:
        entry = image_entry(text, update.image.name, update.file)
        for key in ("newTag", "digest", "newName"):
            if getattr(update.image, key) is not None and entry.get(key) is not None:
                return str(entry[key])
        return None
    path = next(iter(update.set))
    return yamledit.get_value(text, path, document=update.document, match=update.match or None, filename=update.file)


def mismatches(
    updates: Sequence[UpdateConfig], read: Callable[[str], str | None], values: Mapping[str, str]
) -> list[str]:
    """Where the files do not hold the rendered values (for `after:` gating); [] when they all do."""
    out = []
    for update in updates:
        text = read(update.file)
        if text is None:
            out.append(f"{update.file} does not exist")
            continue
        if update.image is not None:
            entry = image_entry(text, update.image.name, update.file)
            for key in _IMAGE_FIELDS:
                wanted = _render(getattr(update.image, key), values, update.file)
                if wanted is not None and str(entry.get(key)) != wanted:
                    out.append(f"{update.file}: image {update.image.name} {key} is {entry.get(key)!r}, not {wanted!r}")
            continue
        for path, template in update.set.items():
            wanted = templates.render(template, values, update.file)
            have = yamledit.get_value(
                text, path, document=update.document, match=update.match or None, filename=update.file
            )
            if have != wanted:
                out.append(f"{update.file}: {path} is {have!r}, not {wanted!r}")
    return out


def _literal(value: str) -> str:
    return value.replace("{", "{{").replace("}", "}}")


def literal_updates(updates: Sequence[UpdateConfig], read: Callable[[str], str | None]) -> list[UpdateConfig]:
    """The updates with the values their files hold in `read` (an older commit) as literal templates."""
    out = []
    for update in updates:
        text = read(update.file)
        if text is None:
            continue
        if update.image is not None:
            entry = image_entry(text, update.image.name, update.file)
            given = {
                k: _literal(str(entry[k]))
                for k in _IMAGE_FIELDS
                if getattr(update.image, k) is not None and entry.get(k) is not None
            }
            if given:
                out.append(dataclasses.replace(update, image=KustomizeImageConfig(update.image.name, **given)))
            continue
        old = {}
        for path in update.set:
            have = yamledit.get_value(
                text, path, document=update.document, match=update.match or None, filename=update.file
            )
            if have is not None:
                old[path] = _literal(have)
        if old:
            out.append(dataclasses.replace(update, set=old))
    return out


DEFAULT_MESSAGE = """chore({{ env }}): {{ action }} {{ app }} {{ version }}
{% if notes %}
{{ notes }}
{% endif %}{% if source or pipeline_url %}
{% if source %}Source commit: {{ source }}
{% endif %}{% if pipeline_url %}Pipeline: {{ pipeline_url }}
{% endif %}{% endif %}"""


def message(template: str | None, **fields: Any) -> str:
    """The commit message: the jinja2 template (default: a conventional subject), then the trailers."""
    import jinja2

    try:
        text = jinja2.Environment(keep_trailing_newline=True).from_string(template or DEFAULT_MESSAGE).render(**fields)
    except jinja2.TemplateError as exc:
        raise ReleaseError(
            f"environment {fields['env']}: the message template fails: {exc}", "fix `message:`"
        ) from None
    trailers = [f"Release-Version: {fields['version']}"]
    if fields.get("source"):
        trailers.append(f"Release-Source: {fields['source']}")
    missing = [t for t in trailers if t.split(":")[0] + ":" not in text]
    return text.rstrip("\n") + ("\n\n" + "\n".join(missing) if missing else "") + "\n"
