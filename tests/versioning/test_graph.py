"""The one-pass history against git itself: ranges as `git rev-list`, paths as `git log -- PATH` give them."""

from __future__ import annotations

import itertools
import random

import semver

from release.adapters.git import Git
from release.versioning.graph import Graph, Paths
from release.versioning.tags import order
from tests.conftest import Repo

FOLDERS = ("apps/client", "apps/server", "apps/client-legacy", "packages/shared", "docs")


def tangled(repo: Repo, seed: int) -> None:
    """Branches, merges (some of them octopus-free criss-cross) and commits dated out of order."""
    rng = random.Random(seed)
    repo.commit("chore: root", {"README.md": "root"})
    branches = ["main"]
    for n in range(60):
        roll = rng.random()
        if roll < 0.15:
            name = f"b{n}"
            repo.git("checkout", "-q", "-b", name, rng.choice(branches))
            branches.append(name)
        elif roll < 0.3 and len(branches) > 1:
            other = rng.choice([b for b in branches if b != repo.git("branch", "--show-current")])
            repo.git("merge", "-q", "--no-ff", "--no-edit", other)
        else:
            repo.git("checkout", "-q", rng.choice(branches))
            folder = rng.choice(FOLDERS)
            date = f"2026-01-{rng.randint(1, 28):02d}T12:00:00Z"
            repo.write(f"{folder}/f{n}.txt", str(n))
            repo.git("add", "-A")
            repo.git("-c", f"user.name=n{n}", "commit", "-q", "-m", f"fix: {n}", f"--date={date}")
    repo.git("checkout", "-q", "main")
    for branch in branches[1:]:
        repo.git("merge", "-q", "--no-ff", "--no-edit", branch)


def test_ranges_and_paths_match_git(repo: Repo) -> None:
    tangled(repo, seed=7)
    graph = Graph(Git(repo.path).log_with_files("HEAD"))
    every = repo.git("rev-list", "HEAD").split()
    assert sorted(c.sha for c in graph.commits) == sorted(every)
    paths = {(p,): Paths((p,)) for p in ("apps/client", "packages/shared", "apps/*")}
    touching = graph.touching(paths)
    for base in [*every[::3], None]:
        spec = f"{base}..HEAD" if base else "HEAD"
        expected = set(repo.git("rev-list", spec).split())
        assert {graph.commits[i].sha for i in graph.since(base)} == expected, base
        for (path,), found in touching.items():
            log = repo.git("log", "--full-history", "--no-merges", "--format=%H", spec, "--", path).split()
            merges = {graph.commits[i].sha for i in found if len(graph.commits[i].parents) > 1}
            assert merges == set()
            assert {graph.commits[i].sha for i in graph.within(base, found)} == set(log), (base, path)


def test_a_sibling_folder_with_the_same_prefix_is_not_the_component() -> None:
    paths = Paths(("apps/client/", "./packages/shared"))
    assert paths.which("apps/client/src/x.ts") == "apps/client"
    assert paths.which("apps/client") == "apps/client"
    assert paths.which("apps/client-legacy/x.ts") is None
    assert paths.which("packages/shared/a/b") == "packages/shared"
    assert Paths((".",)).which("anything") == ""


def test_the_tuple_order_is_semver_precedence() -> None:
    rng = random.Random(3)
    words = ["alpha", "beta", "rc", "0", "1", "2", "11", "a1", "x-y"]
    versions = []
    for _ in range(3000):
        pre = ".".join(rng.choice(words) for _ in range(rng.randint(1, 3))) if rng.random() < 0.5 else None
        versions.append(semver.Version(rng.randint(0, 3), rng.randint(0, 3), rng.randint(0, 3), pre))
    by_tuple = sorted(versions, key=order)
    for a, b in itertools.pairwise(by_tuple):
        assert a <= b, (a, b)
        assert (order(a) == order(b)) == (a == b), (a, b)
