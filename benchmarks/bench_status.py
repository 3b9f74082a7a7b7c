"""Status benchmark: `release status` on an infra repository of 50 environments and 10,000 commits, against
`git log -1 -- FILES` once per environment (what a script asking "which commit last touched each environment's
files" runs), in the same run.

    .venv/bin/python benchmarks/bench_status.py --reps 5 [--envs 50 --commits 10000] [--before 03703cf]

The repository is one `git fast-import` stream (fixed seed and dates: the same shas everywhere): a first commit
with two files per environment (Helm values, a kustomization with an `images:` entry) and platform files, then
commits that are, at random, promotes written the way `release promote` writes them (both files, record
trailers), hand edits of a value nobody records (`replicaCount`), and platform changes that touch no
environment. Environments are promoted with falling frequency, so some records are many thousands of commits deep,
and the last five environments were never promoted. The last commits hold a rollback (held), a rollback and its
`release unhold`, and hand edits of a recorded tag in two environments (drifted). The script checks that
`release status --json` reports exactly that.

Contenders, alternating, each `--reps` times after a warm-up (median, min–max):

- `release status --json` from the app repository (its own blobless clone over file://, one `git log` of all the
  environments' files, one `git diff-tree` for drift, the changed blobs fetched in one request);
- 50 × `git log -1 --format=%H%x00%cI -- FILES` in a full local clone (no clone in the timing);
- the same 50 `git log -1` after a blobless clone of the repository (what a script needs first in CI);
- with `--before REV`, `release status` as it was at REV (03703cf: one clone per environment, the first value
  of the first file); its source is taken with `git archive`.

Git processes started are counted with GIT_TRACE. This measures and prints; it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
WHEN = 1_700_000_000
VALUES = (
    'replicaCount: {replicas}\nimage:\n  repository: registry.example.com/team/app\n  tag: "{tag}"  # bumped by CI\n'
)
KUSTOMIZATION = "resources:\n  - ../../base\nimages:\n  - name: registry.example.com/team/app\n    newTag: {tag}\n"
IDENTITY = {
    "GIT_AUTHOR_NAME": "CI",
    "GIT_AUTHOR_EMAIL": "ci@example.com",
    "GIT_COMMITTER_NAME": "CI",
    "GIT_COMMITTER_EMAIL": "ci@example.com",
}


def git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def env_files(e: int) -> tuple[str, str]:
    return f"envs/env-{e:02d}/values.yaml", f"envs/env-{e:02d}/kustomization.yaml"


class Stream:
    """A `git fast-import` stream on one branch, commit by commit."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.mark = 0
        self.files: dict[str, str] = {}

    def commit(self, message: str, changes: dict[str, str]) -> None:
        self.mark += 1
        self.files.update(changes)
        head = f"commit refs/heads/main\nmark :{self.mark}\ncommitter CI <ci@example.com> {WHEN + self.mark} +0000\n"
        data = message.encode()
        self.chunks.append(head.encode() + f"data {len(data)}\n".encode() + data + b"\n")
        if self.mark > 1:
            self.chunks.append(f"from :{self.mark - 1}\n".encode())
        for path, content in changes.items():
            blob = content.encode()
            self.chunks.append(f"M 100644 inline {path}\ndata {len(blob)}\n".encode() + blob + b"\n")


def record_message(e: int, action: str, version: str, n: int, extra: str = "") -> str:
    return (
        f"chore(env-{e:02d}): {action} app {version}\n\nSource commit: {n:040x}\n\n"
        f"Release-Version: {version}\nRelease-Source: {n:040x}\n"
        f"Release-Pipeline: https://gitlab.example.com/team/app/-/pipelines/{n}\nRelease-Environment: env-{e:02d}\n"
        + extra
    )


