"""Promote, rollback and unhold: write into an environment's infra repository, one commit (or one merge request).

- Already at that version (no byte would change): no commit, and it says so.
- `after: dev`: an environment is promoted only once `dev`'s files hold the same rendered values.
- Every commit carries the record trailers (gitops/record.py): what it wrote, from where, by which pipeline.
- Rollback writes back every update path as an earlier release's commit wrote it (default: the previous distinct
  version in the history of the environment's files); a key or `images:` entry that did not exist then is removed.
  It holds the environment: automatic promotes (`release run`) skip it until a person promotes a newer version or
  runs `release unhold` (an empty commit with `Release-Hold: false`). History is never rewritten."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence

from release.adapters.effects import Preview
from release.adapters.retry import backoff
from release.config import EnvironmentConfig, UpdateConfig
from release.context import Context
from release.errors import ReleaseError
from release.forges import deployments
from release.gitops import record as records
from release.gitops import resolve, verify
from release.gitops.clone import ATTEMPTS, BACKOFF_SECONDS, InfraClone, open_clone
from release.gitops.edits import restore_updates, values_at, with_trailers
from release.gitops.environments import Held, NotYet, Outcome, environment, record, resolve_version, waiting_for
from release.gitops.mergerequest import apply_edits, changes, commit_message, write_mr

Say = Callable[[str], None]


def _with_mode(env: EnvironmentConfig, mode: str | None) -> EnvironmentConfig:
    if mode is None:
        return env
    return dataclasses.replace(env, mode="merge-request" if mode == "merge-request" else "push")


def promote(
    ctx: Context,
    name: str,
    version: str | None,
    *,
    say: Say,
    mode: str | None = None,
    automatic: bool = False,
    force: bool = False,
) -> Outcome:
    """Write `version` into environment `name`'s files: one commit, pushed (in a dry run: the diff it would push).

    In merge-request mode the commit goes to `release/<env>/<version>` and a merge/pull request is opened.
    `automatic` (the promote stage of `release run`): a held environment is skipped (Held). A person's promote
    writes a new record without a hold, which releases it."""
    env = _with_mode(environment(ctx, name), mode)
    ver = resolve_version(ctx, version)
    published = resolve.released(ctx, ver)  # refuses a version that was never (fully) released: nothing is written
    values = published.values
    waiting = waiting_for(ctx, env, ver)
    if waiting is not None:
        raise NotYet(waiting, f"promote {env.after_env} first: release promote {env.after_env} --version {ver}")
    _refuse_unverified(ctx, env, str(ver))
    source = published.commit
    with open_clone(ctx, env) as clone:
        found = records.latest(clone, env)  # read once: the hold, the drift and the closing line all ask it
        if automatic:
            _refuse_held(env, found)
        if not force:
            refuse_drift(clone, env, found)
        writer = write_mr if env.mode == "merge-request" else _write
        fields = {"action": "deploy", "source": source}
        outcome = writer(ctx, env, clone, env.updates, values, version=str(ver), fields=fields, say=say)
        if env.mode == "push":  # the version is on the branch the GitOps agent deploys: tell GitHub
            deployments.record(ctx, env, published.tag, str(ver), say)
        if not automatic and outcome.commit is None and not outcome.diff and found is not None and found.held:
            say(f"{env.name} stays {found.hold_reason()}: release unhold {env.name} lets automatic promotes in")
        return outcome


def _refuse_unverified(ctx: Context, env: EnvironmentConfig, ver: str) -> None:
    """`after: {env: dev, verified: true}`: dev's agent must have confirmed the version healthy (one look)."""
    if not env.after_verified or env.after_env is None:
        return
    before = environment(ctx, env.after_env)
    why = verify.unconfirmed(ctx, before, ver)
    if why is not None:
        raise NotYet(
            f"{env.name} is promoted after {before.name} is verified, and {before.name}'s agent has not confirmed "
            f"{ver} yet ({why})",
            f"wait for it: release promote {before.name} --version {ver} --wait",
        )


def refuse_drift(clone: InfraClone, env: EnvironmentConfig, record: records.Record | None) -> None:
    """A file edited by hand since our last `record`: a promote would silently undo that edit, so it stops first."""
    drift = records.drifts(clone, [(env, record)]).get(env.name, []) if record is not None else []
    if drift:
        raise ReleaseError(
            f"environment {env.name} was edited by hand since release wrote {record.version if record else '-'} "
            f"({'; '.join(d.describe() for d in drift)}); a promote would undo that",
            f"carry the edit into the release (or drop it), then rerun `release promote {env.name}` with --force",
        )


