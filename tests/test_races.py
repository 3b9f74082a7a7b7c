"""Races between whole pipelines: `release run` subprocesses started together (each waits for a start file).

(a) Ten pipelines of ten apps promote into one infra repository over smart HTTP at once: ten commits, none lost,
    none forced (a rejected push is redone on the new tip).
(b) Two pipelines release the same version from two different commits of one app (two clones of one origin, one
    registry, one chart repository): one wins; the other stops with one "already published" / "already exists"
    line (exit 1) and overwrites nothing: the image's version tag, the chart and the release tag are the winner's,
    and the infra repository gets the winner's commit only. Five rounds, each with other start delays.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from release import pipeline
from release.adapters.git import Git
from release.source import claims
from tests.conftest import Repo, Result
from tests.gitops.test_promote import VALUES, git, make_infra, show
from tests.gitserver import GitHTTP
from tests.services import MANIFEST_TYPES, Registry, scratch_context

TOKEN = "race-token-51f0"


@dataclass
class Finished:
    name: str
    code: int
    out: str
    err: str

    @property
    def last(self) -> str:
        lines = self.err.strip().splitlines()
        return lines[-1] if lines else ""


def start_together(jobs: dict[str, tuple[Path, dict[str, str], float]], go: Path) -> dict[str, Finished]:
    """Start `release run` in each (cwd, env, delay) at once: every process waits for `go`, then its delay."""
    waiting = 'while [ ! -e "$0" ]; do sleep 0.002; done; sleep "$1"; shift; exec "$@"'
    procs = {
        name: subprocess.Popen(
            ["sh", "-c", waiting, str(go), str(delay), sys.executable, "-m", "release", "run"],
            cwd=cwd,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (cwd, env, delay) in jobs.items()
    }
    time.sleep(0.3)  # every shell is up and polling
    go.touch()
    done = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=600)
        done[name] = Finished(name, proc.returncode, out, err)
    return done


def assert_last_error(result: Result, *needles: str) -> None:
    """`release run` failed (exit 1) with the stage lines, then one error line holding each needle."""
    assert result.code == 1, (result.out, result.err)
    assert "Traceback" not in result.err
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("release: error:"), result.err
    for needle in needles:
        assert needle in last, (needle, last)


# ------------------------------------------------------------------------------- (a) ten apps, one infra repo


def test_ten_pipelines_promote_ten_apps_into_one_infra_repo(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    infra = make_infra(served, {f"apps/app{i}/values.yaml": VALUES.format(env=f"app{i}") for i in range(10)})
    git(infra, "config", "http.receivepack", "true")
    before = git(infra, "rev-parse", "main")
    apps: list[Repo] = []
    with GitHTTP(served, "deployer", TOKEN) as server:
        for i in range(10):
            origin = served / f"app{i}.git"
            subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
            git(origin, "config", "http.receivepack", "true")
            path = tmp_path / f"app{i}"
            subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
            app = Repo(path)
            config = (
                f"environments:\n  - name: dev\n    repo: {server.url}/infra.git\n    automatic: true\n    updates:\n"
                f'      - {{file: apps/app{i}/values.yaml, set: {{image.tag: "{{version}}"}}}}\n'
            )
            app.commit(f"feat: app {i}", {"release.yaml": config})
            app.git("remote", "add", "origin", f"{server.url}/app{i}.git")
            apps.append(app)
        env = {"RELEASE_GIT_USER": "deployer", "RELEASE_GIT_TOKEN": TOKEN}
        done = start_together({a.path.name: (a.path, env, 0.0) for a in apps}, tmp_path / "go")

    assert {name: (r.code, r.last) for name, r in done.items() if r.code != 0} == {}
    assert git(infra, "rev-list", "--count", "main") == "11"
    assert git(infra, "rev-list", "--count", "--merges", "main") == "0"
    assert git(infra, "merge-base", "--is-ancestor", before, "main") == ""  # history only grew
    for i in range(10):
        assert 'tag: "0.1.0"' in show(infra, f"apps/app{i}/values.yaml")
        assert git(served / f"app{i}.git", "rev-parse", "v0.1.0^{commit}") == apps[i].head()
        assert refs(served / f"app{i}.git", "refs/release-claims") == ""
    subjects = git(infra, "log", "--format=%s", "main").splitlines()[:-1]
    assert sorted(subjects) == sorted(f"chore(dev): deploy app{i} 0.1.0" for i in range(10))
    redone = sum("moved while promoting" in r.err for r in done.values())
    print(f"\nraces (a): 10 pipelines, 10 of 10 commits landed, {redone} pipelines redid their push on a new tip")


# ------------------------------------------------------------------------- (b) one version, two commits


RACE_CONFIG = """\
images:
  - name: app
    repository: {registry}/races/app{n}
