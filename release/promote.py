"""Promote: write a release into a GitOps infra repository, one commit per environment.

Planning is pure (`plan_edits`: texts in, texts out, with `yamledit`'s byte-preserving edits); the git I/O is
`InfraClone`, a cheap clone of one branch of the infra repository (shallow for a promote, blobless with
history for status and rollback), reusing the chart-branch publisher's plumbing: credentials as an
extraHeader in GIT_CONFIG_* variables, never forced pushes, races redone on the new tip with jittered backoff.

- Already at that version (no byte would change): no commit, and it says so.
- `after: dev`: an environment is promoted only once `dev`'s files hold the same rendered values.
- Rollback finds the previous distinct value in the history of the environment's first file, and writes the
  values every update had at that commit back as a new commit. History is never rewritten.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import semver

from release import forgerelease, templates, yamledit
from release.adapters import chartbranch
from release.adapters import forge as forge_api
from release.adapters.chartbranch import BranchTarget
from release.adapters.git import GitError, retry_network, transient
from release.config import EnvironmentConfig, KustomizeImageConfig, UpdateConfig
from release.context import Context
from release.errors import ReleaseError
from release.fields import release_fields
from release.retry import backoff

Say = Callable[[str], None]

ATTEMPTS = 6
BACKOFF_SECONDS = 0.2  # first retry after ~0.2 s, then doubling, each jittered ±50%
PROTECTED_HINT = (
    "the branch refuses direct pushes (protected, or a hook): set `mode: merge-request` for this environment"
)
_IMAGE_FIELDS = ("newName", "newTag", "digest")


# --------------------------------------------------------------------------------------------- pure planning


@dataclass(frozen=True)
class FileEdit:
    file: str
    old: str
    new: str

    @property
    def changed(self) -> bool:
        return self.old != self.new

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.old.splitlines(keepends=True),
                self.new.splitlines(keepends=True),
                f"a/{self.file}",
                f"b/{self.file}",
            )
        )


def _render(template: str | None, values: Mapping[str, str], where: str) -> str | None:
    return None if template is None else templates.render(template, values, where)


def apply_update(text: str, update: UpdateConfig, values: Mapping[str, str], env: str) -> str:
    """`text` with one update applied; only the values' bytes change."""
    where = f"environment {env}, {update.file}"
    if update.image is not None:
        image = update.image
        return yamledit.set_kustomize_image(
            text,
            image.name,
            new_name=_render(image.newName, values, where),
            new_tag=_render(image.newTag, values, where),
            digest=_render(image.digest, values, where),
            filename=update.file,
        )
    rendered = {path: templates.render(t, values, where) for path, t in update.set.items()}
    return yamledit.set_values(
        text,
        rendered,
        document=update.document,
        match=update.match or None,
        create=update.create,
        allow_anchor=update.allow_anchor,
        filename=update.file,
    )


def plan_edits(
    env: EnvironmentConfig,
    updates: Sequence[UpdateConfig],
    read: Callable[[str], str | None],
    values: Mapping[str, str],
    where: str,
) -> list[FileEdit]:
    """One FileEdit per file, in the order the updates first name them, every update applied in turn."""
    texts: dict[str, tuple[str, str]] = {}
    for update in updates:
        if update.file not in texts:
            old = read(update.file)
            if old is None:
                raise ReleaseError(
                    f"environment {env.name}: {update.file} does not exist in {where}",
                    "check the path in release.yaml (relative to the infra repository's top)",
                )
            texts[update.file] = (old, old)
        old, current = texts[update.file]
        texts[update.file] = (old, apply_update(current, update, values, env.name))
    return [FileEdit(file, old, new) for file, (old, new) in texts.items()]


def image_entry(text: str, name: str, filename: str = "kustomization.yaml") -> dict[str, Any]:
    """The Kustomize `images:` entry for `name` ({} when there is none)."""
    docs = yamledit._load_all(text, filename)  # a file that is not YAML is a ReleaseError naming it
    data = docs[0] if docs else None
    images = data.get("images") if isinstance(data, dict) else None
    for entry in images if isinstance(images, list) else []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    return {}


