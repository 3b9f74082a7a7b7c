"""SLSA v1 provenance of what a release builds: an in-toto statement naming the artifact by digest, the source repo
and commit, what was built and with which parameters, the CI job that built it, and the builder.

https://slsa.dev/spec/v1.0/provenance: `buildDefinition` (buildType, externalParameters, resolvedDependencies) and
`runDetails` (builder.id, metadata.invocationId, startedOn, finishedOn). The builder is the CI that ran release:
GitLab's runner or GitHub's workflow, the way their own SLSA generators name them; `local` on a laptop.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from release.context import Context
from release.secrets import mask
from release.source import notes as repo_notes

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
MEDIA_TYPE = "application/vnd.in-toto+json"
PREDICATE_ANNOTATION = "in-toto.io/predicate-type"
IMAGE_BUILD_TYPE = "https://release.invalid/buildtypes/container-image/v1"
CHART_BUILD_TYPE = "https://release.invalid/buildtypes/helm-chart/v1"


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def builder(env: Mapping[str, str]) -> tuple[str, str | None]:
    """(builder id, invocation id: the CI job's URL) for the CI release runs in."""
    if env.get("GITLAB_CI") and env.get("CI_SERVER_URL") and env.get("CI_PROJECT_PATH"):
        runner = env.get("CI_RUNNER_ID") or "unknown"
        return f"{env['CI_SERVER_URL']}/{env['CI_PROJECT_PATH']}/-/runners/{runner}", env.get("CI_JOB_URL")
    if env.get("GITHUB_ACTIONS") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL") or "https://github.com"
        workflow = env.get("GITHUB_WORKFLOW_REF") or f"{env['GITHUB_REPOSITORY']}/.github/workflows"
        run = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env.get('GITHUB_RUN_ID', '')}"
        return f"{server}/{workflow}", f"{run}/attempts/{env.get('GITHUB_RUN_ATTEMPT', '1')}"
    return "local", None


def source(ctx: Context) -> dict[str, Any]:
    """The resolved source: the repository (its web or remote URL) at the commit being released."""
    url = repo_notes.links(ctx).project_url or ctx.git.remote_url() or f"file://{ctx.root}"
    ref = ctx.branch()
    return {
        "uri": f"git+{url}" + (f"@refs/heads/{ref}" if ref else ""),
        "digest": {"gitCommit": ctx.git.head() or ""},
    }


def statement(
    ctx: Context,
    *,
    name: str,
    digest: str,
    build_type: str,
    parameters: Mapping[str, Any],
    started: str | None,
    finished: str | None,
) -> bytes:
    """The in-toto statement (JSON bytes) for the artifact `name`@`digest` built from this commit."""
    algorithm, _, value = digest.partition(":")
    builder_id, invocation = builder(ctx.env)
    metadata: dict[str, Any] = {"invocationId": invocation} if invocation else {}
    if started and finished:  # the build's own times; unknown when a rerun attaches it to an image built before
        metadata.update(startedOn=started, finishedOn=finished)
    origin = source(ctx)
    body = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {algorithm: value}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": build_type,
                "externalParameters": {"source": origin, **parameters},
                "resolvedDependencies": [origin],
            },
            "runDetails": {"builder": {"id": builder_id}, "metadata": metadata},
        },
    }
    return mask(json.dumps(body, indent=2, sort_keys=False)).encode() + b"\n"
