"""Release notes of this repository: for a plan, for any range, and the notes files later stages attach."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import Any

from release.ciinfo import forge_of, web_url
from release.config import ComponentConfig
from release.context import Context
from release.errors import ReleaseError
from release.notes import model
from release.notes.model import Links, pull_requests
from release.notes.render import NotesInput, render
from release.source import history
from release.source import plans as planning
from release.source.fields import oci_digest
from release.versioning import plan as planner
from release.versioning.commits import ParsedCommit, drop_reverted_pairs, header_of, parse
from release.versioning.plan import Channel, Plan
from release.versioning.tags import ReleaseTag, TagFormat


def links(ctx: Context) -> Links:
    """Where the notes link to (commits, compare, pull/merge requests, issues), worked out once per run."""
    if "notes-links" in ctx.cache:
        found: Links = ctx.cache["notes-links"]
        return found
    cfg = ctx.config.notes
    url = cfg.url or ctx.ci.project_url or web_url(ctx.git.remote_url())
    if cfg.forge == "none":
        found = Links(None, None)
    else:
        forge = cfg.forge or forge_of(url, ctx.env)
        if forge is None and ctx.ci.provider in ("gitlab", "github") and ctx.ci.project_url:
            forge = ctx.ci.provider
        found = Links(url.rstrip("/") if url else None, forge)
    ctx.cache["notes-links"] = found
    return found


def links_off(ctx: Context) -> str | None:
    """The one line saying that links are off and how to turn them on, when notes.url or the origin remote is not
    a forge we know (a file path, an unknown host); None when links are on, turned off, or there is no remote."""
    cfg = ctx.config.notes
    if links(ctx).forge is not None or cfg.forge == "none":
        return None
    remote = ctx.git.remote_url()
    if not (remote or cfg.url):
        return None
    where = f"notes.url ({cfg.url})" if cfg.url else f"the origin remote ({_shown(remote or '')})"
    return (
        f"notes: links are off: {where} is not a GitLab or GitHub URL; set notes.url and notes.forge in "
        "release.yaml to link commits, pull requests and issues"
    )


def _shown(remote: str) -> str:
    """A remote as it may be printed: without user or token."""
    return re.sub(r"//[^/@]*@", "//", remote)


def _pulls(ctx: Context, start: str | None, end: str) -> dict[str, str]:
    """pull_requests() of `start..end`, when there is a forge to link them to."""
    if links(ctx).forge is None:
        return {}
    return pull_requests(ctx.git.log(f"{start}..{end}" if start else end, no_merges=False))


def today(ctx: Context) -> str:
    epoch = ctx.env.get("SOURCE_DATE_EPOCH")
    now = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch and epoch.isdigit() else dt.datetime.now(dt.UTC)
    return now.date().isoformat()


def commit_date(ctx: Context, ref: str) -> str:
    return dt.datetime.fromtimestamp(ctx.git.commit_time(ref), dt.UTC).date().isoformat()


def template_path(ctx: Context, explicit: str | None = None) -> Path | None:
    chosen = explicit or ctx.config.notes.template
    if not chosen:
        return None
    path = Path(chosen)
    return path if path.is_absolute() or explicit else ctx.root / path


def notes_input(
    ctx: Context, commits: list[ParsedCommit], pulls: dict[str, str], template: Path | None, **facts: str | None
) -> NotesInput:
    """What a template sees: the facts of the release, the commits grouped as notes.sections and notes.style say;
    `pulls`: commit sha → the pull/merge request that merged it. The commits no section shows are worked out for
    a user's `template` only (the bundled ones do not list them: on a whole history that is most of the time)."""
    cfg = ctx.config.notes
    specs = tuple(model.SectionSpec(s.type, s.title, s.hidden) for s in cfg.sections) or model.SECTIONS
    release_please = cfg.style == "release-please"
    breaking = model.RELEASE_PLEASE_BREAKING_TITLE if release_please else model.BREAKING_TITLE
    # release-please's parser does not read git's `Revert "…"` form: its notes never list one
    listed = [c for c in commits if not header_of(c).startswith('Revert "')] if release_please else commits
    sections = model.group(listed, links(ctx), pulls, specs, breaking)
    return NotesInput(
        version=str(facts["version"]),
        tag=facts["tag"],
        previous_version=facts["previous_version"],
        previous_tag=facts["previous_tag"],
        date=str(facts["date"]),
        sections=model.release_please_order(sections) if release_please else sections,
        links=links(ctx),
        component=facts["component"],
        hidden=model.hidden_entries(commits, links(ctx), specs, pulls) if template is not None else [],
        style=cfg.style,
    )


def artifacts(ctx: Context) -> list[dict[str, object]]:
    """What this commit's release published, for templates: each image and chart with its digest, its platforms
    and the SBOM, provenance and signatures attached to it (from the State, when it is this commit's; else none)."""
    if not ctx.state.sha or ctx.state.sha != ctx.git.head():
        return []
    found: list[dict[str, object]] = []
    for image in ctx.state.images:
        platforms = [str(p.get("platform")) for p in image.get("platforms") or []]
        found.append(_artifact("image", image, str(image.get("digest") or ""), platforms))
    for chart in ctx.state.charts:
        found.append(_artifact("chart", chart, oci_digest(chart) or "", []))
    return found


def _artifact(kind: str, entry: dict[str, Any], digest: str, platforms: list[str]) -> dict[str, object]:
    attached = [{k: a.get(k) for k in ("kind", "digest", "platform", "ref")} for a in entry.get("attached") or []]
    return {
        "kind": kind,
        "name": entry.get("name"),
        "repository": entry.get("repository"),
        "version": entry.get("version"),
        "digest": digest,
        "platforms": platforms,
        "attached": attached,
    }


