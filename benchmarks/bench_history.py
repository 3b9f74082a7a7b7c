"""Time `release plan` and `release notes` on a large history against raw `git log` and git-cliff, in one run.

    python benchmarks/bench_history.py                          # 100k commits, 10k tags (generated once, cached)
    python benchmarks/bench_history.py --commits 2000 --tags 200 --reps 3   # a quick run

The repository comes from gen_history.py and is cached under benchmarks/.work/. Every command runs once to warm
the page cache, then `--reps` times; the table shows the median and the ratios to baselines measured in the same
run: the raw `git log` of the same range with the argv release builds, the git commands the release command
itself spawns replayed from sh (what release costs on top of its git work), and the closest git-cliff command.
Commands marked "slow" (git-cliff walking every tag of the whole history) run once, with `--slow-timeout`.
Before timing, the processes each release command spawns are counted (strace, or GIT_TRACE when strace is
missing) on this repository and on a small one, to show that the count does not grow with commits or tags.

This measures and prints; it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gen_history  # noqa: E402

from release.adapters.git import Git  # noqa: E402

WORK = HERE / ".work"
CI_PREFIXES = ("CI_", "GITHUB_", "GITLAB_", "RELEASE_")
UNFINISHED = ("timeout", "killed")  # errors after which the elapsed time is a lower bound
SOURCE_DATE_EPOCH = "1767225600"  # notes dated 2026-01-01 on every run

CLIFF_TOML = r'''# Minimal git-cliff config: conventional commits, v-tags, release-please-like sections.
[changelog]
header = ""
body = """
{% if version %}## {{ version | trim_start_matches(pat="v") }} ({{ timestamp | date(format="%Y-%m-%d") }})\
{% else %}## Unreleased{% endif %}
{% for group, commits in commits | group_by(attribute="group") %}
### {{ group | striptags | trim }}

{% for commit in commits -%}
* {% if commit.scope %}**{{ commit.scope }}:** {% endif %}{{ commit.message | split(pat="\n") | first | trim }} \
({{ commit.id | truncate(length=7, end="") }})
{% endfor %}
{% endfor %}
"""
footer = ""
trim = true

[git]
conventional_commits = true
filter_unconventional = true
split_commits = false
protect_breaking_commits = true
filter_commits = true
commit_parsers = [
  { message = "^feat", group = "Features" },
  { message = "^fix", group = "Bug Fixes" },
  { message = "^perf", group = "Performance Improvements" },
  { message = "^revert", group = "Reverts" },
  { message = ".*", skip = true },
]
tag_pattern = '^v[0-9]+\.[0-9]+\.[0-9]+$'
topo_order = false
sort_commits = "newest"

[bump]
features_always_bump_minor = true
breaking_always_bump_major = true
'''


# --- tools and environment ---------------------------------------------------------------------------------------


def script(name: str) -> str | None:
    """The real executable: the interpreter's scripts dir first (a pyenv shim would add ~100 ms of bash)."""
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def release_cmd() -> list[str]:
    found = script("release")
    return [found] if found else [sys.executable, "-m", "release"]


def bench_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CI_PREFIXES) and k not in ("CI", "GIT_DIR")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH,
        NO_COLOR="1",
        GIT_TERMINAL_PROMPT="0",
    )
    return env


def version_of(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=30)
    except OSError:
        return "missing"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "?"


def machine() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "git": version_of(["git", "--version"]),
        "git-cliff": version_of([script("git-cliff") or "git-cliff", "--version"]),
        "release": version_of([*release_cmd(), "--version"]),
    }


# --- the repository ----------------------------------------------------------------------------------------------


