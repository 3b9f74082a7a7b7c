"""The record of what an environment holds: the last commit touching its files that carries release trailers.

Every commit promote, rollback and unhold write ends with trailers (git's: the message's last paragraph):

| trailer | written by | says |
| --- | --- | --- |
| `Release-Version: 1.4.0` | promote; rollback to a release | the version the files hold from this commit on |
| `Release-Source: <sha>` | promote; rollback to a release | the application commit that version was released from |
| `Release-Pipeline: <url>` | all, in CI | the pipeline that wrote it (GitLab's, or a GitHub Actions run) |
| `Release-Environment: dev` | all | the environment it is for (two environments may share a file) |
| `Release-Rollback-From: 1.5.0` | rollback | the version it replaced |
| `Release-Restores: <sha>` | rollback | the infra commit whose values it wrote back |
| `Release-Hold: true` / `false` | rollback / unhold | automatic promotes skip a held environment |

An environment's record is the newest commit touching its files that carries `Release-Version` or
`Release-Restores` (and no other environment's `Release-Environment`). The version comes from there, never from a
value in the files: a first value can be a registry path (`set: {image.repository: …, image.tag: …}`), a range
(`version: ">=1.0"`) or a hand edit. The files are then checked against it: a path whose value is not what the
record commit wrote is drift. `release unhold` writes an empty commit (`Release-Environment`, `Release-Hold:
false`): it touches no file, so it is looked for after the record commit by its message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from release.config import EnvironmentConfig
from release.errors import ReleaseError
from release.gitops.clone import InfraClone
from release.gitops.edits import values_at

# How much more history a shallow clone (a promote's) fetches at a time while looking for the record: most
# records are among the last commits; an environment never promoted by us costs the whole history once (-1).
DEEPEN = (50, 500, -1)
UNHOLD = "Release-Hold: false"
_ZERO = "0" * 40


@dataclass(frozen=True)
class Entry:
    """One commit of the infra repository, as `git log` describes it."""

    commit: str
    date: str
    trailers: Mapping[str, str]  # lower-cased key → its first value
    files: frozenset[str] = frozenset()  # the files it changed, when asked for (only for commits with trailers)


@dataclass(frozen=True)
class Record:
    """The commit that last wrote an environment's files, and what its trailers say."""

    commit: str
    date: str  # committer date, ISO 8601
    version: str | None  # None: a rollback to files no release recorded
    source: str | None
    pipeline: str | None
    rollback_from: str | None
    restores: str | None
    hold: bool  # the commit holds the environment (a rollback)
    released: str | None = None  # the commit that released the hold since (`release unhold`)

    @property
    def held(self) -> bool:
        return self.hold and self.released is None

    @property
    def label(self) -> str:
        """What messages call the state it wrote: its version, else the files as of the commit it restored."""
        return self.version or f"the files as of {(self.restores or self.commit)[:12]}"

    def hold_reason(self) -> str:
        went = f"from {self.rollback_from} " if self.rollback_from else ""
        return f"held since the rollback {went}to {self.label} (infra commit {self.commit[:12]})"


@dataclass(frozen=True)
class Drift:
    """A value the files hold that the record commit did not write (someone edited it since)."""

    file: str
    path: str  # "" when it is the whole file: deleted, or no longer readable
    recorded: str | None
    now: str | None

    def describe(self) -> str:
        if not self.path:
            return f"{self.file}: {self.now}"
        return f"{self.file} {self.path}: {_shown(self.recorded)} → {_shown(self.now)}"


def _shown(value: str | None) -> str:
    return "(absent)" if value is None else repr(value)


def files_of(env: EnvironmentConfig) -> list[str]:
    return sorted({u.file for u in env.updates})


def parse_log(out: str) -> list[Entry]:
    """InfraClone.log's output, newest first."""
    entries = []
    for chunk in out.split("\x1e")[1:]:
        head, _, names = chunk.partition("\0")
        commit, date, trailers = [*head.split("\x1f"), "", ""][:3]
        if "release-" not in trailers.lower():  # most commits: not ours, and their files do not matter
            entries.append(Entry(commit, date, {}))
            continue
        files = frozenset(n.lstrip("\n") for n in names.split("\0") if n.strip("\n"))
        entries.append(Entry(commit, date, parse_trailers(trailers), files))
    return entries


