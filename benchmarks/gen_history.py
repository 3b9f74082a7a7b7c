"""Generate a large, deterministic git history in one `git fast-import` stream.

    python benchmarks/gen_history.py DEST [--commits 100000] [--tags 10000] [--unreleased 200] [--seed 1]

The history is linear on `main`: every commit changes one small file (so trees and blobs are real), messages
mix conventional types (feat/fix/perf/chore/docs/refactor/test/ci, scopes, `!` and `BREAKING CHANGE:`),
non-conventional messages, issue references, bodies and footers, and a few `git revert`-style reverts that
name the reverted commit's real sha. `--tags` release tags `v{major}.{minor}.{patch}` (mostly annotated,
some lightweight) are spread evenly over all but the last `--unreleased` commits; each version is the
conventional bump of the commits since the previous tag, so the tags are what a release tool would have
cut. Dates, names and the seed are fixed: the same arguments give the same shas on every machine.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

EPOCH = 1_577_836_800  # 2020-01-01T00:00:00Z
STEP_SECONDS = 600
FILE = "counter.txt"
AUTHORS = (
    ("Ada Lovelace", "ada@example.com"),
    ("Grace Hopper", "grace@example.com"),
    ("Linus Torvalds", "linus@example.com"),
    ("Margaret Hamilton", "margaret@example.com"),
    ("Ken Thompson", "ken@example.com"),
)
COMMITTER = ("CI Bot", "ci@example.com")
SCOPES = ("api", "cli", "core", "db", "ui", "auth", "deps", "config", "build")
VERBS = ("add", "handle", "support", "remove", "rework", "speed up", "validate", "log", "cache", "retry")
NOUNS = (
    "token refresh",
    "pagination",
    "empty input",
    "unicode paths",
    "timeouts",
    "config reload",
    "the parser",
    "large uploads",
    "dark mode",
    "rate limits",
    "migrations",
    "the health check",
)
NON_CONVENTIONAL = (
    "WIP",
    "Update README.md",
    "fixed typo",
    "Merge branch 'feature/{n}' into main",
    "Bump dependencies",
    "address review comments",
    "more tests",
)
# (type, weight); "!" marks a breaking change (written as `type!:` or a BREAKING CHANGE footer).
TYPES = (
    ("feat", 24),
    ("fix", 30),
    ("perf", 4),
    ("chore", 12),
    ("docs", 8),
    ("refactor", 5),
    ("test", 3),
    ("ci", 2),
    ("!", 0.05),
    ("revert", 0.3),
    ("other", 11.5),
)
BUMPS = ("patch", "minor", "major")


@dataclass
class Version:
    major: int = 0
    minor: int = 1
    patch: int = 0

    def bump(self, level: int) -> None:
        if level == 2:
            self.major, self.minor, self.patch = self.major + 1, 0, 0
        elif level == 1:
            self.minor, self.patch = self.minor + 1, 0
        else:
            self.patch += 1

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def _obj(kind: bytes, body: bytes) -> bytes:
    return hashlib.sha1(kind + b" " + str(len(body)).encode() + b"\0" + body, usedforsecurity=False).digest()


def _data(payload: bytes) -> bytes:
    return b"data " + str(len(payload)).encode() + b"\n" + payload


class History:
    """Builds the fast-import stream and, alongside, the shas git will give each commit."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.types = [t for t, _ in TYPES]
        self.weights = [w for _, w in TYPES]
        self.headers: list[str] = []
        self.shas: list[str] = []

    def message(self, i: int) -> tuple[str, int]:
        """A commit message and the bump it asks for (-1: none)."""
        rng = self.rng
        kind = rng.choices(self.types, self.weights)[0]
        scope = rng.choice(SCOPES) if rng.random() < 0.6 else None
        subject = f"{rng.choice(VERBS)} {rng.choice(NOUNS)}"
        if rng.random() < 0.15:
            subject += f" (#{rng.randint(1, 5000)})"
        body = ""
        if rng.random() < 0.3:
            body = "\n\n" + " ".join(rng.choice(NOUNS) for _ in range(rng.randint(5, 25))).capitalize() + "."
        footers = []
        if rng.random() < 0.1:
            footers.append(f"Refs: #{rng.randint(1, 5000)}")
        if rng.random() < 0.05:
            name, email = rng.choice(AUTHORS)
            footers.append(f"Co-authored-by: {name} <{email}>")
        bump = -1
        if kind == "revert" and self.shas:
            target = max(0, i - rng.randint(1, 50))
            header = f'Revert "{self.headers[target]}"'
            body, footers = f"\n\nThis reverts commit {self.shas[target]}.", []
        elif kind == "other":
            header = rng.choice(NON_CONVENTIONAL).format(n=rng.randint(1, 999))
        elif kind == "!":
            ctype = rng.choice(("feat", "fix", "refactor"))
            prefix = f"{ctype}({scope})" if scope else ctype
            if rng.random() < 0.5:
                header = f"{prefix}!: {subject}"
            else:
                header = f"{prefix}: {subject}"
                footers.insert(0, f"BREAKING CHANGE: {subject} changed incompatibly")
            bump = 2
        else:
            ctype = "feat" if kind == "revert" else kind  # a revert with nothing before it
            header = f"{ctype}({scope}): {subject}" if scope else f"{ctype}: {subject}"
            bump = {"feat": 1, "fix": 0, "perf": 0}.get(ctype, -1)
        message = header + body + ("\n\n" + "\n".join(footers) if footers else "") + "\n"
        self.headers.append(header)
        return message, bump

    def stream(self, commits: int, tags: int, unreleased: int) -> tuple[list[bytes], dict[str, int]]:
        """The fast-import stream (as chunks) and where each tag points."""
        tagged_span = commits - unreleased
        # Tag k (1-based) sits on commit floor(k * span / tags) - 1: evenly spread, the last one `unreleased`
        # commits before HEAD.
        tag_at = {(k * tagged_span) // tags - 1: k for k in range(1, tags + 1)}
        version = Version(0, 0, 0)
        pending = -1  # the largest bump asked for since the last tag
        first = True
        tree_prefix = b"100644 " + FILE.encode() + b"\0"
        chunks: list[bytes] = []
        tag_commits: dict[str, int] = {}
        for i in range(commits):
            when = EPOCH + i * STEP_SECONDS
            name, email = AUTHORS[self.rng.randrange(len(AUTHORS))]
            message, bump = self.message(i)
            pending = max(pending, bump)
            content = f"commit {i}\n".encode()
            blob = _obj(b"blob", content)
            tree = _obj(b"tree", tree_prefix + blob)
            author = f"{name} <{email}> {when} +0000".encode()
            committer = f"{COMMITTER[0]} <{COMMITTER[1]}> {when} +0000".encode()
            msg = message.encode()
            parent = b"" if first else b"parent " + self.shas[-1].encode() + b"\n"
            body = (
                (b"tree " + tree.hex().encode() + b"\n" + parent + b"author " + author + b"\ncommitter " + committer)
                + b"\n\n"
                + msg
            )
            self.shas.append(_obj(b"commit", body).hex())
            chunks.append(
                b"commit refs/heads/main\nmark :"
                + str(i + 1).encode()
                + b"\nauthor "
                + author
                + b"\ncommitter "
                + committer
                + b"\n"
                + _data(msg)
                + b"M 100644 inline "
                + FILE.encode()
                + b"\n"
                + _data(content)
                + b"\n"
            )
            first = False
            k = tag_at.get(i)
            if k is None:
                continue
            if k == 1:
                version = Version(0, 1, 0)
            else:
                version.bump(max(pending, 0))  # a release of only chores is still a patch release
            pending = -1
            tag_name = f"v{version}"
            tag_commits[tag_name] = i
            if k % 10 == 0:  # some projects push lightweight tags
                chunks.append(b"reset refs/tags/" + tag_name.encode() + b"\nfrom :" + str(i + 1).encode() + b"\n\n")
            else:
                chunks.append(
                    b"tag "
                    + tag_name.encode()
                    + b"\nfrom :"
                    + str(i + 1).encode()
                    + b"\ntagger "
                    + committer
                    + b"\n"
                    + _data(f"Release {tag_name}\n".encode())
                    + b"\n"
                )
        chunks.append(b"done\n")
        return chunks, tag_commits


def git(repo: Path, *args: str, input: bytes | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, input=input, capture_output=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode()


def generate(
    dest: Path, commits: int = 100_000, tags: int = 10_000, unreleased: int | None = None, seed: int = 1
) -> dict:
    """Create the repository at `dest` (replacing it) and return facts about it."""
    if unreleased is None:
        unreleased = max(1, min(200, commits // 100))
    if commits < 1 or tags < 0 or unreleased < 0 or (tags and commits - unreleased < tags):
        raise ValueError("need commits >= 1 and commits - unreleased >= tags")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    started = time.perf_counter()
    git(dest, "init", "-q", "-b", "main")
    history = History(seed)
    chunks, tag_commits = history.stream(commits, tags, unreleased)
    proc = subprocess.Popen(
        ["git", "fast-import", "--quiet", "--done"],
        cwd=dest,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(b"feature done\n")
    for chunk in chunks:
        proc.stdin.write(chunk)
    proc.stdin.close()
    err = proc.stderr.read() if proc.stderr else b""
    if proc.wait() != 0:
        sys.exit(f"git fast-import failed: {err.decode(errors='replace').strip()}")
    git(dest, "pack-refs", "--all")  # as after a clone: tags in packed-refs, not 10k loose files
    git(dest, "read-tree", "--reset", "-u", "HEAD")  # a checkout, so `git status` is clean
    head = git(dest, "rev-parse", "HEAD").strip()
    if head != history.shas[-1]:
        sys.exit(f"internal error: HEAD is {head}, the generator computed {history.shas[-1]}")
    names = list(tag_commits)
    return {
        "path": str(dest),
        "commits": commits,
        "tags": len(names),
        "unreleased": unreleased,
        "seed": seed,
        "head": head,
        "first_tag": names[0] if names else None,
        "last_tag": names[-1] if names else None,
        "root": history.shas[0],
        "seconds": round(time.perf_counter() - started, 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--tags", type=int, default=10_000)
    parser.add_argument(
        "--unreleased", type=int, default=None, help="commits after the last tag (default 1%%, max 200)"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    facts = generate(args.dest, args.commits, args.tags, args.unreleased, args.seed)
    for key, value in facts.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