def for_plan(ctx: Context, plan: Plan, template: str | None = None) -> str:
    data = notes_input(
        ctx,
        list(plan.commits),
        _pulls(ctx, plan.current.commit if plan.current else None, "HEAD"),
        template_path(ctx, template),
        version=str(plan.next_version) if plan.next_version else "Unreleased",
        tag=plan.tag,
        previous_version=str(plan.current.version) if plan.current else None,
        previous_tag=plan.current.name if plan.current else None,
        date=commit_date(ctx, "HEAD") if plan.head_tagged else today(ctx),
        component=plan.component,
    )
    # what HEAD's release published: the plan's notes are HEAD's (a --from/--to range's are not)
    return render(dataclasses.replace(data, artifacts=artifacts(ctx)), template_path(ctx, template))


def for_range(ctx: Context, start: str | None, end: str, template: str | None = None) -> str:
    """Notes for `start..end`; `start` defaults to the release `end` builds on (as `release cut` chose it)."""
    history.fetch_named_tag(ctx, start)  # a shallow clone may not have the tags a range names
    history.fetch_named_tag(ctx, end)
    return history.answer(ctx, lambda: _for_range(ctx, start, end, template))


def _for_range(ctx: Context, start: str | None, end: str, template: str | None) -> str:
    end_sha = ctx.git.resolve(end)
    component = _range_component(ctx, (start, end))
    pol = planning.policy(ctx.config.versioning, component)
    fmt: TagFormat = pol.tag_format
    at_end = fmt.release_tags(ctx.git.tags(points_at=end_sha))
    tag_name: str | None
    previous: ReleaseTag | None
    if at_end:
        tag = max(at_end, key=lambda t: t.key)
        version, tag_name, date = str(tag.version), tag.name, commit_date(ctx, end_sha)
        # A stable release counts from the last stable one (its notes carry its prereleases' changes too),
        # a prerelease from the last release of its own channel: the same ranges `release cut` used.
        token = str(tag.version.prerelease).split(".", 1)[0] if tag.version.prerelease else None
        before = [t for t in fmt.release_tags(ctx.git.tags(merged_into=end_sha)) if t.commit != end_sha]
        previous = planner.last_on_channel(before, Channel(None, prerelease=token))
    elif end_sha == ctx.git.head():
        name = component.name if component else None
        plan = next(p for p in planning.make_plans(ctx) if p.component == name)
        nxt = plan.next_version
        version, tag_name, date = (str(nxt) if nxt else "Unreleased"), plan.tag, today(ctx)
        previous = plan.current
    else:
        version, tag_name, date = end, end, commit_date(ctx, end_sha)
        before = fmt.release_tags(ctx.git.tags(merged_into=end_sha))
        previous = planner.last_on_channel(before, Channel(None))
    if start is None:
        start_name, start_rev = (previous.name, previous.commit) if previous else (None, None)
    else:
        start_rev = ctx.git.resolve(start)
        # Compare links need a name the forge knows: our tags as they are, anything else as a sha.
        start_name = start if fmt.parse(start) else start_rev[:12]
    paths = component.paths if component else ()
    log = ctx.git.log(f"{start_rev}..{end_sha}" if start_rev else end_sha, paths)
    history.check(ctx, log)
    strict = ctx.config.versioning.strict
    commits = drop_reverted_pairs([parse(c, strict=strict) for c in log])
    previous_version = str(fmt.parse(start_name)) if start_name and fmt.parse(start_name) else None
    data = notes_input(
        ctx,
        commits,
        _pulls(ctx, start_rev, end_sha),
        template_path(ctx, template),
        version=version,
        tag=tag_name,
        previous_version=previous_version,
        previous_tag=start_name,
        date=date,
        component=component.name if component else None,
    )
    return render(data, template_path(ctx, template))


def _range_component(ctx: Context, refs: tuple[str | None, ...]) -> ComponentConfig | None:
    """The component a range is about: the only one, the one asked for, or the one whose tags name the range."""
    candidates = planning.components(ctx)
    if len(candidates) == 1:
        return candidates[0]
    named = [
        c
        for c in candidates
        if any(ref and planning.policy(ctx.config.versioning, c).tag_format.parse(ref) for ref in refs)
    ]
    if len(named) == 1:
        return named[0]
    names = ", ".join(c.name for c in candidates if c)
    raise ReleaseError(
        "this repository has several components, and the range does not say which one the notes are for",
        f"pass --component NAME ({names})",
    )


def write_output(output: str, text: str) -> Path:
    """`release notes --output`: a file (its folders made as needed), or NOTES.md inside a directory."""
    path = Path(output)
    if path.is_dir() or output.endswith(("/", "\\")):
        path = path / "NOTES.md"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ReleaseError(
            f"cannot write the notes to {path}: {exc.strerror}", "pass --output a file path you may write to"
        ) from None
    return path


def notes_file(ctx: Context, component: str | None) -> Path:
    return ctx.state_path.parent / (f"notes-{component}.md" if component else "notes.md")


def write_files(ctx: Context) -> list[Path]:
    written = []
    for plan in planning.make_plans(ctx):
        if not plan.releasable:
            continue
        path = notes_file(ctx, plan.component)
        text = for_plan(ctx, plan)
        written.append(path)
        where = str(path.relative_to(ctx.root))
        ctx.effects.write_file(path, text, where)
        if plan.component is None:
            ctx.state.notes_path = where
        for entry in ctx.state.components:
            if entry.get("name") == plan.component:
                entry["notes_path"] = where
    off = links_off(ctx) if written else None
    if off:
        ctx.say(off)
    return written