def cached_repo(commits: int, tags: int, unreleased: int | None, seed: int, commit_graph: bool) -> dict:
    """The generated repository for these arguments, generated on first use (keyed by the generator's source)."""
    digest = hashlib.sha1(Path(gen_history.__file__).read_bytes(), usedforsecurity=False).hexdigest()[:8]
    key = f"c{commits}-t{tags}-u{unreleased if unreleased is not None else 'd'}-s{seed}{'-cg' if commit_graph else ''}"
    base = WORK / f"{key}-{digest}"
    facts_path, repo = base / "facts.json", base / "repo"
    if facts_path.is_file():
        facts = json.loads(facts_path.read_text())
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=False)
        if head.stdout.strip() == facts["head"]:
            facts["reused"] = True
            return facts
    for stale in WORK.glob(f"{key}-*"):  # an older generator's output
        shutil.rmtree(stale, ignore_errors=True)
    print(f"generating {commits} commits, {tags} tags in {repo} ...", file=sys.stderr, flush=True)
    facts = gen_history.generate(repo, commits, tags, unreleased, seed)
    if commit_graph:
        subprocess.run(["git", "commit-graph", "write", "--reachable"], cwd=repo, check=True, capture_output=True)
    facts["commit_graph"] = commit_graph
    facts_path.write_text(json.dumps(facts, indent=2))
    facts["reused"] = False
    print(f"generated in {facts['seconds']} s", file=sys.stderr, flush=True)
    return facts


# --- timing ------------------------------------------------------------------------------------------------------


@dataclass
class Row:
    key: str
    label: str  # what the table shows
    cmd: list[str]
    vs_git: str | None = None  # key of the raw git log row for this range
    vs_cliff: str | None = None  # key of the git-cliff counterpart
    vs_reads: str | None = None  # key of the replay of this command's own git processes
    counterpart: str | None = None  # for git-cliff rows: key of the release command doing the same job
    slow: bool = False  # run once, under the slow timeout
    times: list[float] = field(default_factory=list)
    stdout: str = ""
    error: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times and self.error is None else None


def run_once(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float | None) -> tuple[float, str, str | None]:
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - started, "", f"timeout after {timeout:.0f} s"
    elapsed = time.perf_counter() - started
    if proc.returncode < 0:  # killed from outside (not by us): the time so far is a lower bound
        return elapsed, "", f"killed by signal {-proc.returncode}"
    if proc.returncode != 0:
        return elapsed, "", f"exit {proc.returncode}: {proc.stderr.decode(errors='replace').strip()[-300:]}"
    return elapsed, proc.stdout.decode(errors="replace"), None


def measure(row: Row, cwd: Path, env: dict[str, str], reps: int, slow_timeout: float) -> None:
    runs = 1 if row.slow else reps + 1  # the first (warm-up) run is not counted
    for i in range(runs):
        elapsed, out, error = run_once(row.cmd, cwd, env, slow_timeout if row.slow else None)
        if error:
            row.error, row.times = error, [elapsed]
            break
        if i == 0:
            row.stdout = out
        if row.slow or i > 0:
            row.times.append(elapsed)
    shown = f"{row.median:.3f} s" if row.median is not None else row.error
    print(f"  {row.label:<62} {shown}", file=sys.stderr, flush=True)


def fmt_ratio(row: Row, base: Row | None) -> str:
    if base is None:
        return ""
    timed_out = bool(row.error and row.error.startswith(UNFINISHED))
    base_timed_out = bool(base.error and base.error.startswith(UNFINISHED))
    if timed_out and base.median is not None:
        return f"> {row.times[0] / base.median:.0f}×"
    if base_timed_out and row.median is not None:
        return f"< {row.median / base.times[0]:.2g}×"
    if row.median is None or base.median is None:
        return "n/a"
    ratio = row.median / base.median
    return f"{ratio:.2f}×" if ratio >= 0.1 else f"{ratio:.2g}×"


def fmt_time(row: Row) -> str:
    if row.error and row.error.startswith(UNFINISHED):
        return f"> {row.times[0]:.0f} ({row.error.split(' after')[0]})"
    if row.error:
        return "failed"
    spread = f" ({min(row.times):.3f}–{max(row.times):.3f})" if len(row.times) > 1 else " (1 run)"
    return f"{row.median:.3f}{spread}"


