"""Side effects: every write a release makes (git pushes, registries, the engine, forges, files) goes through here.

`Live` does it. `Recording` (`--dry-run`) does none of it: it prints what it would have done (`would …`) through
the run's `say`, records that line, and returns what the real one would where that is knowable (or a clear
placeholder). Stages and domains call the same methods either way and never ask which one they hold; it is chosen
once, in `choose` (called by `Context.build`).

What the methods take are plain values and callables (the real write), never a domain's types: the domain says
what it is about to do and how, the adapter decides whether it happens.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")
Say = Callable[[str], None]


@dataclass(frozen=True)
class Preview(Generic[T]):
    """What a write that first has to look (an infra repository's files) would do: its result, and its line."""

    result: T  # what the real write would return
    would: str = ""  # "would …", or "" when nothing would change
    body: str = ""  # shown under the line: a diff


class Effects(Protocol):
    """The side effects of a release, each named for what it does."""

    def save_state(self, save: Callable[[], None]) -> None:
        """The State file (after each stage, and as images and charts are published)."""

    def write_outputs(self, write: Callable[[], object]) -> None:
        """What the run hands the next CI job: dotenv/GITHUB_OUTPUT, the job summary."""

    def take_claims(self, take: Callable[[], None]) -> None:
        """Reserve the release's tags on origin (refs/release-claims/…) before a registry is written."""

    def tests_skipped(self, names: Sequence[str]) -> str | None:
        """Why the project's test commands do not run here (None: they run)."""

    def write_file(self, path: Path, text: str, shown: str) -> None:
        """A file in the workspace (`shown`: its path as the user knows it)."""

    def write_archives(self, what: Sequence[str], write: Callable[[], Sequence[Path]]) -> Sequence[Path]:
        """Chart archives written to a folder (`what`: their file names); the paths written."""

    def release_commit(self, what: Sequence[str], diff: str, commit: Callable[[], None]) -> None:
        """`release cut`: the CHANGELOG commit and the tags made here (pushed too, when asked); `diff` shows it."""

    def push_release(self, what: str, push: Callable[[], None]) -> None:
        """Push a release made here earlier (the branch and its tags) to origin."""

    def tag_published(self, recorded: bool) -> bool:
        """Whether the release tag is on the remote by now (`recorded`: what the State says)."""

    def push_tag(self, what: str, push: Callable[[], str]) -> str:
        """Make the release tag and push it (`what`: "tag SHA as TAG …"); the summary line."""

    def published_digest(self, ref: str, found: str | None) -> str | None:
        """The digest of an image or chart this run publishes (`found`: what its registry holds; None: nothing)."""

    def push_images(self, what: Sequence[str], push: Callable[[], None]) -> None:
        """Engine build and registry push of images (`what`: "build NAME and push REFS", one per image)."""

    def push_charts(self, what: Sequence[str], push: Callable[[], None]) -> None:
        """Publish chart archives to their targets (`what`: "publish FILE to TARGET", one per target)."""

    def forge_write(self, what: str, write: Callable[[], T], placeholder: T) -> T:
        """A write call to a forge's API (a release object); `placeholder` stands for its answer."""

    def infra_write(self, write: Callable[[], T], preview: Callable[[], Preview[T]]) -> T:
        """Commit and push to an infra repository (or open a merge request); `preview` only looks."""

    def outcome(self, run: Callable[[], str]) -> str:
        """Run a step that returns its summary line: the summary of what it did (or, recording, would do)."""

    def wait_deployed(self, what: str, wait: Callable[[], str]) -> str:
        """Wait until the GitOps agent confirms a promote (the line saying so); recording: nothing was pushed."""


class Live:
    """Does it."""

    def save_state(self, save: Callable[[], None]) -> None:
        save()

    def write_outputs(self, write: Callable[[], object]) -> None:
        write()

    def take_claims(self, take: Callable[[], None]) -> None:
        take()

    def tests_skipped(self, names: Sequence[str]) -> str | None:
        return None

    def write_file(self, path: Path, text: str, shown: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def write_archives(self, what: Sequence[str], write: Callable[[], Sequence[Path]]) -> Sequence[Path]:
        return write()

    def release_commit(self, what: Sequence[str], diff: str, commit: Callable[[], None]) -> None:
        commit()

    def push_release(self, what: str, push: Callable[[], None]) -> None:
        push()

    def tag_published(self, recorded: bool) -> bool:
        return recorded

    def push_tag(self, what: str, push: Callable[[], str]) -> str:
        return push()

    def published_digest(self, ref: str, found: str | None) -> str | None:
        return found

    def push_images(self, what: Sequence[str], push: Callable[[], None]) -> None:
        push()

    def push_charts(self, what: Sequence[str], push: Callable[[], None]) -> None:
        push()

    def forge_write(self, what: str, write: Callable[[], T], placeholder: T) -> T:
        return write()

    def infra_write(self, write: Callable[[], T], preview: Callable[[], Preview[T]]) -> T:
        return write()

    def outcome(self, run: Callable[[], str]) -> str:
        return run()

    def wait_deployed(self, what: str, wait: Callable[[], str]) -> str:
        return wait()


@dataclass
class Recording:
    """Does none of it: says `would …` (through `say`), records the line, returns what the real one would."""

    say: Say = field(default=lambda line: None)
    show: Say = field(default=lambda text: _stdout(text))  # what a real write would change (a diff)
    lines: list[str] = field(default_factory=list)  # every `would …` line, in order

    def _would(self, what: str, body: str = "", *, show: bool = True) -> None:
        line = what if what.startswith("would ") else f"would {what}"
        self.lines.append(line)
        if show:
            self.say(f"{line}:\n{body.rstrip()}" if body else line)

    def save_state(self, save: Callable[[], None]) -> None:
        return None  # the State stays in memory: a dry run leaves no `.release/`

    def write_outputs(self, write: Callable[[], object]) -> None:
        return None

    def take_claims(self, take: Callable[[], None]) -> None:
        return None  # nothing is published, so there is nothing to reserve

    def tests_skipped(self, names: Sequence[str]) -> str | None:
        line = f"would run {', '.join(names)}"
        self.lines.append(line)
        return f"dry run: {line}"

    def write_file(self, path: Path, text: str, shown: str) -> None:
        self._would(f"write {shown}", text)

    def write_archives(self, what: Sequence[str], write: Callable[[], Sequence[Path]]) -> Sequence[Path]:
        for name in what:
            self._would(f"write {name}")
        return []

    def release_commit(self, what: Sequence[str], diff: str, commit: Callable[[], None]) -> None:
        for line in what:
            self._would(line)
        self.show(diff)
        self.say("dry run: nothing was written")

    def push_release(self, what: str, push: Callable[[], None]) -> None:
        self._would(what)

    def tag_published(self, recorded: bool) -> bool:
        return True  # as a real run would have by now: its publish stage (or job) pushed the tag

    def push_tag(self, what: str, push: Callable[[], str]) -> str:
        self._would(what, show=False)  # the stage's summary line says it
        return self.lines[-1]

    def published_digest(self, ref: str, found: str | None) -> str | None:
        return found or f"<digest of {ref} once pushed>"  # as a real run would have pushed it by now

    def push_images(self, what: Sequence[str], push: Callable[[], None]) -> None:
        for line in what:
            self._would(line)

    def push_charts(self, what: Sequence[str], push: Callable[[], None]) -> None:
        for line in what:
            self._would(line)

    def forge_write(self, what: str, write: Callable[[], T], placeholder: T) -> T:
        self._would(what, show=False)  # the release's summary line says it
        return placeholder

    def infra_write(self, write: Callable[[], T], preview: Callable[[], Preview[T]]) -> T:
        shown = preview()
        if shown.would:
            self._would(shown.would, show=False)
            if shown.body:
                self.say(shown.body.rstrip("\n"))
        return shown.result

    def wait_deployed(self, what: str, wait: Callable[[], str]) -> str:
        self._would(what)  # nothing was pushed: there is nothing to wait for
        return f"would {what}"

    def outcome(self, run: Callable[[], str]) -> str:
        start = len(self.lines)
        summary = run()
        return "; ".join(self.lines[start:]) or summary


def _stdout(text: str) -> None:
    sys.stdout.write(text)


def choose(dry_run: bool, say: Say) -> Effects:
    """The one place that looks at --dry-run: a recording variant, or the real thing."""
    return Recording(say) if dry_run else Live()