charts:
  - path: charts/app
    values: {{image.digest: "{{image.app.digest}}"}}
    publish: ["oci://{registry}/races{n}"]
environments:
  - name: dev
    repo: file://{infra}
    automatic: true
    updates:
      - {{file: apps/dev/app/values.yaml, set: {{image.tag: "{{version}}"}}}}
"""

# Start delays (seconds) of A and B: at once, and each ahead of the other by a little and by more.
ROUNDS = [(0.0, 0.0), (0.0, 0.0), (0.3, 0.0), (0.0, 1.0), (2.5, 0.0)]


@pytest.mark.parametrize("n", range(len(ROUNDS)))
def test_two_pipelines_release_one_version_from_two_commits(n, tmp_path, registry: Registry, podman):
    infra = make_infra(tmp_path, {"apps/dev/app/values.yaml": VALUES.format(env="dev")})
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    seed = Repo(tmp_path / "seed")
    seed.path.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(seed.path)], check=True)
    scratch_context(seed.path, {"hello.txt": "seed\n"})
    seed.write("charts/app/Chart.yaml", "apiVersion: v2\nname: app\nversion: 0.0.1\n")
    seed.write("charts/app/values.yaml", "image:\n  digest: none\n")
    seed.write("charts/app/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n")
    seed.write("release.yaml", RACE_CONFIG.format(registry=registry.host, n=n, infra=infra))
    seed.git("add", "-A")
    seed.commit("chore: seed")
    seed.git("push", "-q", str(origin), "main")
    clones = {}
    for name in ("A", "B"):
        path = tmp_path / name
        git(tmp_path, "clone", "-q", str(origin), str(path))
        clone = Repo(path)
        clone.commit(f"feat: change from {name}", {"hello.txt": f"{name}\n"})
        clones[name] = clone
    infra_before = git(infra, "rev-parse", "main")
    env = {
        "DOCKER_HOST": podman.base_url,
        "RELEASE_REGISTRY_USER": registry.user,
        "RELEASE_REGISTRY_PASSWORD": registry.password,
    }
    delays = dict(zip("AB", ROUNDS[n], strict=True))
    done = start_together({k: (c.path, env, delays[k]) for k, c in clones.items()}, tmp_path / "go")

    codes = {k: r.code for k, r in done.items()}
    assert sorted(codes.values()) == [0, 1], {k: (r.code, r.err[-2000:]) for k, r in done.items()}
    winner = next(k for k, c in codes.items() if c == 0)
    loser = "B" if winner == "A" else "A"
    lost = done[loser]
    assert "Traceback" not in lost.err
    assert lost.last.startswith("release: error:"), lost.err
    assert any(words in lost.last for words in ("already published", "already exists", "already being published"))
    finished = [line.split("]")[0][1:] for line in lost.err.splitlines() if line.startswith("[")]
    failed_in = pipeline.NAMES[len(finished)]

    head = clones[winner].head()
    state = json.loads((clones[winner].path / ".release/state.json").read_text())
    # the image's version tag: the winner's digest and revision label
    image = registry.manifest(f"races/app{n}", "0.1.0")
    assert image.status_code == 200
    assert image.headers["Docker-Content-Digest"] == state["images"][0]["digest"]
    config = registry.blob(f"races/app{n}", image.json()["config"]["digest"]).json()
    assert config["config"]["Labels"]["org.opencontainers.image.revision"] == head
    # the chart: the winner's digest
    chart = registry.manifest(f"races{n}/app", "0.1.0", accept=MANIFEST_TYPES)
    assert chart.status_code == 200
    assert (
        chart.headers["Docker-Content-Digest"]
        == state["charts"][0]["digests"][f"oci://{registry.host}/races{n}/app:0.1.0"]
    )
    # the release tag: the winner's commit
    assert git(origin, "rev-parse", "v0.1.0^{commit}") == head
    assert refs(origin, "refs/release-claims") == ""  # both runs dropped what they held
    # the infra repository: the winner's one commit
    assert git(infra, "rev-list", "--count", f"{infra_before}..main") == "1"
    assert git(infra, "log", "-1", "--format=%(trailers:key=Release-Source,valueonly)", "main").strip() == head
    print(
        f"\nround {n} (A +{delays['A']}s, B +{delays['B']}s): {winner} won; {loser} stopped in {failed_in}: {lost.last}"
    )


# ------------------------------------------------------------------- (c) one version, two commits, tags only


@pytest.mark.parametrize("n", range(5))
def test_two_pipelines_of_a_project_without_artifacts_race_for_the_tag(n, tmp_path):
    infra = make_infra(tmp_path, {"apps/dev/app/values.yaml": VALUES.format(env="dev")})
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    seed = Repo(tmp_path / "seed")
    seed.path.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(seed.path)], check=True)
    config = (
        f"environments:\n  - name: dev\n    repo: file://{infra}\n    automatic: true\n    updates:\n"
        '      - {file: apps/dev/app/values.yaml, set: {image.tag: "{version}"}}\n'
    )
    seed.commit("chore: seed", {"release.yaml": config})
    seed.git("push", "-q", str(origin), "main")
    clones = {}
    for name in ("A", "B"):
        path = tmp_path / name
        git(tmp_path, "clone", "-q", str(origin), str(path))
        clones[name] = Repo(path)
        clones[name].commit(f"feat: change from {name}", {"hello.txt": f"{name}\n"})
    infra_before = git(infra, "rev-parse", "main")
    done = start_together({k: (c.path, {}, 0.0) for k, c in clones.items()}, tmp_path / "go")

    codes = {k: r.code for k, r in done.items()}
    assert sorted(codes.values()) == [0, 1], {k: (r.code, r.err[-2000:]) for k, r in done.items()}
    winner = next(k for k, c in codes.items() if c == 0)
    lost = done["B" if winner == "A" else "A"]
    assert lost.last.startswith("release: error:") and "Traceback" not in lost.err, lost.err
    assert "tag v0.1.0 already exists on origin" in lost.last and "another pipeline released" in lost.last, lost.last
    assert git(origin, "rev-parse", "v0.1.0^{commit}") == clones[winner].head()
    assert git(infra, "rev-list", "--count", f"{infra_before}..main") == "1"
    print(f"\nround {n}: {winner} won; {lost.name}: {lost.last}")


def test_a_tag_that_lands_between_the_check_and_the_push_is_reported_as_taken(repo, release, tmp_path, monkeypatch):
    """The race of (c), made certain: origin's tag appears after the publish stage looked and before it pushed."""
    repo.commit("feat: first", {"release.yaml": "notes: {changelog: false}\n"})
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(origin), str(other))
    git(other, "commit", "-q", "--allow-empty", "-m", "feat: elsewhere")
    real = Git.remote_tag
    calls = []

    def first_look_misses_it(self: Git, remote: str, tag: str, env: Any = None) -> str | None:
        calls.append(tag)
        if len(calls) == 1:
            git(other, "tag", tag)
            git(other, "push", "-q", "origin", tag)
            return None
        return real(self, remote, tag, env)

    monkeypatch.setattr(Git, "remote_tag", first_look_misses_it)
    result = release(repo, "run", "--skip", "notes")
    assert_last_error(result, "tag v0.1.0 already exists on origin", "another pipeline released 0.1.0 first")
    assert git(origin, "rev-parse", "v0.1.0^{commit}") == git(other, "rev-parse", "HEAD")