def current_value(update: UpdateConfig, text: str) -> str | None:
    """What the update's first value is now: the version an environment holds, for `status` and rollback."""
    if update.image is not None:
        entry = image_entry(text, update.image.name, update.file)
        for key in ("newTag", "digest", "newName"):
            if getattr(update.image, key) is not None and entry.get(key) is not None:
                return str(entry[key])
        return None
    path = next(iter(update.set))
    return yamledit.get_value(text, path, document=update.document, match=update.match or None, filename=update.file)


def mismatches(
    updates: Sequence[UpdateConfig], read: Callable[[str], str | None], values: Mapping[str, str]
) -> list[str]:
    """Where the files do not hold the rendered values (for `after:` gating); [] when they all do."""
    out = []
    for update in updates:
        text = read(update.file)
        if text is None:
            out.append(f"{update.file} does not exist")
            continue
        if update.image is not None:
            entry = image_entry(text, update.image.name, update.file)
            for key in _IMAGE_FIELDS:
                wanted = _render(getattr(update.image, key), values, update.file)
                if wanted is not None and str(entry.get(key)) != wanted:
                    out.append(f"{update.file}: image {update.image.name} {key} is {entry.get(key)!r}, not {wanted!r}")
            continue
        for path, template in update.set.items():
            wanted = templates.render(template, values, update.file)
            have = yamledit.get_value(
                text, path, document=update.document, match=update.match or None, filename=update.file
            )
            if have != wanted:
                out.append(f"{update.file}: {path} is {have!r}, not {wanted!r}")
    return out


def _literal(value: str) -> str:
    return value.replace("{", "{{").replace("}", "}}")


def literal_updates(updates: Sequence[UpdateConfig], read: Callable[[str], str | None]) -> list[UpdateConfig]:
    """The updates with the values their files hold in `read` (an older commit) as literal templates."""
    out = []
    for update in updates:
        text = read(update.file)
        if text is None:
            continue
        if update.image is not None:
            entry = image_entry(text, update.image.name, update.file)
            given = {
                k: _literal(str(entry[k]))
                for k in _IMAGE_FIELDS
                if getattr(update.image, k) is not None and entry.get(k) is not None
            }
            if given:
                out.append(dataclasses.replace(update, image=KustomizeImageConfig(update.image.name, **given)))
            continue
        old = {}
        for path in update.set:
            have = yamledit.get_value(
                text, path, document=update.document, match=update.match or None, filename=update.file
            )
            if have is not None:
                old[path] = _literal(have)
        if old:
            out.append(dataclasses.replace(update, set=old))
    return out


DEFAULT_MESSAGE = """chore({{ env }}): {{ action }} {{ app }} {{ version }}
{% if notes %}
{{ notes }}
{% endif %}{% if source or pipeline_url %}
{% if source %}Source commit: {{ source }}
{% endif %}{% if pipeline_url %}Pipeline: {{ pipeline_url }}
{% endif %}{% endif %}"""


def message(template: str | None, **fields: Any) -> str:
    """The commit message: the jinja2 template (default: a conventional subject), then the trailers."""
    import jinja2

    try:
        text = jinja2.Environment(keep_trailing_newline=True).from_string(template or DEFAULT_MESSAGE).render(**fields)
    except jinja2.TemplateError as exc:
        raise ReleaseError(
            f"environment {fields['env']}: the message template fails: {exc}", "fix `message:`"
        ) from None
    trailers = [f"Release-Version: {fields['version']}"]
    if fields.get("source"):
        trailers.append(f"Release-Source: {fields['source']}")
    missing = [t for t in trailers if t.split(":")[0] + ":" not in text]
    return text.rstrip("\n") + ("\n\n" + "\n".join(missing) if missing else "") + "\n"


# --------------------------------------------------------------------------------------------- git I/O