def generate(bare: Path, envs: int, commits: int) -> dict[str, list[str]]:
    """The repository, and what status must find: {held, released, drifted, unknown: [env names]}."""
    rng = random.Random(1)
    s = Stream()
    first = {f"platform/cluster-{k}.yaml": f"cluster: {k}\nreplicas: 1\n" for k in range(20)}
    for e in range(envs):
        values, kustomization = env_files(e)
        first[values] = VALUES.format(replicas=1, tag="0.0.0")
        first[kustomization] = KUSTOMIZATION.format(tag="0.0.0")
    s.commit("chore: initial layout", first)
    promoted = envs - 5  # the last five are never promoted
    weights = [1 / (e + 1) ** 2 for e in range(promoted)]  # env-00 often, env-44 rarely: records at every depth
    versions = {e: "0.0.0" for e in range(envs)}
    tail = 5  # the scripted commits at the end
    for n in range(1, commits - tail):
        roll = rng.random()
        if n <= promoted or roll < 0.5:  # every environment once first: its oldest record is the deepest
            e = n - 1 if n <= promoted else rng.choices(range(promoted), weights)[0]
            version = versions[e] = f"1.{n}.0"
            values, kustomization = env_files(e)
            changes = {
                values: VALUES.format(replicas=1, tag=version),
                kustomization: KUSTOMIZATION.format(tag=version),
            }
            s.commit(record_message(e, "deploy", version, n), changes)
        elif roll < 0.6:
            e = rng.randrange(envs)
            values, _ = env_files(e)
            s.commit(f"ops: scale env-{e:02d}", {values: VALUES.format(replicas=rng.randint(2, 9), tag=versions[e])})
        else:
            k = rng.randrange(20)
            s.commit(f"platform: tune cluster-{k}", {f"platform/cluster-{k}.yaml": f"cluster: {k}\nreplicas: {n}\n"})
    # a rollback (held), a rollback then its unhold, and two hand edits of a recorded value (drift)
    for e, n in ((0, commits), (1, commits + 1)):
        previous, current = "0.9.0", versions[e]
        values, kustomization = env_files(e)
        changes = {values: VALUES.format(replicas=1, tag=previous), kustomization: KUSTOMIZATION.format(tag=previous)}
        extra = f"Release-Rollback-From: {current}\nRelease-Restores: {n:040x}\nRelease-Hold: true\n"
        s.commit(record_message(e, "roll back", previous, n, extra), changes)
    s.commit("chore(env-01): release the hold on app\n\nRelease-Environment: env-01\nRelease-Hold: false\n", {})
    for e, which in ((2, 0), (3, 1)):
        path = env_files(e)[which]
        s.commit(f"hotfix env-{e:02d} by hand", {path: s.files[path].replace(versions[e], versions[e] + "-hotfix")})
    git("init", "-q", "--bare", "-b", "main", str(bare))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=bare, input=b"".join(s.chunks), check=True)
    git("config", "uploadpack.allowFilter", "true", cwd=bare)
    git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=bare)
    git("gc", "-q", cwd=bare)
    return {
        "held": ["env-00"],
        "released": ["env-01"],
        "drifted": ["env-02", "env-03"],
        "unknown": [f"env-{e:02d}" for e in range(promoted, envs)],
    }


def app_repo(root: Path, bare: Path, envs: int) -> Path:
    app = root / "app"
    app.mkdir()
    lines = ["environments:"]
    for e in range(envs):
        values, kustomization = env_files(e)
        lines += [
            f"  - name: env-{e:02d}",
            f"    repo: file://{bare}",
            "    updates:",
            f'      - {{file: {values}, set: {{image.tag: "{{version}}"}}}}',
            f'      - {{file: {kustomization}, image: {{name: registry.example.com/team/app, newTag: "{{version}}"}}}}',
        ]
    (app / "release.yaml").write_text("\n".join(lines) + "\n")
    git("init", "-q", "-b", "main", cwd=app)
    git("add", "-A", cwd=app)
    git("-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "chore: app", cwd=app)
    return app


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def bench_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "GITHUB_", "GITLAB_", "RELEASE_"))}
    return {**env, **IDENTITY}


def git_processes(call: Callable[[], object]) -> int:
    """How many git processes `call` started (server sides of file:// fetches included), from GIT_TRACE."""
    with tempfile.NamedTemporaryFile("r", suffix=".trace") as trace:
        os.environ["GIT_TRACE"] = trace.name
        try:
            call()
        finally:
            del os.environ["GIT_TRACE"]
        return sum(" trace: built-in: git " in line for line in Path(trace.name).read_text().splitlines())


