"""The README's entry-point snippets, run as written (bash, `release` on PATH) in real temp repos."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Repo

README = Path(__file__).resolve().parents[1] / "README.md"


def snippet(name: str) -> str:
    match = re.search(rf"<!-- snippet: {name} -->\n```sh\n(.*?)```\n<!-- /snippet -->", README.read_text(), re.S)
    assert match, f"README has no snippet {name!r}"
    return match.group(1)


def run_bash(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def app(repo: Repo, tmp_path: Path) -> tuple[Repo, Path]:
    repo.commit("feat: first", {"release.yaml": 'tests:\n  - {name: unit, run: "true"}\n', "CHANGELOG.md": ""})
    repo.tag("v1.0.0")
    repo.commit("feat(api): search endpoint")
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    repo.git("remote", "add", "origin", str(bare))
    repo.git("push", "-q", "origin", "main", "--tags")
    return repo, bare


def test_the_laptop_snippet_cuts_pushes_and_runs_the_tag_pipeline(app):
    repo, origin = app
    done = run_bash(snippet("laptop"), repo.path)
    assert done.returncode == 0, done.stderr
    assert "next     1.1.0" in done.stdout
    assert "+## 1.1.0 (" in done.stdout  # the dry run's diff
    assert git(origin, "rev-parse", "v1.1.0^{commit}") == git(origin, "rev-parse", "main") == repo.head()
    assert git(origin, "log", "-1", "--format=%s", "main") == "chore(release): 1.1.0"
    assert "search endpoint" in (repo.path / "CHANGELOG.md").read_text()
    assert "[publish] v1.1.0 already published" in done.stderr
    assert "[test] passed: unit" in done.stderr


def test_the_notes_only_snippet(app):
    repo, _ = app
    repo.commit("fix: a bug")
    repo.tag("v1.1.0")
    repo.commit("perf: faster")
    done = run_bash(snippet("notes-only"), repo.path)
    assert done.returncode == 0, done.stderr
    notes = (repo.path / "NOTES.md").read_text()
    assert "faster" in notes and "a bug" not in notes
    assert "a bug" in done.stdout and "search endpoint" in done.stdout  # the v1.0.0..v1.1.0 range
    assert "faster" in (repo.path / ".release/notes.md").read_text()
    assert git(repo.path, "tag", "-l", "v1.1.1") == ""  # notes only: nothing tagged
