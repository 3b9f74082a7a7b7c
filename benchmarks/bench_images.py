"""Images benchmark: `release build --push` against `podman build` + `podman push` of the same context.

Both run in the same process against the same loopback registry and Podman service, alternating, each rep on
fresh content (so neither side gets the other's layer cache) and a fresh repository. Also times the rerun,
which should find the version published and do nothing but read the registry.

    .venv/bin/python benchmarks/bench_images.py --reps 5 [--size-mb 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP))

from benchmarks.common import engine_and_registry, timed  # noqa: E402

TAGS = ("{version}", "{major}.{minor}", "{major}", "sha-{short_sha}")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_repo(path: Path, repository: str, payload: bytes) -> None:
    path.mkdir(parents=True)
    (path / "payload.bin").write_bytes(payload)
    (path / "Dockerfile").write_text("FROM scratch\nCOPY payload.bin /payload.bin\n")
    (path / "release.yaml").write_text(f"images:\n  - name: bench\n    repository: {repository}\n")
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "feat: bench")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--size-mb", type=int, default=8, help="size of the layer each build adds")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-images-"))
    release_bin = str(Path(sys.executable).with_name("release"))
    with engine_and_registry(root) as (registry, podman, env):
        login = subprocess.run(
            ["podman", "login", "--tls-verify=false", "-u", registry.user, "--password-stdin", registry.host],
            input=registry.password,
            env=podman.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if login.returncode != 0:
            sys.exit(f"podman login failed: {login.stderr}")
        ours, baseline, rerun = [], [], []
        for rep in range(args.reps):
            payload = os.urandom(args.size_mb * 1024 * 1024)
            # baseline: what a CI script does: build, tag the same four tags, push each
            ctx = root / f"plain-{rep}"
            make_repo(ctx, f"{registry.host}/bench/plain{rep}", payload + b"plain")
            ref = f"{registry.host}/bench/plain{rep}"
            sha = git(ctx, "rev-parse", "HEAD")[:7]

            def plain(ctx: Path = ctx, ref: str = ref, sha: str = sha) -> None:
                podman.cli("build", "-q", "-t", f"{ref}:0.1.0", str(ctx))
                for tag in ("0.1", "0", f"sha-{sha}"):
                    podman.cli("tag", f"{ref}:0.1.0", f"{ref}:{tag}")
                for tag in ("0.1.0", "0.1", "0", f"sha-{sha}"):
                    podman.cli("push", "--tls-verify=false", f"{ref}:{tag}")

            baseline.append(timed(plain))
            repo = root / f"ours-{rep}"
            make_repo(repo, f"{registry.host}/bench/ours{rep}", payload + b"ours")

            def build(repo: Path = repo) -> None:
                subprocess.run([release_bin, "build", "--push"], cwd=repo, env=env, check=True, capture_output=True)

            ours.append(timed(build))
            rerun.append(timed(build))
        b, o, r = (statistics.median(x) for x in (baseline, ours, rerun))
        version = podman.cli("--version").stdout.split()[-1]
        print(f"reps: {args.reps}, layer: {args.size_mb} MiB, 4 tags, engine: podman {version}")
        print("| what | median s | ratio to podman build + push |")
        print("| --- | --- | --- |")
        print(f"| podman build + tag + push x4 (baseline) | {b:.2f} | 1.00 |")
        print(f"| release build --push | {o:.2f} | {o / b:.2f} |")
        print(f"| release build --push, rerun (already published) | {r:.2f} | {r / b:.2f} |")


if __name__ == "__main__":
    main()
