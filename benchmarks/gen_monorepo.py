"""A deterministic monorepo history for bench_monorepo.py, written in one `git fast-import` stream.

    python benchmarks/gen_monorepo.py /tmp/mono --components 200 --commits 5000

`--components` apps under `apps/cNNN/`, five shared packages under `packages/sN/` (each app lists one of them as
`shared:` in the release.yaml written at the root), and `--commits` conventional commits: 80 % change one or two
files of one app, 15 % a shared package, 5 % the root. Every 100th commit opens a 3-commit side branch that is merged
back (merge commits, as GitLab's merge button makes them). Each app is tagged `cNNN-vX.Y.Z` about every
`commits / 8` commits, at the versions its own commits ask for; the last 2 % of commits are unreleased.
Fixed seed, dates and names: the same shas on every machine.
"""

from __future__ import annotations

import argparse
import random
import subprocess
from pathlib import Path

SHARED = 5
TYPES = (("feat", 0.3), ("fix", 0.4), ("chore", 0.15), ("docs", 0.1), ("refactor", 0.05))


def config(components: int) -> str:
    lines = ["components:"]
    for i in range(components):
        lines.append(f"  - {{name: c{i:03d}, path: apps/c{i:03d}, shared: [packages/s{i % SHARED}]}}")
    return "\n".join(lines) + "\n"


class Stream:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.mark = 0
        self.when = 1_700_000_000

    def commit(self, ref: str, message: str, files: dict[str, str], parents: list[int]) -> int:
        self.mark += 1
        self.when += 60
        msg = message.encode()
        out = [f"commit {ref}\nmark :{self.mark}\n".encode()]
        out.append(f"author Dev <dev@example.com> {self.when} +0000\n".encode())
        out.append(f"committer Dev <dev@example.com> {self.when} +0000\n".encode())
        out.append(b"data %d\n%s\n" % (len(msg), msg))
        if parents:
            out.append(f"from :{parents[0]}\n".encode())
            out.extend(f"merge :{p}\n".encode() for p in parents[1:])
        for path, content in files.items():
            data = content.encode()
            out.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data))
        self.parts.append(b"".join(out))
        return self.mark

    def tag(self, name: str, mark: int) -> None:
        self.parts.append(f"reset refs/tags/{name}\nfrom :{mark}\n\n".encode())


def generate(dest: Path, components: int, commits: int, seed: int = 1) -> dict[str, object]:
    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(dest)], check=True)
    s = Stream()
    files = {"release.yaml": config(components), "README.md": "mono\n"}
    files.update({f"apps/c{i:03d}/package.json": "{}\n" for i in range(components)})
    files.update({f"packages/s{j}/package.json": "{}\n" for j in range(SHARED)})
    head = s.commit("refs/heads/main", "chore: workspace", files, [])
    versions = [[0, 1, 0] for _ in range(components)]
    pending: list[str | None] = [None] * components  # the largest bump each app has waited for since its tag
    every = max(1, commits // 8)
    tags = 0
    released_until = int(commits * 0.98)

    def bump(app: int, kind: str) -> None:
        order = {"fix": 1, "feat": 2}
        if kind in order and order[kind] > order.get(pending[app] or "", 0):
            pending[app] = kind

    for n in range(1, commits):
        kind = rng.choices([t for t, _ in TYPES], [w for _, w in TYPES])[0]
        roll = rng.random()
        if roll < 0.8:
            app = rng.randrange(components)
            where, touched = f"apps/c{app:03d}", [app]
        elif roll < 0.95:
            pkg = rng.randrange(SHARED)
            where, touched = f"packages/s{pkg}", [a for a in range(components) if a % SHARED == pkg]
        else:
            where, touched = "", []
        change = {f"{where}/f{rng.randrange(10)}.ts".lstrip("/"): f"{n}\n" for _ in range(rng.randint(1, 2))}
        message = f"{kind}({where.rsplit('/', 1)[-1] or 'root'}): change {n}\n\nBody of change {n}.\n"
        if n % 100 == 0:  # a short side branch, merged back
            side = head
            for k in range(3):
                side = s.commit("refs/heads/side", f"{message} part {k}", change, [side])
            head = s.commit("refs/heads/main", f"Merge branch 'side-{n}'", {}, [head, side])
        else:
            head = s.commit("refs/heads/main", message, change, [head])
        for app in touched:
            bump(app, kind)
        if n % every == 0 and n < released_until:
            for app in range(components):
                if pending[app]:
                    v = versions[app]
                    versions[app] = [v[0], v[1] + 1, 0] if pending[app] == "feat" else [v[0], v[1], v[2] + 1]
                    s.tag(f"c{app:03d}-v{'.'.join(map(str, versions[app]))}", head)
                    pending[app] = None
                    tags += 1
    stream = b"".join(s.parts) + b"done\n"
    subprocess.run(["git", "fast-import", "--quiet", "--done"], cwd=dest, input=stream, check=True)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=dest, check=True)
    return {"path": str(dest), "components": components, "commits": commits, "tags": tags}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--components", type=int, default=50)
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    for key, value in generate(args.dest, args.components, args.commits, args.seed).items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
