"""`release plan` in a depth-1 clone: release's bounded deepen against `git fetch --unshallow --tags` first.

Each rep clones the repository with `--depth 1` over file:// (which honours --depth, as a CI checkout does) twice
and runs `release plan` in both: once as it comes (release deepens HEAD's history back to the release it builds on
and fetches the tags on it), once after `git fetch --unshallow --tags origin HEAD` (the fix users are told to
apply). The baseline, in the same run, is `release plan` in a full clone, where nothing is fetched. Reports medians
and ratios; asserts nothing.

    python benchmarks/bench_shallow.py --reps 5                  # the podinfo mirror at its default branch
    python benchmarks/bench_shallow.py --reps 5 --ref 6.14.1 --tag-format '{version}'
    python benchmarks/bench_shallow.py --reps 3 --generate 20000 --tags 2000   # a generated history (gen_history.py)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PODINFO = Path("/work/.mirror/stefanprodan+podinfo/repo")


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed in {cwd}: {proc.stderr.strip()}")
    return proc.stdout


def clone(source: Path, dest: Path, ref: str | None, depth: int | None) -> None:
    args = ["git", "clone", "-q"] + ([f"--depth={depth}"] if depth else []) + (["--branch", ref] if ref else [])
    run(*args, f"file://{source}", str(dest), cwd=dest.parent)


def timed(*args: str, cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    out = run(*args, cwd=cwd, env=env)
    return time.perf_counter() - started, out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=PODINFO, help="a repository to clone (default: podinfo's mirror)")
    parser.add_argument("--ref", help="clone this branch or tag (default: the repository's HEAD)")
    parser.add_argument("--tag-format", default=None, help='versioning.tag_format (podinfo: "{version}")')
    parser.add_argument("--generate", type=int, metavar="COMMITS", help="generate a history instead (gen_history.py)")
    parser.add_argument("--tags", type=int, default=1000, help="tags in a generated history")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-shallow-"))
    try:
        source = args.repo
        tag_format = args.tag_format
        if args.generate:
            sys.path.insert(0, str(HERE))
            from gen_history import generate  # type: ignore[import-not-found]

            source = work / "generated"
            generate(source, args.generate, args.tags)
        elif tag_format is None and source == PODINFO:
            tag_format = "{version}"
        config = work / "release.yaml"
        config.write_text(f'versioning:\n  tag_format: "{tag_format or "v{version}"}"\n', encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(HERE.parent), "GIT_TERMINAL_PROMPT": "0"}
        plan = (sys.executable, "-m", "release", "plan", "--config", str(config))
        rows: dict[str, list[float]] = {
            "full clone (baseline)": [],
            "depth 1, release deepens": [],
            "depth 1, --unshallow first": [],
        }
        answers = set()
        for rep in range(args.reps):
            full, bounded, unshallow = (work / f"{name}-{rep}" for name in ("full", "bounded", "unshallow"))
            clone(source, full, args.ref, None)
            clone(source, bounded, args.ref, 1)
            clone(source, unshallow, args.ref, 1)
            seconds, out = timed(*plan, cwd=full, env=env)
            rows["full clone (baseline)"].append(seconds)
            answers.add(out)
            seconds, out = timed(*plan, cwd=bounded, env=env)
            rows["depth 1, release deepens"].append(seconds)
            answers.add(out)
            head = run("git", "rev-parse", "HEAD", cwd=unshallow).strip()
            started = time.perf_counter()
            run("git", "fetch", "-q", "--unshallow", "--tags", "origin", head, cwd=unshallow, env=env)
            _, out = timed(*plan, cwd=unshallow, env=env)
            rows["depth 1, --unshallow first"].append(time.perf_counter() - started)
            answers.add(out)
            for path in (full, bounded, unshallow):
                shutil.rmtree(path)
        commits = run("git", "rev-list", "--count", args.ref or "HEAD", cwd=source)
        print(f"{source} at {args.ref or 'HEAD'}: {commits.strip()} commits; {args.reps} reps, medians")
        print("identical answers:", "yes" if len(answers) == 1 else f"NO ({len(answers)} different)")
        base = statistics.median(rows["full clone (baseline)"])
        for name, values in rows.items():
            median = statistics.median(values)
            print(f"  {name:<28} {median * 1000:8.0f} ms   {median / base:5.2f}x the full clone")
        ratio = statistics.median(rows["depth 1, --unshallow first"]) / statistics.median(
            rows["depth 1, release deepens"]
        )
        print(f"  --unshallow first / release deepens: {ratio:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