def _refuse_held(env: EnvironmentConfig, held: records.Record | None) -> None:
    if held is not None and held.held:
        raise Held(
            f"{env.name} is {held.hold_reason()}; automatic promotes skip it until a person promotes a newer version"
            f" (release promote {env.name} --version V) or releases the hold (release unhold {env.name})"
        )


def rollback(ctx: Context, name: str, to: str | None, *, say: Say, mode: str | None = None) -> Outcome:
    """Write back what an earlier release wrote (`to`, or the previous distinct version), as a new commit (or an
    MR) that holds the environment."""
    env = _with_mode(environment(ctx, name), mode)
    with open_clone(ctx, env, history=True) as clone:
        entries, recs = records.history(clone, env)
        current = recs[0] if recs else None
        commit, target = _target(clone, env, entries, recs, to)
        try:
            updates = restore_updates(env.updates, lambda file: clone.read_at(commit, file), commit)
        except ReleaseError as exc:
            raise ReleaseError(f"environment {env.name}: {exc.message}", exc.hint) from None
        shown = target.label if target else f"the files as of {commit[:12]} (no release recorded them)"
        now = current.label if current else f"the files at {clone.head()[:12]} (no release recorded them)"
        say(f"{env.name}: rolling back from {now} to {shown}")
        fields = {
            "action": "roll back",
            "source": target.source or "" if target else "",
            "release_version": target.version or "" if target else "",
            "rollback_from": current.version or "" if current else "",
            "restores": commit,
            "hold": "true",
        }
        if target is None or target.version is None:
            fields["label"] = f"the files as of {commit[:12]}"
        label = target.version if target and target.version else f"as-of-{commit[:12]}"  # also a branch name
        writer = write_mr if env.mode == "merge-request" else _write
        return writer(ctx, env, clone, updates, {}, version=label, fields=fields, say=say)


def _target(
    clone: InfraClone,
    env: EnvironmentConfig,
    entries: Sequence[records.Entry],
    recs: Sequence[records.Record],
    to: str | None,
) -> tuple[str, records.Record | None]:
    """The commit whose files a rollback restores, and its record (None: no release recorded those files)."""
    if to is not None:
        return _wanted(clone, env, entries, recs, to)
    if recs:
        # the previous distinct version, passing over any version a rollback went away from (it was bad)
        seen = {recs[0].version, recs[0].rollback_from}
        for rec in recs[1:]:
            if rec.version and rec.version not in seen:
                return rec.commit, rec
            seen.add(rec.rollback_from)
        before = clone.parent(recs[-1].commit)  # what the files held before the first release we wrote
        if before is not None and _differs(clone, env, before):
            return before, None
        versions = ", ".join(dict.fromkeys(r.label for r in recs))
        raise ReleaseError(
            f"environment {env.name}: there is nothing earlier to roll back to: its files record only {versions}",
            f"promote the version you want instead: release promote {env.name} --version V",
        )
    for entry in entries:
        if _differs(clone, env, entry.commit):
            return entry.commit, None
    raise ReleaseError(
        f"environment {env.name}: the history of its files holds no other values than today's",
        f"nothing to roll back to; promote the version you want instead: release promote {env.name} --version V",
    )


def _wanted(
    clone: InfraClone,
    env: EnvironmentConfig,
    entries: Sequence[records.Entry],
    recs: Sequence[records.Record],
    to: str,
) -> tuple[str, records.Record | None]:
    """`--to`: the newest record of that version, else the newest commit whose first file holds it as a value."""
    wanted = to.removeprefix("v")
    for rec in recs:
        if rec.version is not None and rec.version.removeprefix("v") == wanted:
            return rec.commit, rec
    first = env.updates[0].file
    for entry in entries:
        text = clone.read_at(entry.commit, first)
        try:
            found = [v for u in env.updates if u.file == first for v in values_at(u, text).values()]
        except ReleaseError:  # not readable at that commit: not what we are looking for
            continue
        if text is not None and (to in found or wanted in found):
            return entry.commit, records.as_record(entry, env.name)
    versions = ", ".join(dict.fromkeys(r.version for r in recs if r.version)) or "none"
    raise ReleaseError(
        f"environment {env.name}: no release {to} in the history of its files (releases recorded: {versions})",
        f"roll back to one of those, or promote it: release promote {env.name} --version {to}",
    )


def _differs(clone: InfraClone, env: EnvironmentConfig, commit: str) -> bool:
    """Whether the environment's values at `commit` differ from today's (False when unreadable there)."""
    try:
        return _values(clone, env, commit) != _values(clone, env, None)
    except ReleaseError:  # not YAML at that commit (or a value that is a mapping): not a state to go back to
        return False


