"""Start-up: `release --help`, `--version`, `version`, `plan` and `notes` on a small repository, against the
interpreter with nothing (`python -c pass`) and with the two libraries every command needs
(`python -c 'import click, yaml'`), in one run.

    python benchmarks/bench_startup.py                   # 20 runs each, interleaved
    python benchmarks/bench_startup.py --before main     # also release/ at another git ref

The repository is gen_history.py's at 500 commits / 50 tags (cached under benchmarks/.work/). The target (issue 17):
`--help`, `version` and `plan` at most 3× `python -c 'import click, yaml'`. Prints a markdown table and, for each
command, the library modules it imported that it does not need (requests, docker, jinja2, the pipeline).
Asserts nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import bench_history as bh  # noqa: E402
import bench_monorepo  # noqa: E402

COMMANDS = (("--help",), ("--version",), ("version",), ("plan",), ("plan", "--json"), ("notes",))
HEAVY = ("requests", "urllib3", "docker", "jinja2", "release.pipeline", "release.images", "release.charts")


def heavy_imports(cmd: list[str], repo: Path, env: dict[str, str]) -> list[str]:
    """Which of HEAVY a run of `cmd` imported (python -X importtime, on stderr)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *cmd[1:]], cwd=repo, env=env, capture_output=True)
    names = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.decode(errors="replace").splitlines()}
    # release.charts.build → release.charts: a package is named once
    return sorted(
        {".".join(n.split(".")[: 2 if n.startswith("release.") else 1]) for n in names if n.startswith(HEAVY)}
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--before", metavar="REF", help="also time release/ at this git ref")
    args = parser.parse_args(argv)
    env = bh.bench_env() | {"PYTHONPATH": str(ROOT)}
    repo = Path(bh.cached_repo(500, 50, None, 1, False)["path"])
    py = sys.executable
    rows = [
        bh.Row("pass", "`python -c pass`", [py, "-c", "pass"]),
        bh.Row("base", "`python -c 'import click, yaml'` (the baseline)", [py, "-c", "import click, yaml"]),
    ]
    for words in COMMANDS:
        cmd = [py, "-c", "from release.cli import main; main()", *words]
        rows.append(bh.Row(" ".join(words), f"`release {' '.join(words)}`", cmd))
    if args.before:
        source = bench_monorepo.source_at(args.before)
        boot = f"import sys; sys.path.insert(0, {str(source)!r}); from release.cli import main; main()"
        for words in COMMANDS:
            rows.append(
                bh.Row(
                    f"before {' '.join(words)}",
                    f"`release {' '.join(words)}` at {args.before}",
                    [py, "-c", boot, *words],
                )
            )
    for _ in range(args.reps + 1):  # interleaved: every row sees the same machine load
        for row in rows:
            bench_monorepo.run_row(row, repo, env)
    by = {r.key: r for r in rows}
    base = by["base"].median or 1.0
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    print(f"release at {head.strip()}, {args.reps} runs each, repository: 500 commits / 50 tags\n")
    print("| command | median s (min–max) | × `import click, yaml` | heavy modules imported |")
    print("|---|---:|---:|---|")
    for row in rows:
        measured = row.key not in ("pass", "base")
        heavy = (", ".join(heavy_imports(row.cmd, repo, env)) or "none") if measured else ""
        ratio = f"{row.median / base:.2f}×" if row.median else "n/a"
        print(f"| {row.label} | {bh.fmt_time(row)} | {ratio} | {heavy} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
