"""Group parsed commits into the sections users know from release-please, with forge links."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from release.versioning.commits import ParsedCommit

Forge = Literal["gitlab", "github"]


@dataclass(frozen=True)
class SectionSpec:
    """Commits of `type` go under `title` (several types may share one); a hidden one only templates see."""

    type: str
    title: str
    hidden: bool = False


SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("feat", "Features"),
    SectionSpec("fix", "Bug Fixes"),
    SectionSpec("perf", "Performance Improvements"),
    SectionSpec("revert", "Reverts"),
)
BREAKING_TITLE = "Breaking changes"
_REFERENCE = re.compile(r"(?<![\w\[/&])(?P<sigil>[#!])(?P<number>\d+)\b")
# conventional-changelog's closing keywords: "Closes #12" in a body or footer adds ", closes #12" to the entry
_CLOSES = re.compile(r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\b:?\s+(?P<ref>#\d+)", re.IGNORECASE)


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
    group: str | None
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
    hidden: bool = False  # its type's section is hidden (or it has none): only templates see it
    closes: tuple[str, ...] = ()  # "#12" for each "Closes #12" (fixes, resolves) in its body or footers


@dataclass(frozen=True)
class Section:
    title: str
    entries: list[Entry] = field(default_factory=list)
    breaking: bool = False  # the breaking changes section: its entries show their breaking description


def entry_for(commit: ParsedCommit, links: Links, group: str | None, hidden: bool = False) -> Entry:
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
        hidden=hidden,
        closes=tuple(dict.fromkeys(m["ref"] for m in _CLOSES.finditer(_footer_text(commit)))),
    )


def _footer_text(commit: ParsedCommit) -> str:
    """The message below the header as written: in "Fixes #12" the footer parser takes `#` as its separator."""
    return commit.commit.message.partition("\n")[2]


def group(
    commits: tuple[ParsedCommit, ...] | list[ParsedCommit],
    links: Links,
    specs: tuple[SectionSpec, ...] = SECTIONS,
    breaking_title: str = BREAKING_TITLE,
) -> list[Section]:
    """Sections in the order of `specs` (release-please's by default), oldest commit first inside each; empty
    sections left out.

    Types without a spec, or with a hidden one, are left out (chore/docs/ci/test/style/refactor/build by
    default, as in release-please); breaking commits of any type are shown under `breaking_title` first.
    """
    shown = {s.type.lower(): s.title for s in specs if not s.hidden}
    sections: dict[str, Section] = {breaking_title: Section(breaking_title, breaking=True)}
    sections.update({title: Section(title) for title in shown.values()})
    for commit in reversed(list(commits)):
        if commit.skip or commit.type is None:
            continue
        if commit.breaking:
            sections[breaking_title].entries.append(entry_for(commit, links, breaking_title))
        title = shown.get(commit.type.lower())
        if title:
            sections[title].entries.append(entry_for(commit, links, title))
    return [s for s in sections.values() if s.entries]


def hidden_entries(
    commits: tuple[ParsedCommit, ...] | list[ParsedCommit], links: Links, specs: tuple[SectionSpec, ...] = SECTIONS
) -> list[Entry]:
    """Every commit no section shows (hidden types, types without a section, commits outside the convention),
    oldest first, each with its type's section title (None when it has none): what a template may show."""
    shown = {s.type.lower() for s in specs if not s.hidden}
    titles = {s.type.lower(): s.title for s in specs}
    return [
        entry_for(c, links, titles.get((c.type or "").lower()), hidden=True)
        for c in reversed(list(commits))
        if c.skip or c.type is None or c.type.lower() not in shown
    ]


RELEASE_PLEASE_BREAKING_TITLE = "⚠ BREAKING CHANGES"


def release_please_order(sections: list[Section]) -> list[Section]:
    """Entries as release-please lists them: by scope and subject read together (conventional-changelog's
    `commitsSort: [scope, subject]`), so `**ci:** x` comes before `race condition` and `**server:** y` after it."""
    return [
        # newest first before sorting, as release-please reads them: equal keys keep that order
        Section(
            s.title, sorted(reversed(s.entries), key=lambda e: ((e.scope or "") + e.subject).casefold()), s.breaking
        )
        for s in sections
    ]
