"""Plans: what this run releases, decided once per Context from the repository's tags and commits.

Reads git in bulk (one for-each-ref for all tags, a bounded few for reachability, one log per range) and hands
the facts to the pure `versioning.plan`. With components (a monorepo) it reads the history once instead, with the
files each commit changed, and answers every component from that (`versioning.graph`): the number of git processes
does not grow with the components."""

from __future__ import annotations

import bisect
import dataclasses
import difflib
from collections.abc import Callable
from pathlib import Path

import semver

from release.config import ComponentConfig, VersioningConfig
from release.context import Context
from release.errors import ReleaseError
from release.source import history, tagstyle
from release.versioning import plan as planner
from release.versioning.commits import ParsedCommit, parse
from release.versioning.graph import GLOB, Graph, Paths, normal
from release.versioning.plan import Channel, Plan, Policy
from release.versioning.rules import Bump, Rule
from release.versioning.tags import ReleaseTag, TagFormat, TagRef


def policy(versioning: VersioningConfig, component: ComponentConfig | None) -> Policy:
    fmt = TagFormat(component.tag_format, component.name) if component else TagFormat(versioning.tag_format)
    return Policy(
        tag_format=fmt,
        initial=semver.Version.parse(versioning.initial),
        rules=tuple(Rule(Bump.from_label(r.bump), r.type, r.scope, r.breaking) for r in versioning.rules),
        bump_minor_pre_major=versioning.bump_minor_pre_major,
        bump_patch_for_minor_pre_major=versioning.bump_patch_for_minor_pre_major,
    )


def channel(ctx: Context) -> Channel:
    return planner.channel_for(ctx.branch(), ctx.config.versioning.prerelease_branches, ctx.options.prerelease)


def require_branch(ctx: Context, chan: Channel) -> None:
    """Configured prerelease branches need the branch; a detached HEAD without CI variables cannot tell."""
    explicit = ctx.config.versioning.prerelease_branches != VersioningConfig().prerelease_branches
    if chan.branch is None and explicit and not chan.prerelease:
        raise ReleaseError(
            "cannot tell which branch this is (detached HEAD), and versioning.prerelease_branches depends on it",
            "pass --branch NAME, or set CI_COMMIT_REF_NAME / GITHUB_REF_NAME",
        )


def components(ctx: Context) -> list[ComponentConfig | None]:
    """The components to plan: all of them, the one asked for, or the repo itself (None)."""
    declared = list(ctx.config.components)
    wanted = ctx.options.component
    if wanted is None:
        return list(declared) if declared else [None]
    chosen = [c for c in declared if c.name == wanted]
    if not chosen:
        names = ", ".join(c.name for c in declared) or "none are configured"
        raise ReleaseError(f"unknown component {wanted!r}", f"components in release.yaml: {names}")
    return list(chosen)


def check_paths(root: Path, chosen: list[ComponentConfig | None]) -> None:
    """A component path that does not exist would plan "nothing to release" forever: an error, with the folder
    that is there when the path looks like a typo of it."""
    for component in chosen:
        if component is None:
            continue
        for path in component.paths:
            clean = normal(path)
            if GLOB & set(clean):
                if not any(root.glob(clean)):
                    raise ReleaseError(
                        f"component {component.name}: path {path!r} matches nothing in this repository",
                        "fix components[].path in release.yaml",
                    )
            elif clean and not (root / clean).exists():
                close = _closest(root, clean)
                hint = f"did you mean {close!r}? Fix" if close else "fix"
                raise ReleaseError(
                    f"component {component.name}: path {path!r} does not exist in this repository",
                    f"{hint} components[].path (or shared:) in release.yaml",
                )


def _closest(root: Path, path: str) -> str | None:
    """The existing path that differs from `path` by a typo in one or more of its folders."""
    here, fixed = root, []
    for part in path.split("/"):
        if not (here / part).exists():
            names = [child.name for child in here.iterdir()] if here.is_dir() else []
            close = difflib.get_close_matches(part, names, n=1, cutoff=0.6)
            if not close:
                return None
            part = close[0]
        fixed.append(part)
        here = here / part
    return "/".join(fixed)


