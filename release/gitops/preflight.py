"""Before `release run` publishes anything: every environment it will promote can take the release.

For each one: its infra repository answers with the credentials given and has the branch, every file an update
names is there with every path it sets (unless the update may create it: `create: true`, a Kustomize images entry),
and every `{field}` its templates use is one the release will have (from the configured images and charts). The
edits are made for real in a throwaway clone, with placeholder digests, and thrown away. What `verify:` will read
(its tokens; each Argo CD application, when the run waits) answers. A failure names the environment, the file and
the path; nothing has been published yet.
"""

from __future__ import annotations

import semver

from release.config import EnvironmentConfig, UpdateConfig
from release.context import Context
from release.errors import ReleaseError
from release.gitops import record as records
from release.gitops import verify
from release.gitops.clone import open_clone, repo_url
from release.gitops.edits import plan_edits
from release.gitops.environments import environment
from release.gitops.mergerequest import resolve_forge
from release.gitops.promote import refuse_drift
from release.gitops.resolve import component, expected_fields
from release.gitops.targets import targets
from release.gitops.targets import version as state_version
from release.naming import templates
from release.source import plans as planning


def check(ctx: Context) -> None:
    """Refuse the run now (exit 1, one line) when an environment it will promote could not take the release."""
    names = targets(ctx) if ctx.config.environments else []
    release = upcoming(ctx) if names else None
    if release is None:
        return  # nothing will be promoted
    values = expected_fields(ctx, *release)
    for name in names:
        check_environment(ctx, environment(ctx, name), values)


def upcoming(ctx: Context) -> tuple[semver.Version, str | None] | None:
    """The version this run promotes and whose it is (a component, or None): the State's (a later job), else the
    one the plan releases; None when nothing will be released."""
    if ctx.state.sha is not None and ctx.state.sha == ctx.git.head():  # this commit's plan was made
        recorded = state_version(ctx)
        comp = component(ctx) if recorded is not None else None
        return (recorded, comp.name if comp else None) if recorded is not None else None
    plans = [p for p in planning.make_plans(ctx) if p.releasable and p.next_version is not None]
    if len(plans) > 1:
        raise ReleaseError(
            f"{len(plans)} components would be released, and environments take one version",
            "run one pipeline per component (release run --component NAME, see release ci generate)",
        )
    return (plans[0].next_version, plans[0].component) if plans and plans[0].next_version else None


def check_environment(ctx: Context, env: EnvironmentConfig, values: dict[str, str]) -> None:
    if env.mode == "merge-request":  # the token may open merge requests there: refused now, not after publishing
        _check_forge(ctx, env)
    for update in env.updates:
        for path, template in _templates(update):
            unknown = next((f.strip() for f in templates.fields(template) if f.strip() not in values), None)
            if unknown is not None:
                raise ReleaseError(
                    f"environment {env.name}: {update.file}: {path} uses {{{unknown}}}, which this release will not "
                    f"have",
                    f"fields this release has: {', '.join(sorted(values))}",
                )
    try:
        with open_clone(ctx, env) as clone:
            plan_edits(env, env.updates, clone.read, values, clone.label)
            refuse_drift(clone, env, records.latest(clone, env))  # else the promote stage stops, after publishing
        if env.verify is not None and env.verify.wait:  # the tokens and applications the wait will read
            verify.preflight(ctx, env.name)
        if env.after_verified and env.after_env is not None:
            verify.agents(ctx, environment(ctx, env.after_env))
    except ReleaseError as exc:
        prefix = f"environment {env.name}"
        message = exc.message if exc.message.startswith(prefix) else f"{prefix}: {exc.message}"
        raise ReleaseError(message, exc.hint) from None


def _check_forge(ctx: Context, env: EnvironmentConfig) -> None:
    """The forge that will take the merge request: which one, a token that can open one, one read of its list."""
    try:
        resolve_forge(ctx, env, repo_url(ctx, env)).open_mrs(env.branch)
    except ReleaseError as exc:
        prefix = f"environment {env.name}"
        message = exc.message if exc.message.startswith(prefix) else f"{prefix}: {exc.message}"
        raise ReleaseError(message, exc.hint) from None


def _templates(update: UpdateConfig) -> list[tuple[str, str]]:
    """(where, template) of every value an update writes: its `set:` paths, or its Kustomize image's keys."""
    if update.image is None:
        return list(update.set.items())
    image = update.image
    found = [("newName", image.newName), ("newTag", image.newTag), ("digest", image.digest)]
    return [(f"images[name={image.name}].{key}", value) for key, value in found if value is not None]
