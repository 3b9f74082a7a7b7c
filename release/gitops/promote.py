"""Promote and rollback: write a release into an environment's infra repository, one commit (or one merge request).

- Already at that version (no byte would change): no commit, and it says so.
- `after: dev`: an environment is promoted only once `dev`'s files hold the same rendered values.
- Rollback finds the previous distinct value in the history of the environment's first file, and writes the
  values every update had at that commit back as a new commit. History is never rewritten."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence

from release.adapters.effects import Preview
from release.adapters.retry import backoff
from release.config import EnvironmentConfig, UpdateConfig
from release.context import Context
from release.errors import ReleaseError
from release.gitops import resolve
from release.gitops.clone import ATTEMPTS, BACKOFF_SECONDS, InfraClone, open_clone
from release.gitops.edits import current_value, literal_updates, message, plan_edits
from release.gitops.environments import NotYet, Outcome, environment, record, resolve_version, waiting_for
from release.gitops.mergerequest import changes, notes_summary, write_mr
from release.yaml import edit as yamledit

Say = Callable[[str], None]


def promote(ctx: Context, name: str, version: str | None, *, say: Say, mode: str | None = None) -> Outcome:
    """Write `version` into environment `name`'s files: one commit, pushed (in a dry run: the diff it would push).

    In merge-request mode the commit goes to `release/<env>/<version>` and a merge/pull request is opened."""
    env = environment(ctx, name)
    if mode is not None:
        env = dataclasses.replace(env, mode="merge-request" if mode == "merge-request" else "push")
    ver = resolve_version(ctx, version)
    published = resolve.released(ctx, ver)  # refuses a version that was never (fully) released: nothing is written
    values = published.values
    waiting = waiting_for(ctx, env, ver)
    if waiting is not None:
        raise NotYet(waiting, f"promote {env.after} first: release promote {env.after} --version {ver}")
    source = published.commit
    with open_clone(ctx, env) as clone:
        if env.mode == "merge-request":
            return write_mr(
                ctx,
                env,
                clone,
                env.updates,
                values,
                version=str(ver),
                fields={"action": "deploy", "source": source},
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
            say=say,
        )


def rollback(ctx: Context, name: str, to: str | None, *, say: Say, mode: str | None = None) -> Outcome:
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
        writer = write_mr if env.mode == "merge-request" else _write
        return writer(
            ctx,
            env,
            clone,
            updates,
            {},
            version=version,
            fields={"action": "roll back", "source": clone.trailer(commit, "Release-Source") or ""},
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
    say: Say,
) -> Outcome:
    """Apply, verify, commit, push; on a race, redo all of it on the new tip (never a forced push)."""

    def preview() -> Preview[Outcome]:
        would = f"{fields['action']} {version} to {env.name}: a commit pushed to {clone.label}"
        return changes(env, clone, updates, values, version, say, would)

    return ctx.effects.infra_write(
        lambda: _commit_push(ctx, env, clone, updates, values, version=version, fields=fields, say=say), preview
    )


def _commit_push(
    ctx: Context,
    env: EnvironmentConfig,
    clone: InfraClone,
    updates: Sequence[UpdateConfig],
    values: Mapping[str, str],
    *,
    version: str,
    fields: dict[str, str],
    say: Say,
) -> Outcome:
    text = None
    for attempt in range(1, ATTEMPTS + 1):
        if attempt > 1:
            clone.sync()
        edits = [e for e in plan_edits(env, updates, clone.read, values, clone.label) if e.changed]
        if not edits:
            head = clone.head()
            say(f"{env.name} is already at {version} ({clone.label} at {head[:12]}); nothing to commit")
            record(ctx, env, head, version)  # a rerun after a crash: the State still records where the version is
            return Outcome(env.name, env.repo, version, None)
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
            record(ctx, env, commit, version)
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