class Reader:
    """Reads what planning needs from git in bulk: one for-each-ref for all tags, a bounded few for reachability,
    one log per range."""

    BATCHES = (32, 128, 512)  # then one query for all tags: never more than four calls

    def __init__(self, ctx: Context, groups: list[tuple[str, ...]] | None = None) -> None:
        """`groups`: the paths of each component to plan (monorepos); the history is then read once for all."""
        self.ctx = ctx
        head = ctx.git.head()
        if head is None:
            raise ReleaseError("this repository has no commits yet", "commit something first")
        self.head = head
        local = ctx.git.tags()
        names = {ref.name for ref in local}
        # A shallow clone: origin's tags on commits not fetched count for numbering, never as reachable.
        self.all_refs: list[TagRef] = local + [r for r in history.remote_only_tags(ctx) if r.name not in names]
        self._reachable: dict[str, bool] = {}
        self._by_name = sorted(self.all_refs, key=lambda r: r.name)
        self._names = [r.name for r in self._by_name]
        self.graph: Graph | None = None
        if groups is not None:
            self.graph = Graph(ctx.git.log_with_files(head))
            self.paths = {group: Paths(group) for group in groups}
            self._touching = self.graph.touching(self.paths)
            self._parsed: dict[int, ParsedCommit] = {}
            self._checked: set[str | None] = set()

    def release_tags(self, fmt: TagFormat) -> list[ReleaseTag]:
        """The tags of this format: only those starting with its prefix are parsed (a bisection in the sorted
        names), so 200 components do not each parse every tag of the repository."""
        start = bisect.bisect_left(self._names, fmt.prefix)
        end = bisect.bisect_left(self._names, fmt.prefix + "\U0010ffff") if fmt.prefix else len(self._names)
        return fmt.release_tags(self._by_name[start:end])

    def highest_reachable(
        self, tags: list[ReleaseTag], pick: Callable[[list[ReleaseTag]], ReleaseTag | None]
    ) -> ReleaseTag | None:
        """`pick(the tags reachable from HEAD)`, asking git about the highest versions first.

        `git for-each-ref --merged` over every tag walks the whole history (0.5 s on 10,000 tags); over the few
        highest it stops early (milliseconds). Once `pick` finds an answer among the tags checked so far, every
        higher version has been checked, so the answer is the one the full query would give.
        """
        if self.graph is not None:  # the whole history is read: a tag is reachable when its commit is in it
            graph = self.graph
            return pick([t for t in tags if t.commit in graph])
        ordered = sorted(tags, key=lambda t: t.key, reverse=True)
        found: list[ReleaseTag] = []
        start = 0
        for size in (*self.BATCHES, len(ordered)):
            chunk = ordered[start : start + size]
            self._resolve(chunk, everything=size == len(ordered))
            found.extend(t for t in chunk if self._reachable[t.name])
            start += len(chunk)
            answer = pick(found)
            if answer is not None or start >= len(ordered):
                return answer
        return pick(found)

    def _resolve(self, tags: list[ReleaseTag], everything: bool) -> None:
        unknown = [t.name for t in tags if t.name not in self._reachable]
        if not unknown:
            return
        if everything:  # one walk answers for every tag, without a command line of thousands of names
            reachable = {ref.name for ref in self.ctx.git.tags(merged_into=self.head)}
            self._reachable.update({ref.name: ref.name in reachable for ref in self.all_refs})
        else:
            reachable = {ref.name for ref in self.ctx.git.tags(merged_into=self.head, names=unknown)}
            self._reachable.update({name: name in reachable for name in unknown})
        for name in unknown:
            self._reachable.setdefault(name, False)

    def commits(self, since: ReleaseTag | None, upto: str, paths: tuple[str, ...]) -> list[ParsedCommit]:
        if self.graph is not None and upto == self.head:
            return self._from_graph(self.graph, since.commit if since else None, paths)
        rev_range = f"{since.commit}..{upto}" if since else upto
        found = self.ctx.git.log(rev_range, paths)
        history.check(self.ctx, found)  # a range cut short by a shallow clone: deepened, then planned again
        strict = self.ctx.config.versioning.strict
        return [parse(c, strict=strict) for c in found]

    def _from_graph(self, graph: Graph, base: str | None, paths: tuple[str, ...]) -> list[ParsedCommit]:
        if base not in self._checked:  # a range cut short by a shallow clone: deepened, then planned again
            self._checked.add(base)
            history.check(self.ctx, (graph.commits[i] for i in graph.since(base)))
        found = []
        for i in graph.within(base, self._touching[paths]):
            if len(graph.commits[i].parents) > 1:
                continue
            if i not in self._parsed:
                self._parsed[i] = parse(graph.commits[i], strict=self.ctx.config.versioning.strict)
            found.append(self._parsed[i])
        return found

    def via(self, component: ComponentConfig, reasons: tuple[ParsedCommit, ...]) -> tuple[tuple[str, str], ...]:
        """The reasons that count for `component` only through one of its shared paths, with that path."""
        if self.graph is None or not component.shared:
            return ()
        own = Paths(tuple(p for p in component.paths if p not in component.shared) or component.paths)
        shared = Paths(component.shared)
        found = []
        for reason in reasons:
            index = self.graph.index.get(reason.commit.sha)
            path = self.graph.via(index, own, shared) if index is not None else None
            if path is not None:
                found.append((reason.commit.sha, path))
        return tuple(found)


