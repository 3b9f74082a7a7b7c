"""Group parsed commits into the sections users know from release-please, with forge links."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from release.versioning.commits import Commit, ParsedCommit

Forge = Literal["gitlab", "github"]

SECTIONS: tuple[tuple[str, str], ...] = (
    ("feat", "Features"),
    ("fix", "Bug Fixes"),
    ("perf", "Performance Improvements"),
    ("revert", "Reverts"),
)
BREAKING_TITLE = "Breaking changes"
_REFERENCE = re.compile(r"(?<![\w\[/&])(?P<sigil>[#!])(?P<number>\d+)\b")
# The request a merge commit merged: GitHub's "Merge pull request #12 from owner/branch" subject, GitLab's
# "See merge request group/project!12" line.
_GITHUB_MERGE = re.compile(r"\AMerge pull request #(?P<number>\d+) from \S+")
_GITLAB_MERGE = re.compile(r"^See merge request [\w.\-/]*!(?P<number>\d+)\s*$", re.MULTILINE)
_SQUASH = re.compile(r"\s\(#(?P<number>\d+)\)\Z")  # GitHub's squash subject: "feat: add x (#12)"
ISSUE_FOOTERS = frozenset({"refs", "ref", "closes", "close", "fixes", "fix", "resolves", "resolve", "related"})


@dataclass(frozen=True)
class Links:
    """URLs into the project's forge; every method returns None when there is nothing to link to."""

    project_url: str | None
    forge: Forge | None

    def _part(self, gitlab: str, github: str) -> str | None:
        if not self.project_url or not self.forge:
            return None
        return f"{self.project_url}/{gitlab if self.forge == 'gitlab' else github}"

    def commit(self, sha: str) -> str | None:
        return self._part(f"-/commit/{sha}", f"commit/{sha}")

    def compare(self, old: str, new: str) -> str | None:
        return self._part(f"-/compare/{old}...{new}", f"compare/{old}...{new}")

    def pull(self, number: str) -> str | None:
        """The pull request (GitHub) or merge request (GitLab) `number`."""
        return self._part(f"-/merge_requests/{number}", f"pull/{number}")

    def pull_ref(self, number: str) -> str:
        """How the forge writes a pull/merge request: GitHub #12, GitLab !12."""
        return f"!{number}" if self.forge == "gitlab" else f"#{number}"

    def reference(self, sigil: str, number: str) -> str | None:
        if sigil == "!":
            return self._part(f"-/merge_requests/{number}", "") if self.forge == "gitlab" else None
        return self._part(f"-/issues/{number}", f"issues/{number}")

    def linkify(self, text: str) -> str:
        """`#12` / `!12` become markdown links (issues, GitLab MRs, GitHub PRs)."""

        def replace(match: re.Match[str]) -> str:
            url = self.reference(match["sigil"], match["number"])
            return f"[{match[0]}]({url})" if url else match[0]

        return _REFERENCE.sub(replace, text)


def merged_request(message: str) -> str | None:
    """The number of the pull/merge request a merge commit's message says it merged, or None."""
    found = _GITHUB_MERGE.search(message) or _GITLAB_MERGE.search(message)
    return found["number"] if found else None


def pull_requests(history: Sequence[Commit]) -> dict[str, str]:
    """Commit sha → the number of the pull/merge request whose merge commit brought it onto the mainline.

    `history`: a range's commits, merges included, newest first (as git log lists them). The mainline is the
    first-parent chain from the newest commit; a merge on it that names its request (GitHub's "Merge pull request
    #12 from ...", GitLab's "See merge request group/project!12") owns every commit of the range reachable from
    its other parents without passing through the mainline."""
    if not history:
        return {}
    parents = {c.sha: c.parents for c in history}
    mainline: list[Commit] = []
    sha: str | None = history[0].sha
    by_sha = {c.sha: c for c in history}
    while sha is not None and sha in by_sha:
        mainline.append(by_sha[sha])
        sha = by_sha[sha].parents[0] if by_sha[sha].parents else None
    on_mainline = {c.sha for c in mainline}
    found: dict[str, str] = {}
    for merge in mainline:
        number = merged_request(merge.message) if merge.is_merge else None
        if number is None:
            continue
        todo = [p for p in merge.parents[1:] if p in parents and p not in on_mainline]
        while todo:
            current = todo.pop()
            if current in found:
                continue
            found[current] = number
            todo.extend(p for p in parents[current] if p in parents and p not in on_mainline and p not in found)
    return found


