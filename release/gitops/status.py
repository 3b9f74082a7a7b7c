"""`release status`: what each environment holds, from its record (gitops/record.py), and whether its files still
hold what that record wrote.

Environments that share an infra repository and branch share one clone and one `git log` of all their files; the
drift check reads trees, and only the files that changed since a record commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from release.config import EnvironmentConfig
from release.context import Context
from release.errors import ReleaseError
from release.gitops import artifacts, mergerequest, verify
from release.gitops import record as records
from release.gitops.clone import InfraClone, open_clone, repo_url


def status(ctx: Context) -> list[dict[str, Any]]:
    """For every environment, in release.yaml order: its record and drift, as `release status --json` prints."""
    groups: dict[tuple[str, str | None], list[EnvironmentConfig]] = {}
    for env in ctx.config.environments:
        groups.setdefault((repo_url(ctx, env), env.branch), []).append(env)
    rows: dict[str, dict[str, Any]] = {}
    for envs in groups.values():
        with open_clone(ctx, envs[0], history=True, worktree=False) as clone:
            found = records.latest_all(clone, envs)
            rows.update(_rows(clone, envs, found))
            for env in envs:  # desired (the record) beside observed (what the agent reports about it)
                rows[env.name]["observed"] = verify.observed(ctx, clone, env, found[env.name]).as_json()
    for env in ctx.config.environments:
        rows[env.name].update(_pending(ctx, env))
    if ctx.config.images or ctx.config.charts:
        for env in ctx.config.environments:
            rows[env.name]["artifacts"] = _artifacts(ctx, rows[env.name]["version"])
    return [rows[env.name] for env in ctx.config.environments]


def _artifacts(ctx: Context, version: str | None) -> dict[str, Any] | None:
    """Digests, platforms and attached SBOM/provenance/signatures of the version the record names (once each)."""
    if version is None:
        return None
    found: dict[str, dict[str, Any]] = ctx.cache.setdefault("status-artifacts", {})
    if version not in found:
        try:
            found[version] = artifacts.of_version(ctx, version)
        except ReleaseError as exc:  # never published, registry unreachable: the rest of status still holds
            found[version] = {"unknown": f"{exc.message} ({exc.hint})" if exc.hint else exc.message}
    return found[version]


def _pending(ctx: Context, env: EnvironmentConfig) -> dict[str, Any]:
    """The merge request that waits to change this environment (merge-request mode only), or why it is unknown."""
    try:
        found = mergerequest.pending(ctx, env)
    except ReleaseError as exc:  # no token, forge unreachable: the rest of status still holds
        why = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
        return {"merge_request": None, "merge_request_unknown": why}
    if found is None:
        return {"merge_request": None}
    return {"merge_request": {"version": found.version, "url": found.url, "number": found.number}}


def _rows(
    clone: InfraClone, envs: Sequence[EnvironmentConfig], found: dict[str, records.Record | None]
) -> dict[str, dict[str, Any]]:
    drift = records.drifts(clone, [(env, r) for env in envs if (r := found[env.name]) is not None])
    return {env.name: row(env, clone.where.branch, found[env.name], drift.get(env.name, [])) for env in envs}


def row(
    env: EnvironmentConfig, branch: str, record: records.Record | None, drift: list[records.Drift]
) -> dict[str, Any]:
    return {
        "env": env.name,
        "repo": env.repo,
        "branch": branch,
        "files": records.files_of(env),
        "recorded": record is not None,  # false: no commit of ours ever wrote these files
        "version": record.version if record else None,  # null: unknown (never promoted by us, or a rollback to
        "commit": record.commit if record else None,  # files no release recorded: see `restores`)
        "date": record.date if record else None,
        "source": record.source if record else None,
        "pipeline": record.pipeline if record else None,
        "held": bool(record and record.held),
        "rollback_from": record.rollback_from if record else None,
        "restores": record.restores if record else None,
        "hold_released_by": record.released if record else None,
        "drifted": bool(drift),
        "drift": [{"file": d.file, "path": d.path, "recorded": d.recorded, "now": d.now} for d in drift],
    }


def _pending_note(entry: dict[str, Any]) -> list[str]:
    waiting = entry.get("merge_request")
    if waiting:
        return [f"{waiting['version']} waits in {waiting['url']}"]
    if entry.get("merge_request_unknown"):
        return [f"pending merge request unknown: {entry['merge_request_unknown']}"]
    return []


def observed_text(entry: dict[str, Any]) -> str:
    """The observed column: `healthy (kustomization/apps/0c9c2e41 on 3f2a…)`, `unknown (no verify configured)`."""
    seen = entry.get("observed") or {"state": "unknown", "detail": "no verify configured"}
    where = f" on {seen['commit'][:12]}" if seen.get("commit") else ""
    return f"{seen['state']} ({seen['detail']}{where})"


def line(entry: dict[str, Any]) -> str:
    """One line per environment, tab-separated: env, version, record commit, date, source, pipeline, what the
    agent reports (observed), state."""
    if not entry["recorded"]:
        state = "version unknown: no commit of release ever wrote these files (promote it once)"
        said = ", ".join([state, *_pending_note(entry)])
        return "\t".join([entry["env"], "unknown", "-", "-", "-", "-", observed_text(entry), said])
    notes = []
    if entry["version"] is None:
        notes.append(f"no version: rolled back to the files as of {(entry['restores'] or '')[:12]}")
    if entry["held"]:
        went = f" from {entry['rollback_from']}" if entry["rollback_from"] else ""
        notes.append(f"held since the rollback{went} (to release it: release unhold {entry['env']})")
    if entry["drifted"]:
        shown = [records.Drift(**d).describe() for d in entry["drift"]]
        notes.append("drifted: " + "; ".join(shown))
    notes.extend(_pending_note(entry))
    return "\t".join(
        [
            entry["env"],
            entry["version"] or "unknown",
            entry["commit"][:12],
            entry["date"],
            (entry["source"] or "-")[:12],
            entry["pipeline"] or "-",
            observed_text(entry),
            ", ".join(notes) or "ok",
        ]
    )
