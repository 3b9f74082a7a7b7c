"""Promote benchmark: `release promote` into a large infra repository over smart HTTP (Basic auth, loopback),
against (a) what a hand-written CI job does: full `git clone` + edit + commit + push, and (b) the lower bound
of git itself: a shallow, blobless, sparse clone of the one file + edit + commit + push. Same server, same run.

    .venv/bin/python benchmarks/bench_promote.py --reps 5 [--files 20000 --commits 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP))

from benchmarks import common  # noqa: E402
from benchmarks.common import timed  # noqa: E402
from tests.gitserver import GitHTTP  # noqa: E402

VALUES = 'image:\n  repository: registry.example.com/team/app-{i:05d}\n  tag: "1.0.0"  # bumped by CI\n'
USER, TOKEN = "ci", "bench-token-0123456789"


def git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def generate(bare: Path, files: int, commits: int) -> None:
    """One fast-import stream: a first commit with `files` values files, then `commits` commits touching one each."""
    lines: list[bytes] = []
    when = 1_700_000_000

    def commit(message: str, changes: list[tuple[str, str]], mark: int) -> None:
        lines.append(b"commit refs/heads/main\n")
        lines.append(f"mark :{mark}\ncommitter CI <ci@example.com> {when + mark} +0000\n".encode())
        data = message.encode()
        lines.append(f"data {len(data)}\n".encode() + data + b"\n")
        if mark > 1:
            lines.append(f"from :{mark - 1}\n".encode())
        for path, content in changes:
            blob = content.encode()
            lines.append(f"M 100644 inline {path}\ndata {len(blob)}\n".encode() + blob + b"\n")

    commit("chore: initial", [(f"apps/app-{i:05d}/values.yaml", VALUES.format(i=i)) for i in range(files)], 1)
    for n in range(commits):
        i = (n * 7919) % files
        commit(
            f"chore: bump app-{i:05d}",
            [(f"apps/app-{i:05d}/values.yaml", VALUES.format(i=i).replace("1.0.0", f"1.{n}.0"))],
            n + 2,
        )
    git("init", "-q", "--bare", "-b", "main", str(bare))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=bare, input=b"".join(lines), check=True)
    git("config", "http.receivepack", "true", cwd=bare)
    git("config", "uploadpack.allowFilter", "true", cwd=bare)
    git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=bare)
    git("gc", "-q", "--aggressive", cwd=bare)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--commits", type=int, default=10000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-promote-"))
    bare = root / "infra.git"
    started = time.perf_counter()
    generate(bare, args.files, args.commits)
    print(f"generated {args.files} files, {args.commits + 1} commits in {time.perf_counter() - started:.1f} s")
    target = "apps/app-00000/values.yaml"
    release_bin = str(Path(sys.executable).with_name("release"))
    with GitHTTP(root, USER, TOKEN) as server:
        url = f"{server.url}/infra.git"
        auth_url = url.replace("http://", f"http://{USER}:{TOKEN}@")  # the baselines as CI scripts write them
        app = root / "app"
        app.mkdir()
        (app / "release.yaml").write_text(
            f"environments:\n  - name: dev\n    app: app-00000\n    repo: {url}\n    updates:\n"
            f'      - {{file: {target}, set: {{image.tag: "{{version}}"}}}}\n'
        )
        git("init", "-q", "-b", "main", cwd=app)
        git("add", "-A", cwd=app)
        git("-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "chore: app", cwd=app)
        env = {
            **os.environ,
            "RELEASE_GIT_USER": USER,
            "RELEASE_GIT_TOKEN": TOKEN,
            "GIT_AUTHOR_NAME": "CI",
            "GIT_AUTHOR_EMAIL": "ci@example.com",
            "GIT_COMMITTER_NAME": "CI",
            "GIT_COMMITTER_EMAIL": "ci@example.com",
        }
        full, lower, ours = [], [], []
        for rep in range(args.reps):

            def edit(checkout: Path, version: str) -> None:
                path = checkout / target
                path.write_text(path.read_text().replace('tag: "', f'tag: "{version}" #', 1))
                git("commit", "-q", "-am", f"chore(dev): deploy {version}", cwd=checkout, env=env)
                git("push", "-q", "origin", "HEAD:main", cwd=checkout, env=env)

            def full_clone(rep: int = rep) -> None:
                checkout = root / f"full-{rep}"
                git("clone", "-q", auth_url, str(checkout), env=env)
                edit(checkout, f"3.{rep}.0")

            def lower_bound(rep: int = rep) -> None:
                checkout = root / f"lower-{rep}"
                git(
                    "clone",
                    "-q",
                    "--depth",
                    "1",
                    "--filter=blob:none",
                    "--sparse",
                    "--single-branch",
                    "--no-checkout",
                    auth_url,
                    str(checkout),
                    env=env,
                )
                git("sparse-checkout", "set", "--no-cone", f"/{target}", cwd=checkout, env=env)
                git("checkout", "-q", "main", cwd=checkout, env=env)
                edit(checkout, f"4.{rep}.0")

            def promote(rep: int = rep) -> None:
                subprocess.run(
                    [release_bin, "promote", "dev", "--version", f"5.{rep}.0"],
                    cwd=app,
                    env=env,
                    check=True,
                    capture_output=True,
                )

            full.append(timed(full_clone))
            lower.append(timed(lower_bound))
            git("tag", f"v5.{rep}.0", cwd=app)  # only a released version is promoted (its tag names the commit)
            ours.append(timed(promote))
        f, lo, o = (statistics.median(x) for x in (full, lower, ours))
        startup = common.startup(release_bin)
        print(f"reps: {args.reps}; smart HTTP with Basic auth on loopback (git http-backend)")
        print("| what | median s | ratio to full clone | ratio to lower bound |")
        print("| --- | --- | --- | --- |")
        print(f"| (a) git clone + edit + commit + push (full) | {f:.2f} | 1.00 | {f / lo:.2f} |")
        print(f"| (b) shallow + blobless + sparse clone + edit + commit + push | {lo:.2f} | {lo / f:.2f} | 1.00 |")
        print(f"| release promote dev | {o:.2f} | {o / f:.2f} | {o / lo:.2f} |")
        print(f"| (release --version: interpreter start-up, included above) | {startup:.2f} | | |")


if __name__ == "__main__":
    main()
