"""Shallow clones and clones without tags, as CI checks out (GitHub: depth 1, no tags; GitLab: depth 20 or 50),
over smart HTTP with the token in a header: plan, notes and run give the answers a full clone gives, after one line
saying what was fetched; with no origin to fetch from, one line naming the command."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Repo, assert_one_line_error
from tests.gitserver import GitHTTP

USER, TOKEN = "releaser", "s3cret-history-token"
RELEASES = 12  # v1.0.0 … v1.11.0, each a merged feature branch (podinfo's shape: many tags, merge commits)
EARLY = 120  # history before the first release: a bounded fetch never needs it
TAIL = 25  # commits after the last release at the branch tip: more than GitLab's depth 20


def build(repo: Repo) -> None:
    repo.commit("chore: start", {"release.yaml": "version: 1\n", "README.md": "app\n"})
    for i in range(EARLY):
        repo.git("commit", "-q", "--allow-empty", "-m", f"chore: early work {i}")
    for i in range(RELEASES):
        repo.git("checkout", "-q", "-b", f"feature-{i}")
        repo.commit(f"feat(api): endpoint {i}", {f"api/{i}.txt": "1"})
        repo.commit(f"fix(api): endpoint {i} handles empty input", {f"api/{i}.txt": "2"})
        repo.git("checkout", "-q", "main")
        repo.commit(f"docs: note {i}", {f"docs/{i}.md": "x"})
        repo.git("merge", "-q", "--no-ff", f"feature-{i}", "-m", f"Merge pull request #{i + 10} from team/feature-{i}")
        repo.git("branch", "-q", "-D", f"feature-{i}")
        repo.tag(f"v1.{i}.0", annotated=i % 2 == 0)
        if i == 3:
            repo.tag("latest")  # tags that are not releases, as real repos have
            repo.tag("v1.3")
            repo.tag("chart-0.3.0")
    # a maintenance release on a branch HEAD cannot reach: only a fetch of every tag knows it exists
    repo.git("checkout", "-q", "-b", "1.10.x", "v1.10.0")
    repo.commit("fix: backported crash fix", {"backport.txt": "x"})
    repo.tag("v1.10.1", annotated=True)
    repo.git("checkout", "-q", "main")
    repo.git("checkout", "-q", "-b", "feature-tail")
    for i in range(TAIL // 2):
        repo.commit(f"chore: tidy {i}", {f"tidy/{i}.txt": "x"})
    repo.commit("feat: search", {"search.txt": "x"})
    repo.git("checkout", "-q", "main")
    for i in range(TAIL // 2 - 1):
        repo.commit(f"fix: small thing {i}", {f"small/{i}.txt": "x"})
    repo.git("merge", "-q", "--no-ff", "feature-tail", "-m", "Merge pull request #40 from team/feature-tail")


@dataclass
class Served:
    url: str
    server: GitHTTP
    root: Path

    def clone(self, name: str, *args: str) -> Path:
        target = self.root / name
        basic = base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
        subprocess.run(
            [
                "git",
                "-c",
                f"http.extraHeader=Authorization: Basic {basic}",
                "clone",
                "-q",
                *args,
                self.url,
                str(target),
            ],
            check=True,
            capture_output=True,
        )
        return target


@pytest.fixture
def served(repo: Repo, tmp_path: Path) -> Iterator[Served]:
    build(repo)
    root = tmp_path / "served"
    root.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(root / "app.git")], check=True)
    with GitHTTP(root, USER, TOKEN) as server:
        yield Served(f"{server.url}/app.git", server, tmp_path)


AUTH = {"RELEASE_GIT_TOKEN": TOKEN, "RELEASE_GIT_USER": USER}


def answers(release, where: Path, env: dict[str, str]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """What a user reads: the plan (text and JSON), the notes, and what a dry run would release."""
    out = {}
    for name, args in {
        "plan": ("plan",),
        "json": ("plan", "--json"),
        "notes": ("notes",),
        "range": ("notes", "--from", "v1.9.0", "--to", "v1.11.0"),
        "run": ("run", "--dry-run", "--allow-dirty"),
    }.items():
        result = release(where, *args, env=env)
        assert result.code == 0, (name, result.err)
        stages = [re.sub(r" \(\d+\.\d+s\)$", "", line) for line in result.err.splitlines() if line.startswith("[")]
        out[name] = result.out + "\n".join(stages)
    return out


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.mark.parametrize("depth", [1, 20])
@pytest.mark.parametrize("ref", [None, "v1.11.0"], ids=["branch-tip", "tag-checkout"])
def test_a_shallow_clone_answers_as_a_full_clone(served, release, depth, ref):  # type: ignore[no-untyped-def]
    branch = ("--branch", ref) if ref else ()
    full = served.clone("full", *branch)
    shallow = served.clone("shallow", f"--depth={depth}", *branch)
    assert (shallow / ".git" / "shallow").exists()
    env = AUTH | ({"CI_COMMIT_REF_NAME": "main"} if ref is None else {})

    first = release(shallow, "plan", env=env)
    assert first.code == 0, first.err
    said = first.err.strip()
    if depth == 1 or said:  # a depth-20 checkout of the tag holds what its plan needs: nothing to fetch, no line
        assert re.fullmatch(
            r"shallow clone: fetched (\d+ commits of HEAD's history and )?\d+ tags from origin \(\d+\.\ds\)", said
        )
    assert answers(release, shallow, env) == answers(release, full, env)
    # bounded: back to the release it builds on, not the whole history
    assert (shallow / ".git" / "shallow").exists()
    assert int(git(shallow, "rev-list", "--count", "HEAD")) < int(git(full, "rev-list", "--count", "HEAD"))
    plan = json.loads(answers(release, shallow, env)["json"])
    if ref is None:
        assert (plan["previous_tag"], plan["next_version"]) == ("v1.11.0", "1.12.0")
    else:
        assert (plan["previous_tag"], plan["already_tagged"]) == ("v1.10.0", True)
    assert TOKEN not in first.err


def test_the_notes_of_a_tag_checkout_list_every_change_of_that_release(served, release):  # type: ignore[no-untyped-def]
    # the podinfo case: `clone --depth 1 --branch TAG` then `release notes` printed one entry, not two
    shallow = served.clone("shallow", "--depth=1", "--branch", "v1.11.0")
    notes = release(shallow, "notes", env=AUTH)
    assert notes.code == 0, notes.err
    assert "endpoint 11" in notes.out and "endpoint 11 handles empty input" in notes.out
    assert "endpoint 10" not in notes.out  # v1.10.0's changes belong to v1.10.0
    assert "## 1.11.0" in notes.out


@pytest.mark.parametrize(
    ("start", "end", "entry"),
    [
        ("v1.0.0", "v1.11.0", "endpoint 1 handles"),
        ("v1.9.0", "v1.10.1", "backported crash fix"),
        ("v1.2.0", None, "search"),
    ],
)
def test_notes_for_a_range_reaching_past_a_depth_1_clone(served, release, start, end, entry):  # type: ignore[no-untyped-def]
    # the tags named may not be in the clone (v1.10.1 is on another branch): they are fetched, then the range
    args = ("notes", "--from", start) + (("--to", end) if end else ())
    full = release(served.clone("full"), *args, env=AUTH)
    shallow = release(served.clone("shallow", "--depth=1"), *args, env=AUTH)
    assert full.code == 0 and shallow.code == 0, shallow.err
    assert shallow.out == full.out
    assert entry in shallow.out


def test_a_clone_without_tags_in_ci_fetches_them(served, release):  # type: ignore[no-untyped-def]
    # a full history without tags: every commit looks unreleased and v1.10.1 (another branch) is unknown
    full = served.clone("full")
    notags = served.clone("notags", "--no-tags")
    env = AUTH | {"GITLAB_CI": "true", "CI_COMMIT_BRANCH": "main"}
    first = release(notags, "plan", "--json", env=env)
    assert first.code == 0, first.err
    assert re.fullmatch(
        r"fetched 16 tags this clone lacked from origin: chart-0.3.0, latest, v1.0.0 and 13 more\n", first.err
    )
    assert first.out == release(full, "plan", "--json", env=env).out
    again = release(notags, "plan", "--json", env=env)
    assert again.err == "" and again.out == first.out  # nothing left to fetch: no line


def test_a_shallow_clone_whose_origin_does_not_answer_fails_in_one_line(served, release):  # type: ignore[no-untyped-def]
    shallow = served.clone("shallow", "--depth=20")
    served.server.__exit__()
    for args in (("plan",), ("notes",), ("run", "--dry-run"), ("cut", "--dry-run")):
        result = release(shallow, *args, env=AUTH | {"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "main"})
        assert_one_line_error(result, "shallow clone", "stops after", "git fetch --unshallow --tags origin")
        assert "fetch-depth: 0" in result.err
        assert TOKEN not in result.err


def test_wrong_credentials_for_origin_fail_without_an_answer(served, release):  # type: ignore[no-untyped-def]
    shallow = served.clone("shallow", "--depth=1")
    result = release(shallow, "plan", env={"RELEASE_GIT_TOKEN": "wrong", "RELEASE_GIT_USER": USER})
    assert_one_line_error(result, "shallow clone", "git fetch --unshallow --tags origin")
    assert result.out == ""