# ------------------------------------------------------------------------------------------------------ claims

CLAIMED = "refs/release-claims/v0.1.0"


@pytest.fixture
def charted(repo, tmp_path):
    """An app whose chart goes to a git branch (claims are taken before the charts stage writes), and its origin."""
    pages = tmp_path / "pages.git"
    origin = tmp_path / "origin.git"
    for bare in (pages, origin):
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    repo.write("charts/app/Chart.yaml", "apiVersion: v2\nname: app\nversion: 0.0.1\n")
    repo.write("charts/app/values.yaml", "replicas: 1\n")
    repo.write("charts/app/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n")
    repo.write("release.yaml", f'charts:\n  - path: charts/app\n    publish: ["git+file://{pages}#gh-pages"]\n')
    repo.git("add", "-A")
    seed = repo.commit("chore: seed")
    repo.commit("feat: first")
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main")
    return repo, origin, pages, seed


def refs(bare: Path, prefix: str) -> str:
    return git(bare, "for-each-ref", "--format=%(refname) %(objectname)", prefix)


def test_a_claim_left_by_another_commit_stops_the_run_before_anything_is_published(charted, release):
    repo, origin, pages, seed = charted
    git(origin, "update-ref", CLAIMED, seed)  # a pipeline of `seed` killed with -9 while publishing 0.1.0
    result = release(repo, "run")
    assert_last_error(result, "v0.1.0 is already being published by another pipeline", seed[:12], f":{CLAIMED}")
    assert refs(pages, "refs/heads") == "" and refs(origin, "refs/tags") == ""
    assert refs(origin, "refs/release-claims") == f"{CLAIMED} {seed}"  # someone else's claim is left alone
    git(origin, "update-ref", "-d", CLAIMED)  # what the hint says to do
    again = release(repo, "run")
    assert again.code == 0, again.err
    assert git(origin, "rev-parse", "v0.1.0^{commit}") == repo.head()
    assert refs(origin, "refs/release-claims") == ""


