"""Group parsed commits into the sections users know from release-please, with forge links."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from release.versioning.commits import ParsedCommit

Forge = Literal["gitlab", "github"]

SECTIONS: tuple[tuple[str, str], ...] = (
    ("feat", "Features"),
    ("fix", "Bug Fixes"),
    ("perf", "Performance Improvements"),
    ("revert", "Reverts"),
)
BREAKING_TITLE = "Breaking changes"
_REFERENCE = re.compile(r"(?<![\w\[/&])(?P<sigil>[#!])(?P<number>\d+)\b")


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


@dataclass(frozen=True)
class Section:
    title: str
    entries: list[Entry] = field(default_factory=list)


def entry_for(commit: ParsedCommit, links: Links, group: str) -> Entry:
    refs = [m[0] for m in _REFERENCE.finditer(commit.subject + "\n" + commit.body)]
    return Entry(
        sha=commit.commit.sha,
        short_sha=commit.commit.short_sha,
        url=links.commit(commit.commit.sha),
        group=group,
        type=commit.type,
        scope=commit.scope,
        subject=commit.subject,
        subject_md=links.linkify(commit.subject),
        breaking=commit.breaking,
        breaking_description=commit.breaking_description,
        body=commit.body,
        footers=dict(commit.footers),
        links=[url for ref in refs if (url := links.reference(ref[0], ref[1:]))],
        author=commit.commit.author,
        date=commit.commit.date,
    )


def group(commits: tuple[ParsedCommit, ...] | list[ParsedCommit], links: Links) -> list[Section]:
    """Sections in release-please's order, oldest commit first inside each; empty sections left out.

    chore/docs/ci/test/style/refactor/build are hidden, as in release-please; breaking commits of any type
    are shown under "Breaking changes".
    """
    titles = dict(SECTIONS)
    sections: dict[str, Section] = {BREAKING_TITLE: Section(BREAKING_TITLE)}
    sections.update({title: Section(title) for _, title in SECTIONS})
    for commit in reversed(list(commits)):
        if commit.skip or commit.type is None:
            continue
        if commit.breaking:
            sections[BREAKING_TITLE].entries.append(entry_for(commit, links, BREAKING_TITLE))
        title = titles.get(commit.type)
        if title:
            sections[title].entries.append(entry_for(commit, links, title))
    return [s for s in sections.values() if s.entries]
