"""Conventional Commits 1.0 parsing, plus the trailers users already rely on.

A commit that does not follow the convention is kept (it is counted and shown as ignored),
never an error: real histories are full of "WIP" and "Merge branch ...".
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field, replace

HEADER = re.compile(r"^(?P<type>[A-Za-z][A-Za-z0-9_-]*)(?:\((?P<scope>[^()\r\n]*)\))?(?P<bang>!)?: +(?P<subject>\S.*)$")
# git's `Revert "<header>"`, and GitHub's squash of it: `Revert "feat(x): y (#8829)" (#8898)`
GIT_REVERT_HEADER = re.compile(r'^Revert "(?P<reverted>.+)"(?:\s*\([#!]\d+\))*\s*$')
FOOTER = re.compile(r"^(?P<token>BREAKING[ -]CHANGE|[A-Za-z][A-Za-z0-9-]*)(?::[ \t]*| #)(?P<value>.*)$")
CHERRY_PICKED = re.compile(r"cherry picked from commit ([0-9a-f]{7,40})")
REVERTS_SHA = re.compile(r"This reverts commit (?P<sha>[0-9a-fA-F]{7,40})")
SKIP_MARKERS = ("[skip release]", "[release skip]")
# A release tool's own commit (`chore(release): 1.2.0`, release-please's `chore(main): release 1.2.0`): no
# release of its own, and no line in the notes.
RELEASE_SUBJECT = re.compile(r"^release\b.*\d+\.\d+\.\d+", re.IGNORECASE)
# GitLab changelog trailers, for commits that use them instead of a conventional header.
CHANGELOG_TRAILER_TYPES = {"added": "feat", "fixed": "fix", "security": "fix", "performance": "perf"}


@dataclass(frozen=True)
class Commit:
    """A commit as git gives it: no interpretation."""

    sha: str
    parents: tuple[str, ...]
    author: str
    email: str
    date: str  # ISO 8601, the author date
    message: str

    @property
    def short_sha(self) -> str:
        return self.sha[:7]

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


@dataclass(frozen=True)
class ParsedCommit:
    """A commit read as a Conventional Commit. `type` is None when it does not follow the convention."""

    commit: Commit
    type: str | None
    scope: str | None
    subject: str
    breaking: bool
    breaking_description: str | None
    body: str
    footers: tuple[tuple[str, str], ...] = field(default=())
    reverts: str | None = None  # sha (or a prefix) of the commit this one reverts
    reverted_header: str | None = None  # the header of the reverted commit, when the message names it
    release_as: str | None = None
    skip: bool = False

    @property
    def conventional(self) -> bool:
        return self.type is not None

    def footer(self, token: str) -> str | None:
        wanted = token.lower()
        for key, value in self.footers:
            if key.lower() == wanted:
                return value
        return None


def _split_footers(lines: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Split the lines after the header into body lines and footers.

    The footer block is the run of trailing paragraphs that each open with a `Token: value` (or `Token #value`)
    line (`git commit -s`, Co-authored-by and the like add a paragraph of their own), or else the last such
    paragraph; a paragraph opening with `BREAKING CHANGE:` starts the block wherever it stands (what follows
    is its description). Each footer runs until the next token line.
    """
    starts = [i for i, line in enumerate(lines) if line.strip() and (i == 0 or not lines[i - 1].strip())]
    opening = [i for i in starts if FOOTER.match(lines[i])]
    start = None
    for i in reversed(starts):
        if i not in opening:
            break
        start = i
    if start is None and opening:
        start = opening[-1]
    breaking = next((i for i in opening if _is_breaking_token(FOOTER.match(lines[i]))), None)
    if breaking is not None and (start is None or breaking < start):
        start = breaking
    if start is None:
        return lines, []
    footers: list[tuple[str, str]] = []
    for line in lines[start:]:
        match = FOOTER.match(line)
        if match:
            footers.append((match["token"], match["value"].strip()))
        elif footers and line.strip():
            token, value = footers[-1]
            footers[-1] = (token, f"{value}\n{line.strip()}".strip())
    return lines[:start], footers


def _is_breaking_token(match: re.Match[str] | None) -> bool:
    return match is not None and match["token"].upper() in ("BREAKING CHANGE", "BREAKING-CHANGE")


