"""Time `release plan --json` on monorepos of 50 and 200 components against one `git log --name-only` pass.

    python benchmarks/bench_monorepo.py                        # 50 and 200 components, 5,000 commits, 7 runs
    python benchmarks/bench_monorepo.py --before main          # also the release at another git ref, same repos

The repositories come from gen_monorepo.py (cached under benchmarks/.work/). The baselines run in the same run:
one `git log --name-only` pass over the whole history (the plain one, and the exact argv release builds), and
`release --version` (interpreter + imports). The target: `plan` at most 3× (one pass + start-up), with a number
of processes that does not grow with the components. `--before REF` extracts `release/` at REF (git archive) and
times it on the same repositories, with a config without `shared:` (which older releases do not know); this tree
runs that config too, so the two rows compare the same work. Prints a markdown table; asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import bench_history as bh  # noqa: E402
import gen_monorepo  # noqa: E402

WORK = HERE / ".work"


def cached(components: int, commits: int) -> Path:
    digest = hashlib.sha1(Path(gen_monorepo.__file__).read_bytes(), usedforsecurity=False).hexdigest()[:8]
    repo = WORK / f"mono-c{components}-n{commits}-{digest}" / "repo"
    if not (repo / ".git").is_dir():
        print(f"generating {components} components, {commits} commits in {repo} ...", file=sys.stderr)
        gen_monorepo.generate(repo, components, commits)
    lines = (repo / "release.yaml").read_text().splitlines()
    plain = "".join((line.split(", shared:")[0] + "}" if "shared:" in line else line) + "\n" for line in lines)
    (repo.parent / "plain.yaml").write_text(plain)  # the same components without `shared:`
    return repo


def source_at(ref: str) -> Path:
    """`release/` as it is at `ref`, extracted once: PYTHONPATH for the "before" rows."""
    sha = subprocess.run(["git", "rev-parse", ref], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    where = WORK / f"source-{sha[:12]}"
    if not (where / "release").is_dir():
        data = subprocess.run(["git", "archive", sha, "release"], cwd=ROOT, capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            archive.extractall(where, filter="data")
    return where


def rows_for(repo: Path, before: Path | None, before_ref: str | None) -> list[bh.Row]:
    rel = bh.release_cmd()
    fmt = "%x01%H%x00%P%x00%an%x00%ae%x00%aI%x00%B"
    ours = ["git", "log", "-z", f"--format={fmt}", "--encoding=UTF-8", "--topo-order", "--name-only", "--no-renames"]
    plain_cfg = str(repo.parent / "plain.yaml")
    rows = [
        bh.Row("log", "`git log -z --name-only HEAD` (one pass)", ["git", "log", "-z", "--name-only", "HEAD"]),
        bh.Row("log_ours", "the same pass with release's argv (format, --topo-order)", [*ours, "HEAD", "--"]),
        bh.Row("startup", "`release --version` (interpreter + imports)", [*rel, "--version"]),
        bh.Row("plan", "`release plan --json` (with `shared:`)", [*rel, "plan", "--json"]),
        bh.Row("plan_plain", "`release plan --json` (no `shared:`)", [*rel, "plan", "--json", "--config", plain_cfg]),
    ]
    if before is not None:
        cmd = [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(before)!r}); from release.cli import main; main()",
        ]
        rows.append(
            bh.Row(
                "before",
                f"`release plan --json` at {before_ref} (no `shared:`)",
                [*cmd, "plan", "--json", "--config", plain_cfg],
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--components", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--before", metavar="REF", help="also time release/ at this git ref")
    args = parser.parse_args(argv)
    env = bh.bench_env() | {"PYTHONPATH": str(ROOT)}
    before = source_at(args.before) if args.before else None
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    print(f"release at {head.strip()}; {bh.machine()}\n")
    for components in args.components:
        repo = cached(components, args.commits)
        tags = len(subprocess.run(["git", "tag"], cwd=repo, capture_output=True, text=True).stdout.split())
        rows = rows_for(repo, before, args.before)
        for _ in range(args.reps + 1):  # interleaved: every row sees the same machine load
            for row in rows:
                run_row(row, repo, env)
        by = {r.key: r for r in rows}
        base = (by["log"].median or 0) + (by["startup"].median or 0)
        print(f"### {components} components, {args.commits} commits (+ merges), {tags} tags, {args.reps} runs\n")
        print("| command | median s (min–max) | × (one pass + start-up) | processes |")
        print("|---|---:|---:|---:|")
        for row in rows:
            spawned = ""
            if row.key.startswith(("plan", "before")):
                children, kinds, _ = bh.count_spawns(row.cmd, repo, env)
                spawned = f"{len(children)} ({', '.join(f'{k} ×{n}' for k, n in sorted(kinds.items()))})"
            ratio = f"{row.median / base:.2f}×" if row.key.startswith(("plan", "before")) and row.median else ""
            print(f"| {row.label} | {bh.fmt_time(row)} | {ratio} | {spawned} |")
        print(f"\none pass + start-up = {base:.3f} s\n")
    return 0


def run_row(row: bh.Row, repo: Path, env: dict[str, str]) -> None:
    """One run of `row`; the first one warms the cache and is not kept."""
    elapsed, out, error = bh.run_once(row.cmd, repo, env, None)
    if error:
        row.error = error
    elif row.stdout:
        row.times.append(elapsed)
    else:
        row.stdout = out or " "


if __name__ == "__main__":
    sys.exit(main())
