"""GitHub deployments: after a promote, a deployment of the released tag to the environment, marked successful.

GitHub's Environments and Deployments pages then list what release promoted and when. GitLab needs nothing from
here: the component's per-environment promote jobs declare `environment:`, and GitLab records the deployment.

- When: a promote in push mode (the version is in the infra repo's branch: the GitOps agent deploys it). A
  merge-request promote deploys when someone merges, so it records nothing.
- Where: the application's own repository on GitHub (the forge, API, project and token of release objects:
  `forge_release:`, then the CI's variables, then the origin remote). On any other forge, nothing.
- What: POST deployments {ref: the tag, environment, auto_merge: false, required_contexts: []}, then a `success`
  status with the environment's `url:` and the CI run as log. A rerun finds the environment's newest deployment is
  already this tag and writes nothing.
- Never a reason to fail the promote: no token, a token without `deployments: write` (HTTP 403), or any other
  failure is one line saying the deployment was not recorded and why.
"""

from __future__ import annotations

from collections.abc import Callable

from release.adapters.forge import Forge, create_deployment, create_deployment_status, deployments
from release.config import EnvironmentConfig
from release.context import Context
from release.errors import ReleaseError
from release.forges.releases import resolve

Say = Callable[[str], None]


def record(ctx: Context, env: EnvironmentConfig, tag: str, version: str, say: Say) -> None:
    """The GitHub deployment of `tag` to `env` after a promote; a line instead when it cannot be made."""
    try:
        forge = resolve(ctx)
    except ReleaseError as exc:
        if _on_github(ctx):
            say(f"{env.name}: GitHub deployment not recorded: {exc.message}")
        return
    if isinstance(forge, str):
        if _on_github(ctx):
            say(f"{env.name}: GitHub deployment skipped: {forge}")
        return
    if forge.kind != "github":
        return
    try:
        newest = next(iter(deployments(forge, environment=env.name)), None)
        if newest is not None and newest.ref == tag:
            return  # a rerun: GitHub already shows this tag deployed there
        what = f"create a GitHub deployment of {tag} to {env.name}"
        line = ctx.effects.forge_write(what, lambda: _create(ctx, forge, env, tag, version), f"would {what}")
    except ReleaseError as exc:
        line = f"GitHub deployment not recorded: {exc.message}"
    if line:
        say(f"{env.name}: {line}")


def _create(ctx: Context, forge: Forge, env: EnvironmentConfig, tag: str, version: str) -> str:
    refused = (
        f"GitHub deployment skipped: {forge.token_name} may not create deployments (HTTP 403); "
        "give the workflow `permissions: deployments: write`"
    )
    deployment = create_deployment(forge, ref=tag, environment=env.name, description=f"release {version}")
    if deployment is None:
        return refused
    if not create_deployment_status(
        forge, deployment, state="success", environment_url=env.url, log_url=ctx.ci.pipeline_url
    ):
        return refused
    return f"GitHub deployment {deployment.id}: {tag} to {env.name}" + (f" ({env.url})" if env.url else "")


def _on_github(ctx: Context) -> bool:
    """Whether the user would expect a GitHub deployment: running in GitHub Actions, or release.yaml says GitHub."""
    return ctx.ci.provider == "github" or ctx.config.forge_release.forge == "github"