def make_plans(ctx: Context) -> list[Plan]:
    """The plans for this run: computed once per Context, so every stage sees the same decision."""
    if "plans" not in ctx.cache:
        ctx.cache["plans"] = history.answer(ctx, lambda: _make_plans(ctx))
    plans: list[Plan] = ctx.cache["plans"]
    return plans


def _make_plans(ctx: Context) -> list[Plan]:
    chosen = components(ctx)
    check_paths(ctx.root, chosen)
    # Monorepos read the history once, with the files each commit changed, for every component at once.
    groups = [c.paths for c in chosen if c is not None] if ctx.config.components else None
    reader = Reader(ctx, groups)
    tagstyle.settle(ctx, reader.all_refs)  # no release.yaml: v1.2.3 or 1.2.3, whichever holds the highest release
    chan = channel(ctx)
    forced = Bump.from_label(ctx.options.bump) if ctx.options.bump else None
    plans = []
    for component in chosen:
        found = make_plan(ctx, reader, chan, component, forced)
        if component is not None and component.shared:
            found = dataclasses.replace(found, via=reader.via(component, found.reasons))
        plans.append(found)
    return plans


def make_plan(
    ctx: Context, reader: Reader, chan: Channel, component: ComponentConfig | None, forced: Bump | None
) -> Plan:
    pol = policy(ctx.config.versioning, component)
    name = component.name if component else None
    paths = component.paths if component else ()
    all_tags = reader.release_tags(pol.tag_format)

    at_head = [t for t in all_tags if t.commit == reader.head]  # a tag on HEAD is reachable from it
    head_tag, chan = _release_at_head(ctx, at_head, chan, forced)
    if head_tag is not None and forced is None and not ctx.options.prerelease:
        # A tag pipeline, or a rerun after `release cut`: this commit's version is already decided.
        before = [t for t in all_tags if t.commit != reader.head]
        current = reader.highest_reachable(before, lambda found: planner.last_on_channel(found, chan))
        return planner.tagged(
            policy=pol,
            channel=chan,
            component=name,
            head_tag=head_tag,
            current=current,
            base=reader.highest_reachable(before, lambda found: planner.last_stable(found, chan)),
            commits=reader.commits(current, reader.head, paths),
        )

    require_branch(ctx, chan)
    base = reader.highest_reachable(all_tags, lambda found: planner.last_stable(found, chan))
    current = reader.highest_reachable(all_tags, lambda found: planner.last_on_channel(found, chan))
    since_base = reader.commits(base, reader.head, paths)
    since_current = reader.commits(current, reader.head, paths) if current != base else None
    return planner.decide(
        policy=pol,
        channel=chan,
        component=name,
        base=base,
        current=current,
        since_base=since_base,
        since_current=since_current,
        all_tags=all_tags,
        forced_bump=forced,
    )


def _release_at_head(
    ctx: Context, at_head: list[ReleaseTag], chan: Channel, forced: Bump | None
) -> tuple[ReleaseTag | None, Channel]:
    """The release tag on HEAD that this channel builds on, and the channel, which such a tag may decide."""
    head_tag = planner.last_on_channel(at_head, chan)
    if at_head and chan.branch is None and not chan.prerelease and forced is None:
        # A tag pipeline (or a checked-out tag): no branch, so the release tag at HEAD says which channel this is,
        # the pipeline's own tag first (an rc and its final release can sit on one commit).
        named = next((t for t in at_head if t.name == ctx.ci.tag), None)
        head_tag = named or head_tag or max(at_head, key=lambda t: t.key)
        if head_tag.version.prerelease:
            token = str(head_tag.version.prerelease).split(".", 1)[0]
            chan = Channel(None, prerelease=token)
    return head_tag, chan