@dataclass(frozen=True)
class IssueRef:
    """An issue a commit's footer names (`Refs #512`, `Closes #512`): the footer's word, `#512`, its URL."""

    verb: str
    ref: str
    url: str | None


@dataclass(frozen=True)
class Entry:
    """One commit as templates see it (git-cliff / python-semantic-release style names)."""

    sha: str
    short_sha: str
    url: str | None
    group: str
    type: str | None
    scope: str | None
    subject: str  # as written
    subject_md: str  # with #12 / !12 linked
    breaking: bool
    breaking_description: str | None
    body: str
    footers: dict[str, str]
    links: list[str]
    author: str
    date: str
    pull: str | None = None  # the pull/merge request that brought the commit in: "#12" (GitHub), "!12" (GitLab)
    pull_url: str | None = None
    issues: tuple[IssueRef, ...] = ()  # from Refs/Closes/Fixes footers


@dataclass(frozen=True)
class Section:
    title: str
    entries: list[Entry] = field(default_factory=list)


def entry_for(commit: ParsedCommit, links: Links, group: str, pull: str | None = None) -> Entry:
    """One commit as templates see it. `pull`: the number of the pull/merge request whose merge brought it in; a
    GitHub squash subject (`feat: x (#12)`) names its own."""
    refs = [m[0] for m in _REFERENCE.finditer(commit.subject + "\n" + commit.body)]
    subject_md = links.linkify(commit.subject)
    squash = _SQUASH.search(commit.subject) if links.forge == "github" else None
    if squash is not None:
        pull = squash["number"]
        url = links.pull(pull)
        head = links.linkify(commit.subject[: squash.start()])
        subject_md = f"{head} ([#{pull}]({url}))" if url else commit.subject
    elif pull is not None and links.pull(pull):
        subject_md = f"{subject_md} ([{links.pull_ref(pull)}]({links.pull(pull)}))"
    return Entry(
        sha=commit.commit.sha,
        short_sha=commit.commit.short_sha,
        url=links.commit(commit.commit.sha),
        group=group,
        type=commit.type,
        scope=commit.scope,
        subject=commit.subject,
        subject_md=subject_md,
        breaking=commit.breaking,
        breaking_description=commit.breaking_description,
        body=commit.body,
        footers=dict(commit.footers),
        links=[url for ref in refs if (url := links.reference(ref[0], ref[1:]))],
        author=commit.commit.author,
        date=commit.commit.date,
        pull=links.pull_ref(pull) if pull is not None else None,
        pull_url=links.pull(pull) if pull is not None else None,
        issues=issue_refs(commit, links),
    )


def issue_refs(commit: ParsedCommit, links: Links) -> tuple[IssueRef, ...]:
    """The issues its Refs/Closes/Fixes/Resolves footers name, each once, linked when the forge is known."""
    found: dict[str, IssueRef] = {}
    for key, value in commit.footers:
        if key.lower() not in ISSUE_FOOTERS:
            continue
        # `Refs #512` leaves "512" (the " #" is the footer's separator), `Refs: #512, #513` leaves "#512, #513"
        for match in re.finditer(r"(?:\A|(?<![\w/])#)(\d+)\b", value.strip()):
            ref = f"#{match[1]}"
            found.setdefault(ref, IssueRef(key.lower(), ref, links.reference("#", match[1])))
    return tuple(found.values())


def group(
    commits: tuple[ParsedCommit, ...] | list[ParsedCommit], links: Links, pulls: Mapping[str, str] | None = None
) -> list[Section]:
    """Sections in release-please's order, oldest commit first inside each; empty sections left out.

    chore/docs/ci/test/style/refactor/build are hidden, as in release-please; breaking commits of any type
    are shown under "Breaking changes". `pulls`: commit sha → the pull/merge request that merged it.
    """
    pulls = pulls or {}
    titles = dict(SECTIONS)
    sections: dict[str, Section] = {BREAKING_TITLE: Section(BREAKING_TITLE)}
    sections.update({title: Section(title) for _, title in SECTIONS})
    for commit in reversed(list(commits)):
        if commit.skip or commit.type is None:
            continue
        pull = pulls.get(commit.commit.sha)
        if commit.breaking:
            sections[BREAKING_TITLE].entries.append(entry_for(commit, links, BREAKING_TITLE, pull))
        title = titles.get(commit.type)
        if title:
            sections[title].entries.append(entry_for(commit, links, title, pull))
    return [s for s in sections.values() if s.entries]