def parse(commit: Commit, *, strict: bool = True) -> ParsedCommit:
    """Read a commit as a Conventional Commit; a message outside the convention gets `type` None (or the type
    its GitLab `Changelog:` trailer maps to), never an error.

    `strict` reads headers as semantic-release does: a type not in lowercase (`Fix(x):`) matches none of its
    rules, so it is not conventional here; `strict=False` (`versioning.strict: false`) reads it in lowercase, as
    the Conventional Commits spec allows. A leading space is read past either way: semantic-release trims the
    message (renovate 14.26.1 was released from ` fix(bitbucket-server): …`).
    """
    message = commit.message.replace("\r\n", "\n").strip("\n")
    header, _, rest = message.partition("\n")
    header = header.strip()
    body_lines, footers = _split_footers(rest.strip("\n").split("\n") if rest.strip() else [])
    reverts_match = REVERTS_SHA.search(message)
    # What the message says whatever form its header takes; the header's form decides the rest.
    unread = ParsedCommit(
        commit=commit,
        type=None,
        scope=None,
        subject=header,
        breaking=False,
        breaking_description=None,
        body="\n".join(body_lines).strip(),
        footers=tuple(footers),
        reverts=reverts_match["sha"].lower() if reverts_match else None,
        release_as=next((v.strip() for k, v in footers if k.lower() == "release-as"), None),
        skip=any(marker in message.lower() for marker in SKIP_MARKERS),
    )
    git_revert = GIT_REVERT_HEADER.match(header)
    if git_revert:
        return replace(unread, type="revert", subject=git_revert["reverted"], reverted_header=git_revert["reverted"])
    match = HEADER.match(header)
    if match and strict and match["type"] != match["type"].lower():
        match = None
    if match:
        return _conventional(unread, match)
    if unread.reverts:
        # Any other header over git's "This reverts commit <sha>." body (a revert reworded by hand): a revert
        # of that commit, as semantic-release reads it.
        return replace(unread, type="revert")
    return _unconventional(unread)


def _conventional(unread: ParsedCommit, header: re.Match[str]) -> ParsedCommit:
    """A commit whose header matched HEADER: `type(scope)!: subject`."""
    commit_type = header["type"].lower()
    bang = header["bang"] is not None
    subject = header["subject"].strip()
    description = _breaking_description(unread.footers)
    if bang and description is None:
        description = subject  # `type!:` without a BREAKING CHANGE footer: the subject is all it says
    reverts, reverted_header = unread.reverts, None
    if commit_type == "revert":
        # `revert: <header of the reverted commit>`, with the sha (if any) in a Refs footer
        reverts = reverts or _sha_like(unread.footer("refs") or "")
        reverted_header = subject
    scope = (header["scope"] or "").strip() or None
    release_commit = commit_type == "chore" and (scope == "release" or RELEASE_SUBJECT.match(subject) is not None)
    return replace(
        unread,
        skip=unread.skip or release_commit,
        type=commit_type,
        scope=scope,
        subject=subject,
        breaking=bang or description is not None,
        breaking_description=description,
        reverts=reverts,
        reverted_header=reverted_header,
    )


def _unconventional(unread: ParsedCommit) -> ParsedCommit:
    """A header outside the convention: typed only by a GitLab `Changelog:` trailer, and never a revert."""
    trailer = unread.footer("changelog")
    description = _breaking_description(unread.footers)
    return replace(
        unread,
        type=CHANGELOG_TRAILER_TYPES.get((trailer or "").strip().lower()),
        breaking=description is not None,
        breaking_description=description,
        reverts=None,
    )


def _breaking_description(footers: tuple[tuple[str, str], ...]) -> str | None:
    """The text of the last BREAKING CHANGE (or BREAKING-CHANGE) footer, None when there is none."""
    description = None
    for token, value in footers:
        if token.upper() in ("BREAKING CHANGE", "BREAKING-CHANGE"):
            description = value
    return description


def _sha_like(text: str) -> str | None:
    match = re.fullmatch(r"\s*([0-9a-fA-F]{7,40})\s*", text)
    return match[1].lower() if match else None


def header_of(parsed: ParsedCommit) -> str:
    return parsed.commit.message.strip().split("\n", 1)[0].strip()


def drop_reverted_pairs(commits: list[ParsedCommit]) -> list[ParsedCommit]:
    """Drop each revert together with the commit it reverts, when both are in the range.

    A revert whose target is outside the range stays (it changes released behaviour).
    A revert that names a sha (git's "This reverts commit <sha>.", or a `Refs: <sha>` footer) targets that
    commit only (or a `cherry-pick -x` of it); only a revert that names no sha is matched by the quoted header.
    `commits` are newest first, as git lists them.
    """
    shas = sorted((c.commit.sha, i) for i, c in enumerate(commits))
    picks = sorted((m[1], i) for i, c in enumerate(commits) for m in CHERRY_PICKED.finditer(c.commit.message.lower()))
    headers: dict[str, list[int]] = {}
    for i, c in enumerate(commits):
        headers.setdefault(header_of(c), []).append(i)
    dropped: set[int] = set()
    # Newest first, so a revert of a revert pairs with the revert it undoes, and the original stays in.
    for position, revert in enumerate(commits):
        if revert.type != "revert" or position in dropped:
            continue
        if revert.reverts:
            # the commit itself, or a `cherry-pick -x` copy of it; the newest one still in play wins
            found = _prefixed(shas, revert.reverts) + _prefixed(picks, revert.reverts)
            candidates = sorted(i for i in found if i != position)
        elif revert.reverted_header:
            candidates = [i for i in headers.get(revert.reverted_header, []) if i > position]
        else:
            candidates = []
        target = next((i for i in candidates if i not in dropped), None)
        if target is not None:
            dropped.update((target, position))
    return [c for i, c in enumerate(commits) if i not in dropped]


def _prefixed(index: list[tuple[str, int]], prefix: str) -> list[int]:
    """Positions whose sha starts with `prefix`, from a sorted (sha, position) index."""
    found = []
    at = bisect.bisect_left(index, (prefix, -1))
    while at < len(index) and index[at][0].startswith(prefix):
        found.append(index[at][1])
        at += 1
    return found