def _values(clone: InfraClone, env: EnvironmentConfig, commit: str | None) -> list[dict[str, str | None]]:
    """Every value the environment's updates write, at `commit` (None: the work tree, HEAD)."""
    texts: dict[str, str | None] = {}
    for update in env.updates:
        if update.file not in texts:
            texts[update.file] = clone.read(update.file) if commit is None else clone.read_at(commit, update.file)
    return [values_at(u, texts[u.file]) for u in env.updates]


def unhold(ctx: Context, name: str, *, say: Say, mode: str | None = None) -> Outcome:
    """Release a rollback's hold: an empty commit whose trailers say `Release-Hold: false` (history stays)."""
    env = _with_mode(environment(ctx, name), mode)
    if env.mode == "merge-request":
        raise ReleaseError(
            f"environment {env.name} is in merge-request mode, and release unhold pushes to its branch directly",
            f"promote a newer version (release promote {env.name} --version V) to release the hold through a merge"
            f" request, or, if you may push to the branch, run release unhold {env.name} --mode push",
        )
    with open_clone(ctx, env) as clone:

        def preview() -> Preview[Outcome]:
            held = _held_or_say(clone, env, say)
            if held is None:
                return Preview(Outcome(env.name, env.repo, "", None))
            would = f"release the hold on {env.name}: an empty commit pushed to {clone.label}"
            text = _unhold_message(ctx, env, held)
            return Preview(Outcome(env.name, env.repo, held.label, None, diff=text), would)

        return ctx.effects.infra_write(lambda: _unhold_push(ctx, env, clone, say), preview)


def _held_or_say(clone: InfraClone, env: EnvironmentConfig, say: Say) -> records.Record | None:
    held = records.latest(clone, env)
    if held is None or not held.held:
        what = f"its record is {held.commit[:12]} ({held.label})" if held else "no commit of release wrote its files"
        say(f"{env.name} is not held ({what}); nothing to commit")
        return None
    return held


def _unhold_message(ctx: Context, env: EnvironmentConfig, held: records.Record) -> str:
    text = (
        f"chore({env.name}): release the hold on {env.app or ctx.root.name}\n\n"
        f"{env.name} was {held.hold_reason()}; automatic promotes reach it again.\n"
    )
    trailers = [f"Release-Environment: {env.name}", records.UNHOLD]
    if ctx.ci.pipeline_url:
        trailers.append(f"Release-Pipeline: {ctx.ci.pipeline_url}")
    return with_trailers(text, trailers)


def _unhold_push(ctx: Context, env: EnvironmentConfig, clone: InfraClone, say: Say) -> Outcome:
    for attempt in range(1, ATTEMPTS + 1):
        if attempt > 1:
            clone.sync()
        held = _held_or_say(clone, env, say)
        if held is None:
            return Outcome(env.name, env.repo, "", None)
        commit = clone.commit_empty(_unhold_message(ctx, env, held))
        problem = clone.push()
        if problem is None:
            say(f"{env.name}: released the hold ({held.label}): commit {commit[:12]} pushed to {clone.label}")
            return Outcome(env.name, env.repo, held.label, commit)
        delay = backoff(attempt, BACKOFF_SECONDS)
        say(f"{clone.where.branch} moved while releasing the hold on {env.name} ({problem}); redoing in {delay:.1f}s")
        time.sleep(delay)
    raise ReleaseError(
        f"could not release the hold on {env.name}: {clone.where.branch} kept moving ({ATTEMPTS} attempts)",
        "rerun the command",
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
    shown = fields.get("label") or version  # a rollback to files no release recorded: "the files as of <sha>"
    for attempt in range(1, ATTEMPTS + 1):
        if attempt > 1:
            clone.sync()
        edits = apply_edits(env, clone, updates, values)
        if not edits:
            head = clone.head()
            say(f"{env.name} is already at {shown} ({clone.label} at {head[:12]}); nothing to commit")
            record(ctx, env, head, version)  # a rerun after a crash: the State still records where the version is
            return Outcome(env.name, env.repo, version, None)
        if text is None:
            text = commit_message(ctx, env, version, fields, edits)
        commit = clone.commit(text)
        problem = clone.push()
        if problem is None:
            what = f"roll back to {shown}" if fields["action"] == "roll back" else f"{fields['action']} {shown}"
            say(f"{env.name}: {what}: commit {commit[:12]} pushed to {clone.label}")
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
