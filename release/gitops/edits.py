"""What a promote writes: the edits of an environment's files (texts in, texts out, byte-preserving) and the
commit message with its trailers."""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from release.config import EnvironmentConfig, UpdateConfig
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


@dataclass(frozen=True)
class Restore(UpdateConfig):
    """An update as a rollback applies it: its paths as an earlier commit held them, literally (no templates);
    what did not exist then is removed (a key `create: true` added, an `images:` entry or block a promote added)."""

    then: dict[str, str] = field(default_factory=dict)  # set: path → the value it held
    remove: dict[str, tuple[str, ...]] = field(default_factory=dict)  # set: key to delete → the paths it may hold
    entry: dict[str, str] | None = None  # image: the entry's configured fields then; None: no entry then
    images_then: bool = True  # image: whether the kustomization had an `images:` key then


def apply_update(text: str, update: UpdateConfig, values: Mapping[str, str], env: str) -> str:
    """`text` with one update applied; only the values' bytes change."""
    where = f"environment {env}, {update.file}"
    if isinstance(update, Restore):
        return _apply_restore(text, update)
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


def values_at(update: UpdateConfig, text: str | None) -> dict[str, str | None]:
    """Every value the update writes, as `text` holds it (None: absent, or no file): named as status shows them,
    `image.tag` or `images[registry.example.com/app].newTag`."""
    if update.image is not None:
        name = update.image.name
        entry = image_entry(text, name, update.file) if text is not None else {}
        return {
            f"images[{name}].{key}": None if entry.get(key) is None else str(entry[key])
            for key in _IMAGE_FIELDS
            if getattr(update.image, key) is not None
        }
    if text is None:
        return dict.fromkeys(update.set)
    return yamledit.get_values(
        text, list(update.set), document=update.document, match=update.match or None, filename=update.file
    )


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


def restore_updates(updates: Sequence[UpdateConfig], read: Callable[[str], str | None], then: str) -> list[Restore]:
    """The updates as a rollback to commit `then` applies them, from the files `read` gives at that commit."""
    out = []
    for update in updates:
        text = read(update.file)
        if text is None:
            raise ReleaseError(
                f"{update.file} did not exist at {then[:12]}; a rollback does not delete files",
                "roll back to a later release (--to VERSION), or remove the file by hand",
            )
        base = {f.name: getattr(update, f.name) for f in dataclasses.fields(UpdateConfig)}
        if update.image is not None:
            entry = image_entry(text, update.image.name, update.file)
            empty = [
                k for k in _IMAGE_FIELDS if getattr(update.image, k) is not None and k in entry and entry[k] is None
            ]
            if empty:
                raise ReleaseError(
                    f"{update.file}: image {update.image.name} {empty[0]} was empty (null) at {then[:12]}; a rollback"
                    " writes strings only",
                    "roll back to another release (--to VERSION), or edit the file by hand",
                )
            fields = {
                k: str(entry[k])
                for k in _IMAGE_FIELDS
                if getattr(update.image, k) is not None and entry.get(k) is not None
            }
            docs = yamledit.load_all(text, update.file)
            had_images = bool(docs) and isinstance(docs[0], dict) and "images" in docs[0]
            out.append(Restore(**base, entry=fields if entry else None, images_then=had_images))
            continue
        values: dict[str, str] = {}
        remove: dict[str, tuple[str, ...]] = {}
        options: dict[str, Any] = {"document": update.document, "match": update.match or None, "filename": update.file}
        for path in update.set:
            gone = yamledit.missing_prefix(text, path, **options)
            if gone is not None:
                remove[gone] = (*remove.get(gone, ()), path)
                continue
            value = yamledit.get_value(text, path, **options)
            if value is None:
                raise ReleaseError(
                    f"{update.file}: {path} was empty (null) at {then[:12]}; a rollback writes strings only",
                    "roll back to another release (--to VERSION), or edit the file by hand",
                )
            values[path] = value
        out.append(Restore(**base, then=values, remove=remove))
    return out