def table(rows: list[Row], by_key: dict[str, Row]) -> str:
    lines = [
        "| command | median s (min–max) | × raw git log | × its own git reads | × git-cliff |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        base_git = by_key.get(row.vs_git) if row.vs_git else None
        base_reads = by_key.get(row.vs_reads) if row.vs_reads else None
        base_cliff = by_key.get(row.vs_cliff) if row.vs_cliff else None
        lines.append(
            f"| {row.label} | {fmt_time(row)} | {fmt_ratio(row, base_git)} | {fmt_ratio(row, base_reads)} "
            f"| {fmt_ratio(row, base_cliff)} |"
        )
    return "\n".join(lines)


def slow_table(rows: list[Row], by_key: dict[str, Row]) -> str:
    lines = [
        "| command | s | × raw git log | release counterpart | release ÷ this |",
        "|---|---:|---:|---|---:|",
    ]
    for row in rows:
        base_git = by_key.get(row.vs_git) if row.vs_git else None
        mine = by_key.get(row.counterpart) if row.counterpart else None
        lines.append(
            f"| {row.label} | {fmt_time(row)} | {fmt_ratio(row, base_git)} | {mine.label if mine else ''} | "
            f"{fmt_ratio(mine, row) if mine else ''} |"
        )
    return "\n".join(lines)


# --- subprocess counting -----------------------------------------------------------------------------------------

_EXECVE = re.compile(r'^(?P<pid>\d+)\s+execve\("(?P<path>[^"]*)", \[(?P<argv>.*?)\](?:, |\s*<unfinished)')
_RESUMED = re.compile(r"^(?P<pid>\d+)\s+<\.\.\. execve resumed>.*= (?P<rc>-?\d+)")


def _git_subcommand(argv: list[str]) -> str:
    i = 1
    while i < len(argv):
        if argv[i] == "-c" or argv[i] == "-C":
            i += 2
            continue
        if not argv[i].startswith("-"):
            return argv[i]
        i += 1
    return "?"


def _unescape(text: str) -> str:
    """strace's C-style string escapes (\\n, \\t, \\37, \\", \\\\) back to the characters."""

    def one(match: re.Match[str]) -> str:
        esc = match[1]
        if esc[0] in "01234567":
            return chr(int(esc, 8))
        if esc[0] == "x":
            return chr(int(esc[1:], 16))
        return {"n": "\n", "t": "\t", "r": "\r", "v": "\v", "f": "\f"}.get(esc, esc)

    return re.sub(r"\\([0-7]{1,3}|x[0-9a-fA-F]{2}|.)", one, text)


def count_spawns(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[list[list[str]], Counter[str], str]:
    """The processes `cmd` starts (not itself), as argvs, and what they are: 'git log', 'git for-each-ref', ..."""
    strace = shutil.which("strace")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "trace.txt"
        if strace:
            full = [strace, "-f", "-qq", "-e", "trace=execve", "-e", "signal=none", "-s", "200", "-o", str(out), *cmd]
            subprocess.run(full, cwd=cwd, env=env, capture_output=True, check=True)
            pending: dict[str, list[str]] = {}
            spawned: dict[str, list[str]] = {}  # pid → argv of its last successful execve
            for line in out.read_text(errors="replace").splitlines():
                match = _EXECVE.match(line)
                if match:
                    argv = [_unescape(a) for a in re.findall(r'"((?:[^"\\]|\\.)*)"', match["argv"])]
                    if line.rstrip().endswith("= 0"):
                        spawned[match["pid"]] = argv
                    elif "<unfinished" in line:
                        pending[match["pid"]] = argv
                    continue
                match = _RESUMED.match(line)
                if match and match["rc"] == "0" and match["pid"] in pending:
                    spawned[match["pid"]] = pending.pop(match["pid"])
            pids = sorted(spawned, key=int)
            children = [spawned[p] for p in pids[1:]]  # pids[0] is the command itself
            method = "strace -f -e trace=execve"
        else:  # every git process writes one "trace: built-in: git ..." line
            trace_env = {**env, "GIT_TRACE": str(out)}
            subprocess.run(cmd, cwd=cwd, env=trace_env, capture_output=True, check=True)
            children = [
                ["git", *shlex.split(line.split("trace: built-in: git", 1)[1])]
                for line in out.read_text(errors="replace").splitlines()
                if "trace: built-in: git" in line
            ]
            method = "GIT_TRACE (git processes only)"
    kinds: Counter[str] = Counter()
    for argv in children:
        name = Path(argv[0]).name if argv else "?"
        kinds[f"git {_git_subcommand(argv)}" if name == "git" else name] += 1
    return children, kinds, method


# --- checks (printed, never asserted) ----------------------------------------------------------------------------


def bullets(markdown: str) -> int:
    return sum(1 for line in markdown.splitlines() if line.startswith("* "))


def count_commits(repo: Path, rev_range: str) -> int:
    out = subprocess.run(["git", "rev-list", "--count", "--no-merges", rev_range], cwd=repo, capture_output=True)
    return int(out.stdout.strip() or 0)


def release_git_argv(repo: Path, method: str, *args: str) -> list[str]:
    """The exact argv release's git adapter runs for `Git.<method>(*args)`, captured without running it."""
    captured: list[list[str]] = []

    def fake_run(argv: list[str], *_: object, **__: object) -> subprocess.CompletedProcess[bytes]:
        captured.append(list(argv))
        return subprocess.CompletedProcess(argv, 0, b"", b"")

    with mock.patch("subprocess.run", fake_run):
        getattr(Git(repo), method)(*args)
    return captured[-1]


# --- main --------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--tags", type=int, default=10_000)
    parser.add_argument(
        "--unreleased", type=int, default=None, help="commits after the last tag (default 1%%, max 200)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=5, help="timed runs per command (after one warm-up run)")
    parser.add_argument("--slow-timeout", type=float, default=900, help="seconds allowed to each 'slow' git-cliff run")
    parser.add_argument("--no-slow", action="store_true", help="skip the git-cliff runs that walk every tag")
    parser.add_argument("--commit-graph", action="store_true", help="write a commit-graph (as `git gc` would)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)

    env = bench_env()
    facts = cached_repo(args.commits, args.tags, args.unreleased, args.seed, args.commit_graph)
    repo = Path(facts["path"])
    (repo.parent / "cliff.toml").write_text(CLIFF_TOML)
    cliff_bin = script("git-cliff")
    rel = release_cmd()
    first, last = facts["first_tag"], facts["last_tag"]
    if not first or not last:
        sys.exit("the benchmark needs at least one tag (--tags >= 1)")
    # The baselines run exactly the git commands release runs (same format, same flags).
    log_u, log_l = (release_git_argv(repo, "log", f"{rev}..HEAD") for rev in (last, first))
    refs, refs_merged = release_git_argv(repo, "tags"), release_git_argv(repo, "tags", "HEAD")
    n_unreleased, n_large = count_commits(repo, f"{last}..HEAD"), count_commits(repo, f"{first}..HEAD")

    unreleased_rows = [
        Row("git_u", f"`git log {last}..HEAD` (raw, release's format)", log_u),
        Row("refs", "`git for-each-ref refs/tags` (raw, release's format)", refs),
        Row("refs_merged", "`git for-each-ref --merged=HEAD refs/tags` (raw, release's format)", refs_merged),
        Row("startup", "`release --version` (interpreter + imports)", [*rel, "--version"]),
        Row("plan", "`release plan --json`", [*rel, "plan", "--json"], vs_git="git_u", vs_cliff="cliff_bump_u"),
        Row("notes_u", "`release notes`", [*rel, "notes"], vs_git="git_u", vs_cliff="cliff_u"),
    ]
    large_rows = [
        Row("git_l", f"`git log {first}..HEAD` (raw, release's format)", log_l),
        Row(
            "notes_l",
            f"`release notes --from {first} --to HEAD`",
            [*rel, "notes", "--from", first, "--to", "HEAD"],
            vs_git="git_l",
            vs_cliff="cliff_l",
        ),
    ]
    slow_rows: list[Row] = []
    if cliff_bin:
        cliff = [cliff_bin, "--config", str(repo.parent / "cliff.toml")]
        unreleased_rows[3:3] = [
            Row("cliff_u", "`git-cliff --unreleased`", [*cliff, "--unreleased"], vs_git="git_u"),
            Row(
                "cliff_bump_u",
                "`git-cliff --unreleased --bumped-version`",
                [*cliff, "--unreleased", "--bumped-version"],
                vs_git="git_u",
            ),
        ]
        large_rows[1:1] = [
            Row(
                "cliff_l",
                f"`git-cliff --ignore-tags '.*' {first}..HEAD` (one section, like release)",
                [*cliff, "--ignore-tags", ".*", f"{first}..HEAD"],
                vs_git="git_l",
            ),
        ]
        if not args.no_slow:
            slow_rows = [
                Row(
                    "cliff_bump",
                    "`git-cliff --bumped-version` (whole history) — slow",
                    [*cliff, "--bumped-version"],
                    vs_git="git_u",
                    counterpart="plan",
                    slow=True,
                ),
                Row(
                    "cliff_tags_l",
                    f"`git-cliff {first}..HEAD` (a section per tag) — slow",
                    [*cliff, f"{first}..HEAD"],
                    vs_git="git_l",
                    counterpart="notes_l",
                    slow=True,
                ),
            ]
    else:
        print("git-cliff not found (pip install git-cliff): its rows are left out", file=sys.stderr)

    # Subprocesses: on this repo and on a small one, to show the count does not depend on history size. The git
    # commands seen here are also replayed from sh as a baseline: what release costs beyond the git it runs.
    small = cached_repo(500, 50, 10, args.seed, False)
    small_repo = Path(small["path"])
    spawn_rows = [
        ("plan", "`release plan --json`", [*rel, "plan", "--json"], ["plan", "--json"]),
        ("notes_u", "`release notes`", [*rel, "notes"], ["notes"]),
        (
            "notes_l",
            f"`release notes --from {first} --to HEAD`",
            [*rel, "notes", "--from", first, "--to", "HEAD"],
            ["notes", "--from", small["first_tag"], "--to", "HEAD"],
        ),
    ]
    spawns = []
    replay_dir = Path(tempfile.mkdtemp(prefix="replay-", dir=WORK))
    for key, label, cmd, small_args in spawn_rows:
        children, kinds, method = count_spawns(cmd, repo, env)
        n_small = len(count_spawns([*rel, *small_args], small_repo, env)[0])
        spawns.append((label, n_small, len(children), kinds, method))
        if children and all(Path(a[0]).name == "git" for a in children):
            out = shlex.quote(str(replay_dir / "out"))
            script_text = "\n".join(f"{shlex.join(a)} >{out} 2>/dev/null || :" for a in children)
            row = Row(f"reads_{key}", f"its {len(children)} git commands, replayed from sh", ["sh", "-c", script_text])
            rows = unreleased_rows if key != "notes_l" else large_rows
            at = next(i for i, r in enumerate(rows) if r.key == key)
            rows.insert(at, row)
            rows[at + 1].vs_reads = row.key

    print(
        f"repo: {repo} ({facts['commits']} commits, {facts['tags']} tags, {facts['unreleased']} after {last}, "
        f"{'reused' if facts['reused'] else 'generated in ' + str(facts['seconds']) + ' s'})",
        file=sys.stderr,
    )
    all_rows = unreleased_rows + large_rows + slow_rows
    for row in all_rows:
        measure(row, repo, env, args.reps, args.slow_timeout)
    by_key = {r.key: r for r in all_rows}

    shutil.rmtree(replay_dir, ignore_errors=True)

    # Sanity checks on the outputs (printed, not asserted).
    checks = []
    plan_json = json.loads(by_key["plan"].stdout) if by_key["plan"].stdout else {}
    checks.append(
        f"raw git log {last}..HEAD: {n_unreleased} commits; "
        f"release plan: {plan_json.get('commits')} commits, next {plan_json.get('next_version')} "
        f"({plan_json.get('bump')})"
    )
    if "cliff_bump_u" in by_key:
        checks.append(f"git-cliff --unreleased --bumped-version: {by_key['cliff_bump_u'].stdout.strip()}")
    if "cliff_bump" in by_key and by_key["cliff_bump"].median is not None:
        checks.append(f"git-cliff --bumped-version: {by_key['cliff_bump'].stdout.strip()}")
    checks.append(
        f"release notes (unreleased): {bullets(by_key['notes_u'].stdout)} entries"
        + (f"; git-cliff --unreleased: {bullets(by_key['cliff_u'].stdout)}" if "cliff_u" in by_key else "")
    )
    checks.append(
        f"raw git log {first}..HEAD: {n_large} commits; release notes: "
        f"{bullets(by_key['notes_l'].stdout)} entries"
        + (f"; git-cliff (one section): {bullets(by_key['cliff_l'].stdout)}" if "cliff_l" in by_key else "")
    )
    if "cliff_tags_l" in by_key and by_key["cliff_tags_l"].median is not None:
        out = by_key["cliff_tags_l"].stdout
        checks.append(
            f"git-cliff (a section per tag): {bullets(out)} entries in "
            f"{sum(1 for line in out.splitlines() if line.startswith('## '))} sections"
        )

    info = machine()
    print(
        f"\n### {facts['commits']:,} commits, {facts['tags']:,} tags"
        f"{', commit-graph' if facts.get('commit_graph') else ''}, {args.reps} timed runs each (median)\n"
    )
    print(
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['os']}; Python {info['python']}, {info['git']}, "
        f"{info['git-cliff']}, {info['release']}.\n"
    )
    shown_log = " ".join(a.replace("\x00", "%x00") for a in log_u)
    print(f"Raw baselines run the argv release's git adapter builds, e.g. `{shown_log}`.\n")
    print(f"Unreleased range: `{last}..HEAD`, {facts['unreleased']} commits.\n")
    print(table(unreleased_rows, by_key))
    print(f"\nLarge range: `{first}..HEAD`, {n_large:,} commits.\n")
    print(table(large_rows, by_key))
    if slow_rows:
        print("\ngit-cliff over the whole history with its tags (one run each):\n")
        print(slow_table(slow_rows, by_key))
    print(
        f"\nProcesses spawned ({spawns[0][4]}), on {small['commits']} commits / {small['tags']} tags "
        f"and on {facts['commits']:,} / {facts['tags']:,}:\n"
    )
    print("| command | small repo | this repo | which |")
    print("|---|---:|---:|---|")
    for label, n_small, n_big, kinds, _ in spawns:
        which = ", ".join(f"{k} ×{v}" if v > 1 else k for k, v in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))
        print(f"| {label} | {n_small} | {n_big} | {which} |")
    print("\nChecks:\n")
    for line in checks:
        print(f"- {line}")

    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "facts": facts,
                    "machine": info,
                    "reps": args.reps,
                    "rows": [
                        {
                            "key": r.key,
                            "label": r.label,
                            "cmd": r.cmd,
                            "times": r.times,
                            "median": r.median,
                            "error": r.error,
                        }
                        for r in all_rows
                    ],
                    "spawns": [{"command": s[0], "small": s[1], "large": s[2], "kinds": dict(s[3])} for s in spawns],
                    "checks": checks,
                },
                indent=2,
            )
        )
    return 1 if any(r.error and not r.slow for r in all_rows) else 0


if __name__ == "__main__":
    sys.exit(main())
