"""Shared fixtures: real git repositories in temp dirs, and the CLI run in-process as a user would call it.

Tests never touch the developer's $HOME or git config: HOME points into tmp, the git identity is pinned,
and CI variables from the machine running the tests are removed (each test sets the ones it needs).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from release.cli import main

pytest_plugins = ["tests.fixtures_services", "tests.fixtures_forge"]

CI_PREFIXES = ("CI_", "GITHUB_", "GITLAB_", "RELEASE_")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith(CI_PREFIXES) or name in ("CI", "SOURCE_DATE_EPOCH", "GIT_DIR", "GIT_WORK_TREE"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Committer")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "committer@example.com")
    yield


@dataclass
class Repo:
    """A real git repository to build histories in."""

    path: Path

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.path, check=True, capture_output=True, text=True).stdout.strip()

    def commit(self, message: str, files: dict[str, str] | None = None) -> str:
        """Commit `files` (path → content; default: a unique file), return the new sha."""
        if files is None:
            count = len(list(self.path.glob("file-*.txt")))
            files = {f"file-{count}.txt": message}
        for name, content in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            self.git("add", "--", name)
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, ref: str = "HEAD", annotated: bool = False) -> None:
        if annotated:
            self.git("tag", "-a", name, "-m", f"release {name}", ref)
        else:
            self.git("tag", name, ref)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def write(self, name: str, content: str) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        return target


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    path = tmp_path / "app"
    path.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    return Repo(path)


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def release(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run the `release` CLI in-process: release(repo, "plan", "--json") → Result(code, out, err)."""

    def run(where: Repo | Path, *args: str, env: dict[str, str] | None = None) -> Result:
        path = where.path if isinstance(where, Repo) else where
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        capsys.readouterr()
        with monkeypatch.context() as m:
            m.chdir(path)
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            else:  # pragma: no cover - main always exits
                code = 0
        captured = capsys.readouterr()
        for key in env or {}:
            monkeypatch.delenv(key, raising=False)
        return Result(code, captured.out, captured.err)

    return run


def assert_one_line_error(result: Result, *needles: str) -> None:
    """An expected failure: exit 1, exactly one stderr line starting `release: error:`, holding each needle."""
    assert result.code == 1, (result.out, result.err)
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("release: error:"), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