def _apply_restore(text: str, update: Restore) -> str:
    options: dict[str, Any] = {"document": update.document, "match": update.match or None, "filename": update.file}
    if update.image is None:
        if update.then:
            text = yamledit.set_values(text, update.then, create=True, allow_anchor=update.allow_anchor, **options)
        for key, paths in update.remove.items():
            text = yamledit.delete_value(text, key, only=paths, **options)
        return text
    name, entry = update.image.name, update.entry
    if entry is not None:
        if entry:
            text = yamledit.set_kustomize_image(
                text,
                name,
                new_name=entry.get("newName"),
                new_tag=entry.get("newTag"),
                digest=entry.get("digest"),
                filename=update.file,
            )
        now = image_entry(text, name, update.file)
        extra = [k for k in _IMAGE_FIELDS if getattr(update.image, k) is not None and k not in entry and k in now]
        return yamledit.delete_kustomize_image(text, name, fields=extra, filename=update.file) if extra else text
    if not image_entry(text, name, update.file):
        return text
    docs = yamledit.load_all(text, update.file)
    images = docs[0].get("images") if docs and isinstance(docs[0], dict) else None
    if not update.images_then and isinstance(images, list) and len(images) == 1:
        return yamledit.delete_value(text, "images", document=0, filename=update.file)  # the promote added the block
    return yamledit.delete_kustomize_image(text, name, filename=update.file)


DEFAULT_MESSAGE = """chore({{ env }}): {{ action }} {{ app }} \
{% if release_version %}{{ release_version }}{% else %}to the files as of {{ restores[:12] }}{% endif %}
{% if notes %}
{{ notes }}
{% endif %}{% if source or pipeline_url %}
{% if source %}Source commit: {{ source }}
{% endif %}{% if pipeline_url %}Pipeline: {{ pipeline_url }}
{% endif %}{% endif %}"""


# Trailers every commit we write carries (when they have a value), from message()'s fields; see gitops/record.py.
TRAILERS = (
    ("Release-Version", "release_version"),
    ("Release-Source", "source"),
    ("Release-Pipeline", "pipeline_url"),
    ("Release-Environment", "env"),
    ("Release-Rollback-From", "rollback_from"),
    ("Release-Restores", "restores"),
    ("Release-Hold", "hold"),
)
_TRAILER_LINE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*: ")


def message(template: str | None, **fields: Any) -> str:
    """The commit message: the jinja2 template (default: a conventional subject), then the trailers.

    `version` is what the subject names; `release_version` (default: `version`) is what `Release-Version` records,
    empty for a rollback to files no release recorded (`restores`: the commit it restores)."""
    import jinja2

    fields = {"release_version": fields["version"], "rollback_from": "", "restores": "", "hold": "", **fields}
    try:
        text = jinja2.Environment(keep_trailing_newline=True).from_string(template or DEFAULT_MESSAGE).render(**fields)
    except jinja2.TemplateError as exc:
        raise ReleaseError(
            f"environment {fields['env']}: the message template fails: {exc}", "fix `message:`"
        ) from None
    trailers = [f"{key}: {fields[name]}" for key, name in TRAILERS if fields.get(name)]
    return with_trailers(text, trailers)


def with_trailers(text: str, trailers: Sequence[str]) -> str:
    """`text` ending with `trailers`: those it does not hold yet, added to its last paragraph when that is a trailer
    block already (git reads only the last paragraph), else as a new paragraph."""
    missing = [t for t in trailers if t.split(":")[0] + ":" not in text]
    text = text.rstrip("\n")
    if not missing:
        return text + "\n"
    last = text.rsplit("\n\n", 1)[-1] if "\n\n" in text else ""
    if last and all(_TRAILER_LINE.match(line) for line in last.splitlines()):
        return text + "\n" + "\n".join(missing) + "\n"
    return text + "\n\n" + "\n".join(missing) + "\n"
