"""What a run hands to the next CI job: GitLab's dotenv report, GitHub's step outputs and step summary.

Builders are pure (State in, text out); `write` puts them where the CI running us reads them.
"""

from __future__ import annotations

import re
import secrets as random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import semver

from release.context import State


class Result(Protocol):
    """What the pipeline reports of one stage (release.pipeline.Result); a Protocol, so CI code does not import the
    pipeline that calls it."""

    @property
    def stage(self) -> str: ...
    @property
    def skipped(self) -> bool: ...
    @property
    def summary(self) -> str: ...
    @property
    def seconds(self) -> float: ...


DOTENV = "release.env"


def _key(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()


def _is_prerelease(version: str | None) -> bool:
    return bool(version and semver.Version.is_valid(version) and semver.Version.parse(version).prerelease)


def values(state: State) -> dict[str, str]:
    """The facts every CI gets, as flat strings: version, tag, whether the tag is out, images and charts."""
    out = {
        "RELEASE_VERSION": state.version or "",
        "RELEASE_TAG": state.tag or "",
        "RELEASE_PREVIOUS_VERSION": state.previous_version or "",
        "RELEASE_RELEASED": "true" if state.released else "false",
        "RELEASE_IS_PRERELEASE": "true" if _is_prerelease(state.version) else "false",
        "RELEASE_SHA": state.sha or "",
    }
    for component in state.components:
        key = _key(str(component.get("name") or ""))
        out[f"RELEASE_{key}_VERSION"] = str(component.get("version") or "")
        out[f"RELEASE_{key}_TAG"] = str(component.get("tag") or "")
    for image in state.images:
        key = _key(str(image.get("name") or ""))
        digest = str(image.get("digest") or "")
        out[f"RELEASE_IMAGE_{key}_DIGEST"] = digest
        if digest and image.get("repository"):
            out[f"RELEASE_IMAGE_{key}_REF"] = f"{image['repository']}@{digest}"
    for chart in state.charts:
        out[f"RELEASE_CHART_{_key(str(chart.get('name') or ''))}_VERSION"] = str(chart.get("version") or "")
    if state.promotions:  # the last environment promoted: a per-environment GitLab job's `environment: url:`
        out["RELEASE_ENVIRONMENT"] = str(state.promotions[-1].get("env") or "")
        out["RELEASE_ENVIRONMENT_URL"] = str(state.promotions[-1].get("url") or "")
    return out


def dotenv(state: State) -> str:
    """GitLab's dotenv report: KEY=value lines, one per variable, no newlines in values (GitLab's rule)."""
    return "".join(f"{key}={value}\n" for key, value in values(state).items() if "\n" not in value)


def github_outputs(state: State, notes: str) -> str:
    """$GITHUB_OUTPUT lines with python-semantic-release's names; the notes as a heredoc with a random delimiter."""
    facts = values(state)
    simple = {
        "released": facts["RELEASE_RELEASED"],
        "version": facts["RELEASE_VERSION"],
        "tag": facts["RELEASE_TAG"],
        "previous_version": facts["RELEASE_PREVIOUS_VERSION"],
        "is_prerelease": facts["RELEASE_IS_PRERELEASE"],
    }
    for key, value in facts.items():
        if key.startswith(("RELEASE_IMAGE_", "RELEASE_CHART_")):
            simple[key.removeprefix("RELEASE_").lower()] = value
    delimiter = f"release_notes_{random.token_hex(8)}"
    while delimiter in notes:  # pragma: no cover - 64 random bits
        delimiter = f"release_notes_{random.token_hex(8)}"
    lines = [f"{key}={value}\n" for key, value in simple.items()]
    lines.append(f"release_notes<<{delimiter}\n{notes}{'' if notes.endswith(chr(10)) or not notes else chr(10)}")
    lines.append(f"{delimiter}\n")
    return "".join(lines)


def step_summary(state: State, results: Sequence[Result]) -> str:
    """Markdown for $GITHUB_STEP_SUMMARY (and the end of a run's log): the version and one row per stage."""
    head = f"## release {state.version}" if state.version else "## release: nothing to release"
    if state.tag:
        head += f" ({state.tag}{', published' if state.released else ', not published'})"
    rows = ["| stage | result | time |", "| --- | --- | --- |"]
    for r in results:
        result = ("skipped: " if r.skipped else "") + r.summary.replace("|", "\\|").replace("\n", " ")
        rows.append(f"| {r.stage} | {result} | {r.seconds:.1f}s |")
    return "\n".join([head, "", *rows]) + "\n"


def notes_text(root: Path, state: State) -> str:
    if not state.notes_path:
        return ""
    path = root / state.notes_path
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def write(root: Path, env: Mapping[str, str], provider: str, state: State, results: Sequence[Result]) -> list[str]:
    """Write the outputs for the CI we run on; returns what was written, for the log."""
    written = []
    if provider == "gitlab" or env.get("RELEASE_DOTENV"):
        path = root / (env.get("RELEASE_DOTENV") or DOTENV)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dotenv(state), encoding="utf-8")
        written.append(str(path))
    if env.get("GITHUB_OUTPUT"):
        with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
            out.write(github_outputs(state, notes_text(root, state)))
        written.append("$GITHUB_OUTPUT")
    if append_summary(env, state, results):
        written.append("$GITHUB_STEP_SUMMARY")
    return written


def append_summary(env: Mapping[str, str], state: State, results: Sequence[Result]) -> bool:
    """The stage table into $GITHUB_STEP_SUMMARY when set (also after a failed stage); whether it was written."""
    if not env.get("GITHUB_STEP_SUMMARY"):
        return False
    with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as out:
        out.write(step_summary(state, results))
    return True
