"""Fast failures: how long `release run` takes to say that a registry cannot be reached, against `release plan` on
the same repository (the cost of starting release and planning: the floor of any run), in the same run.

    .venv/bin/python benchmarks/bench_failfast.py --reps 5 [--before 43cac6c]

The repository has one released tag, a feat commit after it, a test command that writes a file, and one image
whose registry is either 127.0.0.1:<a closed port> (a refused connection) or registry.invalid (a name that does
not resolve: RFC 2606 guarantees it never does). Contenders, alternating, each `--reps` times after a warm-up
(median, min-max):

- `release plan` (the floor);
- `release run` with the closed port, and with registry.invalid: each must exit 1 with one line naming the host,
  and with the test command not run (the preflight stops it before the tests);
- with `--before REV`, the same two runs with `release` as it was at REV (its source taken with `git archive`):
  43cac6c retried both for ~16 s, after running the tests.

This measures and prints; it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
IDENTITY = {
    "GIT_AUTHOR_NAME": "CI",
    "GIT_AUTHOR_EMAIL": "ci@example.com",
    "GIT_COMMITTER_NAME": "CI",
    "GIT_COMMITTER_EMAIL": "ci@example.com",
}


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **IDENTITY})


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_app(root: Path, registry: str) -> Path:
    app = root / registry.replace(":", "-").replace(".", "-")
    app.mkdir()
    git("init", "-q", "-b", "main", cwd=app)
    (app / "Dockerfile").write_text("FROM scratch\nCOPY app.txt /app.txt\n")
    (app / "app.txt").write_text("v1\n")
    (app / "release.yaml").write_text(
        'tests:\n  - {name: unit, run: "echo ran >> tests-ran"}\n'
        f"images:\n  - {{name: app, repository: {registry}/team/app}}\n"
    )
    git("add", "-A", cwd=app)
    git("commit", "-q", "-m", "feat: first", cwd=app)
    git("tag", "v1.0.0", cwd=app)
    (app / "app.txt").write_text("v2\n")
    git("commit", "-q", "-am", "feat: second", cwd=app)
    return app


def old_release(root: Path, rev: str) -> list[str]:
    """`release` as it was at `rev`, run from its own source tree (git archive of release/)."""
    src = root / f"release-{rev}"
    src.mkdir()
    archive = subprocess.run(["git", "archive", rev, "release"], cwd=TOP, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    code = f"import sys; sys.path.insert(0, {str(src)!r}); from release.cli import main; main()"
    return [sys.executable, "-c", code]


def current_release() -> list[str]:
    code = f"import sys; sys.path.insert(0, {str(TOP)!r}); from release.cli import main; main()"
    return [sys.executable, "-c", code]


TESTS_RAN: dict[str, bool] = {}


def failing_run(command: list[str], app: Path, host: str, name: str) -> Callable[[], None]:
    def run() -> None:
        (app / "tests-ran").unlink(missing_ok=True)
        proc = subprocess.run([*command, "run"], cwd=app, capture_output=True, text=True, env=bench_env())
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 1 and f"cannot reach registry {host}" in lines[-1], proc.stderr
        TESTS_RAN[name] = (app / "tests-ran").exists()

    return run


def bench_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI", "GITLAB_", "GITHUB_", "RELEASE_"))}
    return {**env, **IDENTITY}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--before", metavar="REV", help="also time `release run` as it was at REV (e.g. 43cac6c)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="release-bench-failfast-") as tmp:
        root = Path(tmp)
        closed = f"127.0.0.1:{closed_port()}"
        apps = {closed: make_app(root, closed), "registry.invalid": make_app(root, "registry.invalid")}
        now = current_release()
        plan_app = apps[closed]
        contenders: dict[str, Callable[[], None]] = {
            "release plan (the floor)": lambda: subprocess.run(
                [*now, "plan"], cwd=plan_app, check=True, capture_output=True, env=bench_env()
            ).check_returncode(),
            "release run, refused connection": failing_run(now, apps[closed], closed, "refused"),
            "release run, name does not resolve": failing_run(
                now, apps["registry.invalid"], "registry.invalid", "no name"
            ),
        }
        if args.before:
            before = old_release(root, args.before)
            contenders[f"release run at {args.before}, refused connection"] = failing_run(
                before, apps[closed], closed, f"refused at {args.before}"
            )
            contenders[f"release run at {args.before}, name does not resolve"] = failing_run(
                before, apps["registry.invalid"], "registry.invalid", f"no name at {args.before}"
            )
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for run in contenders.values():
            run()  # warm-up
        for _ in range(args.reps):
            for name, run in contenders.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
        floor = statistics.median(times["release plan (the floor)"])
        print(f"{'contender':48} {'median':>8} {'min-max':>15} {'x plan':>7}")
        for name, found in times.items():
            median = statistics.median(found)
            print(f"{name:48} {median:7.2f}s {min(found):6.2f}-{max(found):6.2f}s {median / floor:6.1f}x")
        print("the test command ran before the failure:", ", ".join(f"{k}: {v}" for k, v in TESTS_RAN.items()))


if __name__ == "__main__":
    main()