def old_release(root: Path, rev: str) -> list[str]:
    """`release` as it was at `rev`, run from its own source tree (git archive of release/)."""
    src = root / f"release-{rev}"
    src.mkdir()
    archive = subprocess.run(["git", "archive", rev, "release"], cwd=TOP, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    code = f"import sys; sys.path.insert(0, {str(src)!r}); from release.cli import main; main()"
    return [sys.executable, "-c", code]


def check(out: str, expected: dict[str, list[str]], envs: int) -> str:
    rows = {row["env"]: row for row in json.loads(out)}
    assert len(rows) == envs
    found = {
        "held": sorted(n for n, r in rows.items() if r["held"]),
        "released": sorted(n for n, r in rows.items() if r["hold_released_by"]),
        "drifted": sorted(n for n, r in rows.items() if r["drifted"]),
        "unknown": sorted(n for n, r in rows.items() if not r["recorded"]),
    }
    assert found == expected, (found, expected)
    return ", ".join(f"{k}: {' '.join(v)}" for k, v in found.items())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--envs", type=int, default=50)
    parser.add_argument("--commits", type=int, default=10000)
    parser.add_argument("--before", metavar="REV", help="also time `release status` as it was at REV (e.g. 03703cf)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-status-"))
    bare = root / "infra.git"
    started = time.perf_counter()
    expected = generate(bare, args.envs, args.commits)
    count = git("rev-list", "--count", "main", cwd=bare).strip()
    print(f"generated {args.envs} environments, {count} commits in {time.perf_counter() - started:.1f} s")
    app = app_repo(root, bare, args.envs)
    ours = [str(Path(sys.executable).with_name("release")), "status", "--json"]
    local = root / "local.git"
    git("clone", "-q", "--bare", str(bare), str(local))
    files = [env_files(e) for e in range(args.envs)]

    def status() -> None:
        proc = subprocess.run(ours, cwd=app, env=bench_env(), check=True, capture_output=True, text=True)
        status.out = proc.stdout  # type: ignore[attr-defined]

    def log_each(where: Path) -> None:
        for pair in files:
            git("log", "-1", "--format=%H%x00%cI", "--", *pair, cwd=where, env=bench_env())

    def clone_then_log_each() -> None:
        target = root / "blobless.git"
        shutil.rmtree(target, ignore_errors=True)
        git("clone", "-q", "--bare", "--filter=blob:none", f"file://{bare}", str(target), env=bench_env())
        log_each(target)

    contenders: dict[str, Callable[[], None]] = {
        "release status --json": status,
        f"{args.envs} × git log -1 -- FILES (local full clone)": lambda: log_each(local),
        f"blobless clone + {args.envs} × git log -1 -- FILES": clone_then_log_each,
    }
    before = old_release(root, args.before) if args.before else None
    if before is not None:
        contenders[f"release status at {args.before} (one clone per environment)"] = lambda: subprocess.run(
            [*before, "status", "--json"], cwd=app, env=bench_env(), check=True, capture_output=True
        )
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for call in contenders.values():
        call()  # warm-up: page cache, pyc
    print("release status found:", check(status.out, expected, args.envs))  # type: ignore[attr-defined]
    for _ in range(args.reps):
        for name, call in contenders.items():
            times[name].append(timed(call))
    startup = statistics.median(
        timed(lambda: subprocess.run([ours[0], "--version"], check=True, capture_output=True)) for _ in range(3)
    )
    baseline = statistics.median(times[f"{args.envs} × git log -1 -- FILES (local full clone)"])
    print(f"reps: {args.reps}; medians, ratio to {args.envs} × git log -1 in a local clone")
    print("| what | median s (min–max) | × git log -1 per environment | git processes |")
    print("| --- | ---: | ---: | ---: |")
    spawned = {name: git_processes(call) for name, call in contenders.items()}
    for name, values in times.items():
        median = statistics.median(values)
        spread = f"{median:.3f} ({min(values):.3f}–{max(values):.3f})"
        print(f"| {name} | {spread} | {median / baseline:.2f} | {spawned[name]} |")
    print(f"| (release --version: interpreter start-up, included above) | {startup:.3f} | | |")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