def test_a_chart_published_alone_respects_another_commits_claim_then_claims_and_tags_itself(charted, release):
    repo, origin, pages, seed = charted
    git(origin, "update-ref", CLAIMED, seed)  # another commit's pipeline is publishing 0.1.0 right now
    refused = release(repo, "chart", "--publish")
    assert_last_error(refused, "v0.1.0 is already being published by another pipeline", seed[:12])
    assert refs(pages, "refs/heads") == "" and refs(origin, "refs/tags") == ""  # nothing published, nothing tagged
    git(origin, "update-ref", "-d", CLAIMED)
    done = release(repo, "chart", "--publish")
    assert done.code == 0, done.err
    assert refs(pages, "refs/heads/gh-pages") != ""
    assert git(origin, "rev-parse", "v0.1.0^{commit}") == repo.head()
    assert refs(origin, "refs/release-claims") == ""


def test_a_claim_of_this_commit_is_taken_over_and_every_claim_is_dropped_at_the_end(charted, release):
    repo, origin, pages, _ = charted
    git(origin, "update-ref", CLAIMED, repo.head())  # this commit's own run, killed with -9
    result = release(repo, "run")
    assert result.code == 0, result.err
    assert refs(origin, "refs/release-claims") == ""
    assert refs(pages, "refs/heads/gh-pages") != ""


def test_a_failed_run_drops_its_claim(charted, release, monkeypatch):
    repo, origin, pages, _ = charted
    repo.git("rm", "-q", "charts/app/templates/cm.yaml")
    repo.git("commit", "-q", "-m", "fix: drop the template")
    held = []
    real = claims.release

    def looking(ctx: Any) -> None:
        held.append(refs(origin, "refs/release-claims"))
        real(ctx)

    monkeypatch.setattr(claims, "release", looking)
    result = release(repo, "run")
    assert_last_error(result, "no templates/ directory")
    # it was held while the charts stage failed: a claim commit on top of HEAD, naming it
    (line,) = held
    claim_sha = line.split()[1]
    assert line == f"{CLAIMED} {claim_sha}"
    assert git(repo.path, "rev-parse", f"{claim_sha}^") == repo.head()
    assert f"Release-Claim-Holder: {repo.head()}" in git(repo.path, "cat-file", "commit", claim_sha)
    assert refs(origin, "refs/release-claims") == "" and refs(pages, "refs/heads") == ""


