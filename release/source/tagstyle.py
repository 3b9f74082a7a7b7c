"""Without a release.yaml, the tag format is read from the tags: `v1.2.3` (the default) or bare `1.2.3`.

podinfo's history holds 15 tags like v1.8.0 and 94 newer ones like 6.14.1: the default format alone would
plan 1.9.0 from v1.8.0. The format holding the highest release wins (unless it is one stray tag), and a mix is
said out loud."""

from __future__ import annotations

import dataclasses

import semver

from release.context import Context
from release.versioning.tags import TagFormat, TagRef

CANDIDATES = ("v{version}", "{version}")  # the default first: it wins a tie


def settle(ctx: Context, refs: list[TagRef]) -> None:
    """Without a config file, set `versioning.tag_format` to the candidate holding the highest release."""
    config = ctx.config
    if config.source is not None or config.components or config.versioning.tag_format != CANDIDATES[0]:
        return
    if not any(ref.name[:1].isdigit() for ref in refs):
        return  # no bare-version tag: the default stands (and 10,000 tags are not parsed twice)
    seen: dict[str, list[semver.Version]] = {}
    for template in CANDIDATES:
        fmt = TagFormat(template)
        versions = [v for ref in refs if (v := fmt.parse(ref.name)) is not None and not v.prerelease]
        if versions:
            seen[template] = versions
    if not seen or list(seen) == [CANDIDATES[0]]:
        return
    top = max(seen, key=lambda t: max(seen[t]))
    # One stray tag (a `1.9.0` pushed by hand) does not switch a history of v-tags to its format.
    chosen = top if len(seen[top]) > 1 or CANDIDATES[0] not in seen else CANDIDATES[0]
    if chosen != config.versioning.tag_format:
        versioning = dataclasses.replace(config.versioning, tag_format=chosen)
        ctx.config = dataclasses.replace(config, versioning=versioning)
    if len(seen) > 1:
        formats = ", ".join(
            f"{len(v)} like {TagFormat(t).format('1.2.3')} (up to {TagFormat(t).format(max(v))})"
            for t, v in sorted(seen.items(), key=lambda item: -len(item[1]))
        )
        ctx.say(
            f"warning: no release.yaml, and the release tags mix formats: {formats}; planning from "
            f"{TagFormat(chosen).format(max(seen[chosen]))}, tag_format {chosen!r} (set versioning.tag_format in "
            "release.yaml to choose)"
        )
