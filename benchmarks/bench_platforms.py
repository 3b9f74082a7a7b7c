"""Multi-platform benchmark: `release build --push` of a two-platform image (two builds, each pushed by digest,
one index under four tags) against the same single-platform work done twice (two single-platform images, each
built and pushed under four tags by the engine).

Same Podman service and registry, alternating, each rep on fresh random content (no side reuses another's layer
cache). A `release` process per run, as a user runs it.

    .venv/bin/python benchmarks/bench_platforms.py --reps 5 [--size-mb 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP))

from benchmarks.common import engine_and_registry, timed  # noqa: E402


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_repo(path: Path, repository: str, payload: bytes, platforms: str = "", extra: str = "") -> None:
    path.mkdir(parents=True)
    (path / "payload.bin").write_bytes(payload)
    (path / "Dockerfile").write_text("FROM scratch\nCOPY payload.bin /payload.bin\n")
    config = f"images:\n  - name: bench\n    repository: {repository}\n"
    if platforms:
        config += f"    platforms: [{platforms}]\n"
    (path / "release.yaml").write_text(config + extra)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "feat: bench")


def runner(release_bin: str, env: dict[str, str]) -> Callable[[Path], None]:
    def run(repo: Path) -> None:
        done = subprocess.run([release_bin, "build", "--push"], cwd=repo, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"release build --push failed in {repo}:\n{done.stderr}")

    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--size-mb", type=int, default=8, help="size of the layer each build adds")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-platforms-"))
    release_bin = str(Path(sys.executable).with_name("release"))
    with engine_and_registry(root) as (registry, podman, env):
        run = runner(release_bin, env)
        single, multi = [], []
        for rep in range(args.reps):
            payload = os.urandom(args.size_mb * 1024 * 1024)
            one, two = root / f"single-a-{rep}", root / f"single-b-{rep}"
            make_repo(one, f"{registry.host}/bench/single-a{rep}", payload + b"a")
            make_repo(two, f"{registry.host}/bench/single-b{rep}", payload + b"b")
            single.append(timed(lambda one=one, two=two: (run(one), run(two))[0]))  # type: ignore[misc]
            both = root / f"multi-{rep}"
            make_repo(both, f"{registry.host}/bench/multi{rep}", payload + b"m", "linux/amd64, linux/arm64")
            multi.append(timed(lambda both=both: run(both)))  # type: ignore[misc]
        s, m = statistics.median(single), statistics.median(multi)
        version = podman.cli("--version").stdout.split()[-1]
        print(f"reps: {args.reps}, layer: {args.size_mb} MiB, 4 tags, engine: podman {version}")
        print("| what | median s | ratio to single-platform ×2 |")
        print("| --- | --- | --- |")
        print(f"| release build --push, single-platform, two images (baseline) | {s:.2f} | 1.00 |")
        print(f"| release build --push, platforms [linux/amd64, linux/arm64] | {m:.2f} | {m / s:.2f} |")


if __name__ == "__main__":
    main()