def test_a_remote_that_refuses_the_claim_ref_only_warns(charted, release):
    repo, origin, _, _ = charted
    hook = origin / "hooks" / "pre-receive"
    hook.write_text('#!/bin/sh\nwhile read old new ref; do case "$ref" in refs/release-claims/*) exit 1;; esac; done\n')
    hook.chmod(0o755)
    result = release(repo, "run")
    assert result.code == 0, result.err
    assert "warning: could not reserve v0.1.0 on origin" in result.err
    assert git(origin, "rev-parse", "v0.1.0^{commit}") == repo.head()


def _claim_by(cwd: Path, holder: str, age_seconds: int) -> str:
    """A claim commit as another pipeline's run makes it, `age_seconds` old."""
    when = f"{int(time.time()) - age_seconds} +0000"
    env = {**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when}
    tree = git(cwd, "rev-parse", f"{holder}^{{tree}}")
    return subprocess.run(
        ["git", "commit-tree", tree, "-p", holder, "-m", f"release claim v0.1.0\n\nRelease-Claim-Holder: {holder}"],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def test_a_claim_older_than_the_ttl_is_taken_over(charted, release):
    repo, origin, _, seed = charted
    stale = _claim_by(repo.path, seed, age_seconds=2 * 3600)  # its pipeline was killed two hours ago
    repo.git("push", "-q", "origin", f"{stale}:{CLAIMED}")
    result = release(repo, "run")
    assert result.code == 0, result.err
    assert f"took over the claim on v0.1.0 left by commit {seed[:12]} 120 min ago" in result.err
    assert git(origin, "rev-parse", "v0.1.0^{commit}") == repo.head()
    assert refs(origin, "refs/release-claims") == ""


def test_a_fresh_claim_of_another_commit_is_respected_and_the_ttl_is_configurable(charted, release):
    repo, origin, pages, seed = charted
    fresh = _claim_by(repo.path, seed, age_seconds=120)
    repo.git("push", "-q", "origin", f"{fresh}:{CLAIMED}")
    blocked = release(repo, "run")
    assert_last_error(blocked, "already being published by another pipeline", seed[:12], "RELEASE_CLAIM_TTL")
    assert refs(origin, "refs/release-claims") == f"{CLAIMED} {fresh}" and refs(pages, "refs/heads") == ""
    assert_last_error(release(repo, "run", env={"RELEASE_CLAIM_TTL": "soon"}), "RELEASE_CLAIM_TTL is 'soon'")
    shorter = release(repo, "run", env={"RELEASE_CLAIM_TTL": "60"})
    assert shorter.code == 0, shorter.err
    assert "took over the claim" in shorter.err


def test_a_cancel_that_lands_while_the_claim_is_pushed_still_drops_it(charted, release, monkeypatch):
    """The push created the ref on origin, but the run was cancelled before `git push` returned (found by CI)."""
    from release.adapters import git as git_adapter
    from release.cli import Terminated

    repo, origin, pages, _ = charted
    real = git_adapter.Git.compare_and_swap

    def cancelled_in_flight(self: Any, remote: str, ref: str, *, expect: str, new: str, env: Any = None) -> Any:
        done = real(self, remote, ref, expect=expect, new=new, env=env)
        if expect == "" and new:  # the claim itself: the ref is on origin, the signal arrives now
            raise Terminated
        return done

    monkeypatch.setattr(git_adapter.Git, "compare_and_swap", cancelled_in_flight)
    result = release(repo, "run")
    assert result.code == 143, result.err
    assert refs(origin, "refs/release-claims") == "" and refs(pages, "refs/heads") == ""