class _Git(chartbranch._Git):
    """The chart-branch publisher's git, with fetches, ls-remotes and pushes retried on network and server errors."""

    def _exec(
        self, *args: str, input: str | None = None, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        return retry_network(args, lambda: chartbranch._Git._exec(self, *args, input=input, env=env))


class InfraClone:
    """A throwaway clone of one branch of an environment's infra repository."""

    def __init__(self, ctx: Context, env: EnvironmentConfig, tmp: Path, *, history: bool) -> None:
        url = env.repo if "://" in env.repo else str((ctx.root / env.repo).resolve())
        git_env = chartbranch._git_env(ctx.env, url)
        self.git = _Git(tmp, git_env, authenticated=any(v.startswith("Authorization:") for v in git_env.values()))
        self.git.run("init", "-q")
        self.git.run("remote", "add", "origin", url)
        self.git = dataclasses.replace(self.git, env={**self.git.env, **chartbranch._identity(ctx.env, self.git)})
        self.history = history
        self.where = BranchTarget(url, env.branch or self._default_branch(url))
        # Sparse: the work tree holds only the files promotes touch (an infra repo has thousands); with a blobless
        # fetch, only their contents are downloaded. Every environment's files, so `after:` checks can read them.
        files = sorted({u.file for e in ctx.config.environments for u in e.updates})
        self.git.run("config", "core.sparseCheckout", "true")
        info = tmp / ".git" / "info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "sparse-checkout").write_text("".join(f"/{f}\n" for f in files), encoding="utf-8")

    def _default_branch(self, url: str) -> str:
        proc = self.git._exec("ls-remote", "--symref", "origin", "HEAD")
        if proc.returncode != 0:
            raise chartbranch.fetch_error(self.git, BranchTarget(url, "HEAD"), proc)
        out = proc.stdout.decode("utf-8", errors="replace")
        for line in out.splitlines():
            if line.startswith("ref: refs/heads/"):
                return line.split("\t")[0].removeprefix("ref: refs/heads/")
        raise ReleaseError(f"{url} has no default branch to promote to", "set `branch:` for this environment")

    @property
    def label(self) -> str:
        return f"{self.where.url} ({self.where.branch})"

    def sync(self) -> None:
        """The work tree at the remote branch's tip."""
        branch, remote_ref = self.where.branch, f"refs/remotes/origin/{self.where.branch}"
        # blobless either way: history (status, rollback) without contents, or just the tip
        depth = ["--filter=blob:none"] if self.history else ["--depth", "1", "--filter=blob:none"]
        proc = self.git._exec("fetch", "-q", "--no-tags", *depth, "origin", f"+refs/heads/{branch}:{remote_ref}")
        if proc.returncode != 0:
            if chartbranch._MISSING_BRANCH in proc.stderr.decode("utf-8", errors="replace"):
                raise ReleaseError(f"{self.where.url} has no branch {branch}", "create it, or fix `branch:`")
            raise chartbranch.fetch_error(self.git, self.where, proc)
        self.git.run("symbolic-ref", "HEAD", f"refs/heads/{branch}")
        self.git.run("reset", "-q", "--hard", remote_ref)
        self.git.run("clean", "-q", "-d", "-f", "-x")

    def read(self, file: str) -> str | None:
        path = chartbranch._inside(self.git.cwd, file)
        if not path.is_file():
            return None
        return _decode(path.read_bytes(), file)

    def read_at(self, commit: str, file: str) -> str | None:
        proc = self.git._exec("show", f"{commit}:{file}")
        return _decode(proc.stdout, file) if proc.returncode == 0 else None

    def write(self, edits: Sequence[FileEdit]) -> None:
        for edit in edits:
            # bytes, not text mode: CRLF files stay CRLF.
            chartbranch._inside(self.git.cwd, edit.file).write_bytes(edit.new.encode("utf-8"))
        self.git.run("add", "--", *(e.file for e in edits))

    def commit(self, text: str) -> str:
        self.git.run("commit", "-q", "--no-verify", "--cleanup=verbatim", "-F", "-", input=text)
        return self.head()

    def head(self) -> str:
        return self.git.run("rev-parse", "HEAD").strip()

    def push(self) -> str | None:
        try:
            return chartbranch._push(self.git, self.where)
        except GitError as exc:
            if transient(exc.message):  # not a refusal: the network or the server failed, three times
                reason = exc.message.split(" was refused: ", 1)[-1]
                raise ReleaseError(
                    f"git push to {self.where.branch} in {self.where.url} failed: {reason}",
                    "the network or the git server failed; rerun the job: a rerun writes only what is missing",
                ) from None
            raise ReleaseError(exc.message, PROTECTED_HINT) from None

    def fetch_branch(self, branch: str) -> str | None:
        """The tip of another branch of the remote (fetched, shallow), or None when it does not exist."""
        ref = f"refs/remotes/origin/{branch}"
        proc = self.git._exec("fetch", "-q", "--no-tags", "--depth", "1", "origin", f"+refs/heads/{branch}:{ref}")
        if proc.returncode != 0:
            if chartbranch._MISSING_BRANCH in proc.stderr.decode("utf-8", errors="replace"):
                return None
            raise chartbranch.fetch_error(self.git, BranchTarget(self.where.url, branch), proc)
        return self.git.run("rev-parse", ref).strip()

    def tree(self, commit: str) -> str:
        return self.git.run("rev-parse", f"{commit}^{{tree}}").strip()

    def push_branch(self, branch: str, expect: str | None) -> str | None:
        """Push HEAD to `branch` (a release branch, never the target) only if it is still at `expect` (None: absent).

        None when it landed; the reason when someone else moved the branch meanwhile."""
        lease = f"--force-with-lease=refs/heads/{branch}:{expect or ''}"
        proc = self.git._exec("push", "--porcelain", lease, "origin", f"HEAD:refs/heads/{branch}")
        if proc.returncode == 0:
            return None
        out = proc.stdout.decode("utf-8", errors="replace")
        err = proc.stderr.decode("utf-8", errors="replace")
        refused = next((line.split("\t")[-1] for line in out.splitlines() if line.startswith("!")), None)
        reason = refused or next(
            (line for line in err.splitlines() if line.startswith(("fatal:", "error:"))), err.strip() or "push failed"
        )
        if chartbranch._RACE.search(reason):
            return reason
        raise ReleaseError(
            f"git push to {branch} in {self.where.url} was refused: {reason}",
            "check your push rights on release/* branches of the infra repository",
        )

    def last_change(self, file: str) -> tuple[str, str] | None:
        out = self.git.run("log", "-1", "--format=%H%x00%cI", "--", file).strip()
        if not out:
            return None
        sha, _, when = out.partition("\0")
        return sha, when

    def history_of(self, file: str) -> list[str]:
        return self.git.run("log", "--format=%H", "--", file).split()

    def trailer(self, commit: str, key: str) -> str | None:
        out = self.git.run("log", "-1", f"--format=%(trailers:key={key},valueonly)", commit).strip()
        return out.splitlines()[0].strip() if out else None


def _decode(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ReleaseError(f"{file} is not UTF-8 text", "save it as UTF-8") from None


@contextmanager
def open_clone(ctx: Context, env: EnvironmentConfig, *, history: bool = False) -> Iterator[InfraClone]:
    with tempfile.TemporaryDirectory(prefix=f"release-promote-{env.name}-") as tmp:
        clone = InfraClone(ctx, env, Path(tmp), history=history)
        clone.sync()
        yield clone


# --------------------------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Outcome:
    env: str
    repo: str
    version: str
    commit: str | None  # None: nothing was committed (already there, or a dry run)
    diff: str = ""
    url: str | None = None  # merge-request mode: the merge/pull request's web page


def environment(ctx: Context, name: str) -> EnvironmentConfig:
    for env in ctx.config.environments:
        if env.name == name:
            return env
    known = ", ".join(e.name for e in ctx.config.environments)
    raise ReleaseError(
        f"unknown environment {name!r}",
        f"known environments: {known}" if known else "add it under `environments:` in release.yaml",
    )


def resolve_version(ctx: Context, given: str | None) -> semver.Version:
    text = given or ctx.state.version
    if text is None:
        from release.stages import plan as plan_stage

        plans = plan_stage.make_plans(ctx)
        found = next((p.next_version for p in plans if p.next_version is not None), None)
        if found is None:
            raise ReleaseError("there is no version to promote (nothing to release)", "pass --version VERSION")
        return found
    try:
        return semver.Version.parse(text.removeprefix("v"))
    except ValueError:
        raise ReleaseError(f"{text!r} is not a semantic version", "pass --version x.y.z") from None


class NotYet(ReleaseError):
    """The environment's `after:` environment does not hold the version yet: `release run` skips it."""


def waiting_for(ctx: Context, env: EnvironmentConfig, ver: semver.Version) -> str | None:
    """Why `env` cannot take `ver` yet (its `after:` environment does not hold it), or None."""
    if env.after is None:
        return None
    before = environment(ctx, env.after)
    with open_clone(ctx, before) as clone:
        problems = mismatches(before.updates, clone.read, release_fields(ctx, ver))
    if not problems:
        return None
    return f"{env.name} is promoted after {before.name}, and {before.name} is not at {ver} yet ({problems[0]})"


def promote(
    ctx: Context, name: str, version: str | None, *, dry_run: bool, say: Say, mode: str | None = None
) -> Outcome:
    """Write `version` into environment `name`'s files: one commit, pushed (or the diff, with dry_run).

    In merge-request mode the commit goes to `release/<env>/<version>` and a merge/pull request is opened."""
    env = environment(ctx, name)
    if mode is not None:
        env = dataclasses.replace(env, mode="merge-request" if mode == "merge-request" else "push")
    ver = resolve_version(ctx, version)
    values = release_fields(ctx, ver)
    waiting = waiting_for(ctx, env, ver)
    if waiting is not None:
        raise NotYet(waiting, f"promote {env.after} first: release promote {env.after} --version {ver}")
    source = ctx.state.sha or ctx.git.head() or ""
    with open_clone(ctx, env) as clone:
        if env.mode == "merge-request":
            return _write_mr(
                ctx,
                env,
                clone,
                env.updates,
                values,
                version=str(ver),
                fields={"action": "deploy", "source": source},
                dry_run=dry_run,
                say=say,
            )
        return _write(
            ctx,
            env,
            clone,
            env.updates,
            values,
            version=str(ver),
            fields={"action": "deploy", "source": source},
            dry_run=dry_run,
            say=say,
        )


def rollback(ctx: Context, name: str, to: str | None, *, dry_run: bool, say: Say, mode: str | None = None) -> Outcome:
    """Write back the values the environment's files held at its previous version, as a new commit (or an MR)."""
    env = environment(ctx, name)
    if mode is not None:
        env = dataclasses.replace(env, mode="merge-request" if mode == "merge-request" else "push")
    first = env.updates[0]
    with open_clone(ctx, env, history=True) as clone:
        text = clone.read(first.file)
        if text is None:
            raise ReleaseError(
                f"environment {env.name}: {first.file} does not exist in {clone.label}", "check the path"
            )
        now = current_value(first, text)
        target = None
        for commit in clone.history_of(first.file):
            old = clone.read_at(commit, first.file)
            value = current_value(first, old) if old is not None else None
            if value is None:
                continue
            if (to is not None and to in (value, clone.trailer(commit, "Release-Version"))) or (
                to is None and value != now
            ):
                target = (commit, value)
                break
        if target is None:
            wanted = f"version {to}" if to else f"a version other than {now}"
            raise ReleaseError(
                f"environment {env.name}: the history of {first.file} holds no {wanted}",
                "nothing to roll back to; promote the version you want instead",
            )
        commit, value = target
        version = clone.trailer(commit, "Release-Version") or value
        updates = literal_updates(env.updates, lambda file: clone.read_at(commit, file))
        say(f"{env.name}: rolling back from {now} to {version} (as of {commit[:12]})")
        writer = _write_mr if env.mode == "merge-request" else _write
        return writer(
            ctx,
            env,
            clone,
            updates,
            {},
            version=version,
            fields={"action": "roll back", "source": clone.trailer(commit, "Release-Source") or ""},
            dry_run=dry_run,
            say=say,
        )


def _write(
    ctx: Context,
    env: EnvironmentConfig,
    clone: InfraClone,
    updates: Sequence[UpdateConfig],
    values: Mapping[str, str],
    *,
    version: str,
    fields: dict[str, str],
    dry_run: bool,
    say: Say,
) -> Outcome:
    """Apply, verify, commit, push; on a race, redo all of it on the new tip (never a forced push)."""
    text = None
    for attempt in range(1, ATTEMPTS + 1):
        if attempt > 1:
            clone.sync()
        edits = [e for e in plan_edits(env, updates, clone.read, values, clone.label) if e.changed]
        if not edits:
            head = clone.head()
            say(f"{env.name} is already at {version} ({clone.label} at {head[:12]}); nothing to commit")
            if not dry_run:  # a rerun after a crash: the State still records where the version is
                _record(ctx, env, head, version)
            return Outcome(env.name, env.repo, version, None)
        if dry_run:
            return Outcome(env.name, env.repo, version, None, "".join(e.diff() for e in edits))
        clone.write(edits)
        again = [e for e in plan_edits(env, updates, clone.read, values, clone.label) if e.changed]
        if again:  # a second pass must change nothing: the values are where they should be
            raise yamledit.EditVerificationError(f"{again[0].file} still changes on a second pass")
        if text is None:
            text = message(
                env.message,
                env=env.name,
                app=env.app or ctx.root.name,
                version=version,
                pipeline_url=ctx.ci.pipeline_url or "",
                notes=notes_summary(ctx, version) if fields.get("action") == "deploy" else "",
                files=[e.file for e in edits],
                **fields,
            )
        commit = clone.commit(text)
        problem = clone.push()
        if problem is None:
            say(f"{env.name}: {fields['action']} {version}: commit {commit[:12]} pushed to {clone.label}")
            _record(ctx, env, commit, version)
            return Outcome(env.name, env.repo, version, commit)
        if attempt == ATTEMPTS:
            raise ReleaseError(
                f"could not promote {env.name}: {clone.where.branch} kept moving "
                f"({ATTEMPTS} attempts, last: {problem})",
                "rerun the job: a rerun writes only what is missing",
            )
        delay = backoff(attempt, BACKOFF_SECONDS)
        say(
            f"{clone.where.branch} moved while promoting {env.name} ({problem}); redoing on the new tip in {delay:.1f}s"
        )
        time.sleep(delay)
    raise AssertionError("unreachable")


def release_branch(env: EnvironmentConfig, version: str) -> str:
    return f"release/{env.name}/{version}"


def _write_mr(
    ctx: Context,
    env: EnvironmentConfig,
    clone: InfraClone,
    updates: Sequence[UpdateConfig],
    values: Mapping[str, str],
    *,
    version: str,
    fields: dict[str, str],
    dry_run: bool,
    say: Say,
) -> Outcome:
    """Merge-request mode: the commit on `release/<env>/<version>`, then one open merge/pull request for it.

    The commit is always made on the target branch's tip. When the release branch already exists with the same
    tree, nothing is pushed; otherwise it is replaced with `--force-with-lease` (that branch only, and only if
    it is still where we saw it), so the merge request always shows a single commit on the current target tip.
    The target branch itself is never pushed to."""
    forge = None if dry_run else resolve_forge(ctx, env, clone.where.url)  # config and token errors come first
    branch, target = release_branch(env, version), clone.where.branch
    for attempt in range(1, ATTEMPTS + 1):
        if attempt > 1:
            clone.sync()
        edits = [e for e in plan_edits(env, updates, clone.read, values, clone.label) if e.changed]
        if not edits:
            head = clone.head()
            say(f"{env.name} is already at {version} ({clone.label} at {head[:12]}); nothing to commit")
            return Outcome(env.name, env.repo, version, None)
        if dry_run:
            return Outcome(env.name, env.repo, version, None, "".join(e.diff() for e in edits))
        assert forge is not None
        clone.write(edits)
        again = [e for e in plan_edits(env, updates, clone.read, values, clone.label) if e.changed]
        if again:
            raise yamledit.EditVerificationError(f"{again[0].file} still changes on a second pass")
        text = message(
            env.message,
            env=env.name,
            app=env.app or ctx.root.name,
            version=version,
            pipeline_url=ctx.ci.pipeline_url or "",
            notes=notes_summary(ctx, version) if fields.get("action") == "deploy" else "",
            files=[e.file for e in edits],
            **fields,
        )
        commit = clone.commit(text)
        remote = clone.fetch_branch(branch)
        if remote is not None and clone.tree(remote) == clone.tree(commit):
            say(f"{env.name}: {branch} already holds these changes ({remote[:12]}); nothing pushed")
            commit = remote
            break
        problem = clone.push_branch(branch, remote)
        if problem is None:
            say(
                f"{env.name}: {fields['action']} {version}: commit {commit[:12]} pushed to {branch} "
                f"of {clone.where.url}"
            )
            break
        if attempt == ATTEMPTS:
            raise ReleaseError(
                f"could not push {branch} for {env.name}: it kept moving ({ATTEMPTS} attempts, last: {problem})",
                "rerun the job: a rerun writes only what is missing",
            )
        delay = backoff(attempt, BACKOFF_SECONDS)
        say(f"{branch} moved while promoting {env.name} ({problem}); redoing on the target tip in {delay:.1f}s")
        time.sleep(delay)
    assert forge is not None
    title = text.splitlines()[0]
    description = _description(ctx, env, version, [e.file for e in edits], fields.get("source") or "", target)
    found = forge.find_open_mr(branch, target)
    if found is None:
        mr = forge.create_mr(branch, target, title, description)
        say(f"{env.name}: opened {forge.noun} {mr.url}")
    elif (found.title, found.description) != (title, description):
        mr = forge.update_mr(found.number, title, description)
        say(f"{env.name}: updated {forge.noun} {mr.url}")
    else:
        mr = found
        say(f"{env.name}: {forge.noun} {mr.url} is up to date")
    _record(ctx, env, commit, version, branch=branch, merge_request=mr.url)
    return Outcome(env.name, env.repo, version, commit, url=mr.url)


def release_notes(ctx: Context, version: str) -> str | None:
    """The release notes of the plan that releases `version` here, or None (another version, or no plan)."""
    from release.stages import notes as notes_stage
    from release.stages import plan as plan_stage

    try:
        plans = plan_stage.make_plans(ctx)
    except ReleaseError:
        return None
    plan = next((p for p in plans if p.next_version is not None and str(p.next_version) == version), None)
    return notes_stage.for_plan(ctx, plan).rstrip("\n") if plan is not None else None


def notes_summary(ctx: Context, version: str, limit: int = 20) -> str:
    """The notes without their heading, at most `limit` lines: what a commit message can carry."""
    notes = release_notes(ctx, version)
    if not notes:
        return ""
    lines = [line for line in notes.splitlines()[1:] if line.strip()]
    more = len(lines) - limit
    return "\n".join(lines[:limit]) + (f"\n… and {more} more lines" if more > 0 else "")


def _description(ctx: Context, env: EnvironmentConfig, version: str, files: list[str], source: str, target: str) -> str:
    """The release notes of the plan that releases `version`, then a short summary (or the summary alone)."""
    summary = f"Deploys {env.app or ctx.root.name} {version} to {env.name} ({target}).\n\nFiles:\n" + "".join(
        f"- `{f}`\n" for f in files
    )
    if source:
        summary += f"\nSource commit: {source}\n"
    notes = release_notes(ctx, version)
    return notes + "\n\n---\n\n" + summary if notes else summary


_SCP = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")  # git@host:group/repo.git


def _repo_location(url: str) -> tuple[str, str] | None:
    """(host, path without .git) of a remote URL; None for a local path or file://."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme in ("http", "https", "ssh", "git") and parsed.hostname:
        return parsed.hostname, parsed.path.strip("/").removesuffix(".git")
    match = _SCP.match(url) if "://" not in url else None
    if match:
        return match["host"], match["path"].strip("/").removesuffix(".git")
    return None


def resolve_forge(ctx: Context, env: EnvironmentConfig, url: str) -> forge_api.Forge:
    """Which forge API opens the merge request, for which project, with which token (decisions live here)."""
    e = ctx.env
    where = _repo_location(url)
    host = where[0] if where else None
    kind: forge_api.Kind
    if env.forge is not None:
        kind = env.forge
    elif e.get("CI_SERVER_URL"):
        kind = "gitlab"
    elif e.get("GITHUB_API_URL") or host == "github.com":
        kind = "github"
    elif host is not None and "gitlab" in host:
        kind = "gitlab"
    else:
        raise ReleaseError(
            f"environment {env.name}: cannot tell which forge hosts {url} for merge-request mode",
            "set `forge: gitlab` or `forge: github` (and `api:`, `project:`) for this environment",
        )
    api = env.api or forgerelease.default_api(kind, e, host)
    if not api:
        raise ReleaseError(f"environment {env.name}: no {kind} API URL for {url}", "set `api:` for this environment")
    project = env.project or (where[1] if where else None)
    if not project:
        raise ReleaseError(
            f"environment {env.name}: cannot tell the {kind} project of {url}",
            "set `project:` (GitLab: ID or group/name; GitHub: owner/repo)",
        )
    if kind == "github" and project.count("/") != 1:
        raise ReleaseError(f"environment {env.name}: GitHub project {project!r} is not owner/repo", "fix `project:`")
    token = forgerelease.token_headers(kind, e)  # registered for masking
    if token is None and kind == "gitlab":
        raise ReleaseError(
            f"environment {env.name}: merge-request mode needs a GitLab token",
            "set GITLAB_TOKEN (a project or personal access token with the api scope)",
        )
    if token is None:
        raise ReleaseError(
            f"environment {env.name}: merge-request mode needs a GitHub token",
            "set GITHUB_TOKEN (with pull-requests: write and contents: write)",
        )
    name, headers = token
    return forge_api.Forge(kind, api, project, headers, name)


def _record(ctx: Context, env: EnvironmentConfig, commit: str, version: str, **more: str) -> None:
    entry = {"env": env.name, "repo": env.repo, "commit": commit, "version": version, **more}
    ctx.state.promotions = [p for p in ctx.state.promotions if p.get("env") != env.name] + [entry]


def status(ctx: Context) -> list[dict[str, Any]]:
    """For every environment: the version its first file holds, and the commit that last changed that file."""
    out = []
    for env in ctx.config.environments:
        first = env.updates[0]
        with open_clone(ctx, env, history=True) as clone:
            text = clone.read(first.file)
            version = current_value(first, text) if text is not None else None
            change = clone.last_change(first.file)
        out.append(
            {
                "env": env.name,
                "repo": env.repo,
                "branch": clone.where.branch,
                "file": first.file,
                "version": version,
                "commit": change[0] if change else None,
                "date": change[1] if change else None,
            }
        )
    return out


__all__ = ["Outcome", "plan_edits", "promote", "rollback", "status"]
