"""A history read once, for every monorepo component at the same time. Pure: the caller reads git.

One `git log --name-only` over everything HEAD reaches gives each commit its parents and the files it changed.
From that: which tags HEAD reaches (their commit is in the history), the commits of any range `base..HEAD` (a walk
that stops where the range ends, as git's own does), and the commits of a range that touch a component's paths.
So planning 200 components starts no more git processes than planning one.
"""

from __future__ import annotations

import fnmatch
import heapq
from collections.abc import Iterable

from release.versioning.commits import Commit

GLOB = frozenset("*?[")
_HEAD, _BASE = 1, 2  # which side of a range a walked commit is reachable from


def normal(path: str) -> str:
    """A configured path as git prints file names: no ./ in front, no / behind; the root is ''."""
    path = path.strip()
    while path.startswith("./"):
        path = path[2:]
    path = path.rstrip("/")
    return "" if path == "." else path


class Paths:
    """Matches file names as a git pathspec does: a path is itself and everything below it; * ? [ are globs."""

    def __init__(self, paths: Iterable[str]) -> None:
        cleaned = [normal(p) for p in paths]
        self.everything = "" in cleaned
        self.exact = frozenset(p for p in cleaned if p and not GLOB & set(p))
        self.globs = tuple(p for p in cleaned if GLOB & set(p))

    def which(self, name: str) -> str | None:
        """The configured path that `name` falls under, or None."""
        if self.everything:
            return ""
        prefix = name
        while prefix:
            if prefix in self.exact:
                return prefix
            prefix = prefix.rpartition("/")[0]
        return next(
            (g for g in self.globs if fnmatch.fnmatchcase(name, g) or fnmatch.fnmatchcase(name, f"{g}/*")), None
        )

    def touched(self, files: Iterable[str]) -> bool:
        return any(self.which(name) is not None for name in files)


class Graph:
    """Every commit HEAD reaches, children before parents, with the files each changed."""

    def __init__(self, entries: list[tuple[Commit, tuple[str, ...]]]) -> None:
        self.commits = [commit for commit, _ in entries]
        self.files = [files for _, files in entries]
        self.index = {commit.sha: i for i, commit in enumerate(self.commits)}
        self.parents = [tuple(self.index[p] for p in c.parents if p in self.index) for c in self.commits]
        self._ranges: dict[str | None, list[int]] = {}
        self._sets: dict[str, frozenset[int]] = {}

    def __contains__(self, sha: str) -> bool:
        return sha in self.index

    def since(self, base: str | None) -> list[int]:
        """The commits of `base..HEAD` (all of them when `base` is None), newest first, as indexes."""
        if base not in self._ranges:
            self._ranges[base] = self._walk(base)
        return self._ranges[base]

    def _walk(self, base: str | None) -> list[int]:
        if not self.commits:
            return []
        if base is None or base not in self.index:
            return list(range(len(self.commits)))
        # Indexes are a topological order, so popping the lowest index sees a commit after all its children:
        # its sides are final. The walk stops once nothing left is reachable from HEAD alone.
        sides = {0: _HEAD}
        start = self.index[base]
        sides[start] = sides.get(start, 0) | _BASE
        heap = sorted(sides)
        head_only = sum(1 for s in sides.values() if s == _HEAD)
        found = []
        while head_only:
            i = heapq.heappop(heap)
            side = sides[i]
            if side == _HEAD:
                head_only -= 1
                found.append(i)
            for p in self.parents[i]:
                before = sides.get(p)
                if before is None:
                    sides[p] = side
                    heapq.heappush(heap, p)
                    head_only += side == _HEAD
                elif before | side != before:
                    sides[p] = before | side
                    head_only -= before == _HEAD
        return found

    def touching(self, groups: dict[tuple[str, ...], Paths]) -> dict[tuple[str, ...], list[int]]:
        """For each group of paths, the commits (newest first) that change a file under it, in one pass over the
        history: each file name is looked up by its folders, not matched against every group (merges change no
        file here: the commits they bring do)."""
        by_path: dict[str, list[tuple[str, ...]]] = {}
        everywhere, globbed = [], []
        for key, paths in groups.items():
            if paths.everything:
                everywhere.append(key)
            for path in paths.exact:
                by_path.setdefault(path, []).append(key)
            if paths.globs:
                globbed.append(key)
        found: dict[tuple[str, ...], list[int]] = {key: [] for key in groups}
        for i, files in enumerate(self.files):
            if not files:
                continue
            hit = set(everywhere) | {key for key in globbed if groups[key].touched(files)}
            for name in files:
                prefix = name
                while prefix:
                    hit.update(by_path.get(prefix, ()))
                    prefix = prefix.rpartition("/")[0]
            for key in hit:
                found[key].append(i)
        return found

    def within(self, base: str | None, indexes: list[int]) -> list[int]:
        """`indexes` that are in `base..HEAD`."""
        if base is None or base not in self.index:
            return indexes
        if base not in self._sets:
            self._sets[base] = frozenset(self.since(base))
        inside = self._sets[base]
        return [i for i in indexes if i in inside]

    def via(self, i: int, own: Paths, shared: Paths) -> str | None:
        """The shared path a commit counts through, when it touches none of the component's own paths."""
        files = self.files[i]
        if own.touched(files):
            return None
        return next((p for name in files if (p := shared.which(name)) is not None), None)
