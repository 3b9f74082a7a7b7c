"""The effects adapter: Live does each write, Recording does none and says what it would have done.

The whole pipeline's dry run against real services is tests/test_run.py (nothing tagged, nothing written) and
tests/ci/test_gitlab_ci_local.py (the CI component with `dry_run: true`); these pin the adapter's contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from release.adapters import effects


class Calls:
    def __init__(self) -> None:
        self.made: list[str] = []

    def write(self, name: str, result: object = None):  # type: ignore[no-untyped-def]
        def call() -> object:
            self.made.append(name)
            return result

        return call


def every_write(side: effects.Effects, calls: Calls, tmp_path: Path) -> list[object]:
    """Each method once, with a real write that leaves a trace; what each returned."""
    preview = effects.Preview("previewed", "would push dev", "--- a/x\n+++ b/x\n")
    return [
        side.save_state(calls.write("state")),
        side.write_outputs(calls.write("outputs")),
        side.take_claims(calls.write("claims")),
        side.write_file(tmp_path / "notes.md", "# notes\n", ".release/notes.md"),
        side.push_tag("tag abc as v1.0.0", calls.write("tag", "pushed v1.0.0")),  # type: ignore[arg-type]
        side.push_images(["build app and push r/app:1.0.0"], calls.write("images")),
        side.push_charts(["publish app-1.0.0.tgz to oci://r/charts"], calls.write("charts")),
        side.forge_write("create release v1.0.0", calls.write("forge", {"id": 1}), {}),
        side.infra_write(calls.write("infra", "committed"), lambda: preview),
        side.release_commit(["release 1.0.0 as v1.0.0"], "+## 1.0.0\n", calls.write("cut")),  # type: ignore[arg-type]
        side.push_release("push v1.0.0 and the branch to origin", calls.write("push")),  # type: ignore[arg-type]
        side.write_archives(["app-1.0.0.tgz"], calls.write("archives", [tmp_path / "app-1.0.0.tgz"])),  # type: ignore[arg-type]
    ]


def test_live_does_every_write_and_returns_its_answer(tmp_path: Path) -> None:
    calls = Calls()
    answers = every_write(effects.choose(False, print), calls, tmp_path)
    assert calls.made == [
        "state", "outputs", "claims", "tag", "images", "charts", "forge", "infra", "cut", "push", "archives",
    ]  # fmt: skip
    assert (tmp_path / "notes.md").read_text() == "# notes\n"
    assert answers[4] == "pushed v1.0.0" and answers[7] == {"id": 1} and answers[8] == "committed"
    assert effects.Live().tests_skipped(["unit"]) is None
    assert effects.Live().tag_published(False) is False
    assert effects.Live().published_digest("r/app:1.0.0", None) is None  # not published: the caller refuses
    assert effects.Live().published_digest("r/app:1.0.0", "sha256:ab") == "sha256:ab"


def test_recording_does_none_and_says_what_it_would_have_done(tmp_path: Path) -> None:
    said: list[str] = []
    shown: list[str] = []
    side = effects.Recording(said.append, shown.append)
    calls = Calls()
    answers = every_write(side, calls, tmp_path)
    assert calls.made == [] and not (tmp_path / "notes.md").exists()
    assert answers[4] == "would tag abc as v1.0.0"
    assert answers[7] == {} and answers[8] == "previewed" and answers[11] == []  # placeholders, the preview's result
    assert side.lines == [
        "would write .release/notes.md",
        "would tag abc as v1.0.0",
        "would build app and push r/app:1.0.0",
        "would publish app-1.0.0.tgz to oci://r/charts",
        "would create release v1.0.0",
        "would push dev",
        "would release 1.0.0 as v1.0.0",
        "would push v1.0.0 and the branch to origin",
        "would write app-1.0.0.tgz",
    ]
    assert "would write .release/notes.md:\n# notes" in said  # the file's text under its line
    assert "--- a/x\n+++ b/x" in said and "dry run: nothing was written" in said
    assert shown == ["+## 1.0.0\n"]  # the cut's diff goes to stdout


def test_recording_summarises_a_step_by_what_it_would_do() -> None:
    side = effects.Recording()
    assert side.outcome(lambda: "nothing to do") == "nothing to do"  # nothing recorded: the step's own line

    def step() -> str:
        side.push_charts(["publish a.tgz to oci://r", "publish b.tgz to oci://r"], lambda: None)
        return "published a, b"

    assert side.outcome(step) == "would publish a.tgz to oci://r; would publish b.tgz to oci://r"
    assert side.tests_skipped(["unit", "lint"]) == "dry run: would run unit, lint"
    assert side.tag_published(False) is True
    assert side.published_digest("r/app:1.0.0", None) == "<digest of r/app:1.0.0 once pushed>"  # a placeholder
    assert side.published_digest("r/app:1.0.0", "sha256:ab") == "sha256:ab"


@pytest.mark.parametrize("dry_run", [False, True])
def test_choose_is_the_one_switch(dry_run: bool) -> None:
    assert isinstance(effects.choose(dry_run, print), effects.Recording if dry_run else effects.Live)