def parse_trailers(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            found.setdefault(key.strip().lower(), value.strip())
    return found


def as_record(entry: Entry, env: str) -> Record | None:
    """The entry as `env`'s record, or None when it is not one (no release trailers, or another environment's)."""
    t = entry.trailers
    if "release-version" not in t and "release-restores" not in t:
        return None
    if t.get("release-environment", env) != env:
        return None
    return Record(
        commit=entry.commit,
        date=entry.date,
        version=t.get("release-version") or None,
        source=t.get("release-source") or None,
        pipeline=t.get("release-pipeline") or None,
        rollback_from=t.get("release-rollback-from") or None,
        restores=t.get("release-restores") or None,
        hold=t.get("release-hold", "").lower() == "true",
    )


def history(clone: InfraClone, env: EnvironmentConfig) -> tuple[list[Entry], list[Record]]:
    """Every commit touching the environment's files, newest first, and its records among them (a full clone)."""
    entries = parse_log(clone.log(files_of(env)))
    return entries, [r for e in entries if (r := as_record(e, env.name)) is not None]


def latest(clone: InfraClone, env: EnvironmentConfig) -> Record | None:
    """The environment's record at the clone's HEAD (and whether its hold was released since), or None when no
    commit of ours ever wrote its files. A shallow clone fetches more history until it finds it."""
    for more in (0, *DEEPEN):
        if more:
            clone.deepen(more if more > 0 else None)
        shallow = clone.shallow()
        for entry in parse_log(clone.log(files_of(env))):
            found = as_record(entry, env.name)
            # Where a shallow history stops, every file looks added: only a commit that names this environment
            # (we write that trailer only on commits that change its files) is a record there for sure.
            if entry.commit in shallow and (found is None or entry.trailers.get("release-environment") != env.name):
                break
            if found is not None:
                return with_release(clone, env.name, found)
        if not shallow:
            return None
    return None


def latest_all(clone: InfraClone, envs: Sequence[EnvironmentConfig]) -> dict[str, Record | None]:
    """The records of environments that share this clone's repository and branch, from one `git log` (full
    history) of all their files: each commit is matched against the environments whose files it changed."""
    wanted = {env.name: set(files_of(env)) for env in envs}
    found: dict[str, Record | None] = dict.fromkeys(wanted)
    # Their top-level folders as the pathspec, the files matched here: git matches every path of every commit
    # against every pathspec, and 100 files made that 4x slower than the whole walk (benchmarks/README.md).
    tops = sorted({f.split("/", 1)[0] + "/" if "/" in f else f for f in set().union(*wanted.values())})
    for entry in parse_log(clone.log(tops, names=True)):
        for name in [n for n, f in wanted.items() if entry.files & f]:
            record = as_record(entry, name)
            if record is not None:
                found[name] = with_release(clone, name, record)
                del wanted[name]
        if not wanted:
            break
    return found


def with_release(clone: InfraClone, env: str, record: Record) -> Record:
    """A held record, with the `release unhold` commit that released it since, if there is one."""
    if not record.hold:
        return record
    for entry in parse_log(clone.log((), since=record.commit, grep=UNHOLD)):
        t = entry.trailers
        if t.get("release-hold", "").lower() == "false" and t.get("release-environment") == env:
            return dataclasses.replace(record, released=entry.commit)
    return record


def drifts(clone: InfraClone, pairs: Sequence[tuple[EnvironmentConfig, Record]]) -> dict[str, list[Drift]]:
    """For each environment, where its files (at HEAD) no longer hold what its record commit wrote.

    One `git diff-tree` finds the files that differ from each record commit (trees only); only those are read,
    their contents fetched in one request."""
    files = sorted({f for env, _ in pairs for f in files_of(env)})
    changed = clone.changed(sorted({r.commit for _, r in pairs}), files) if pairs else {}
    contents = clone.blobs([oid for diffs in changed.values() for _, *oids in diffs for oid in oids if oid != _ZERO])
    out: dict[str, list[Drift]] = {}
    for env, record in pairs:
        mine = set(files_of(env))
        out[env.name] = [
            drift
            for file, then, now in changed.get(record.commit, [])
            if file in mine
            for drift in _file_drifts(env, file, contents.get(then), contents.get(now))
        ]
    return out


def _file_drifts(env: EnvironmentConfig, file: str, then: bytes | None, now: bytes | None) -> list[Drift]:
    if now is None:
        return [Drift(file, "", None, "deleted since")]
    try:
        before_text = _text(then, file) if then is not None else None
        after_text = _text(now, file)
        pairs = [(values_at(u, before_text), values_at(u, after_text)) for u in env.updates if u.file == file]
    except ReleaseError as exc:
        return [Drift(file, "", None, f"unreadable now ({exc.message})")]
    return [
        Drift(file, path, before.get(path), value)
        for before, after in pairs
        for path, value in after.items()
        if before.get(path) != value
    ]


def _text(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ReleaseError(f"{file} is not UTF-8 text", "save it as UTF-8") from None
