"""`release run`: choose the stages, check that they can run here, run them, hand the results to the next job."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from release import pipeline
from release.ci import outputs
from release.context import Context
from release.errors import ReleaseError
from release.pipeline import Result, Stage
from release.source import claims, guards
from release.source import origin as release_origin
from release.source import tag as release_tag
from release.stages import plan as plan_stage

Say = Callable[[str], None]
Job = TypeVar("Job")
PUBLISHING = frozenset({"images", "charts", "publish", "notes", "promote"})  # stages that write outside this clone
# stages that publish what the working tree holds (an image's build context, a chart's files) or mark it released
FROM_THE_TREE = frozenset({"images", "charts", "publish"})


def parse_stages(text: str | None, option: str) -> list[str]:
    if text is None:
        return []
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in pipeline.NAMES]
    if unknown or not names:
        raise ReleaseError(
            f"{option} {text!r}: {'unknown stage ' + repr(unknown[0]) if unknown else 'no stage named'}",
            f"stages are, in order: {','.join(pipeline.NAMES)}",
        )
    return names


def select(only: str | None, skip: str | None) -> list[Stage]:
    chosen, dropped = parse_stages(only, "--only"), parse_stages(skip, "--skip")
    return [s for s in pipeline.PIPELINE if (not chosen or s.NAME in chosen) and s.NAME not in dropped]


def preflight(ctx: Context, stages: Sequence[Stage]) -> None:
    """Everything that would make the run pointless or unsafe, before any stage starts."""
    if ctx.config.source is None and ctx.ci.provider == "local":
        raise ReleaseError(
            "no release.yaml here, and this is not a CI job: release run would use the defaults",
            "write one with `release init` (or pass --config FILE)",
        )
    names = [s.NAME for s in stages]
    if names and "plan" not in names:
        _state_is_this_commits(ctx, names[0])
    reachable(ctx, names)  # before the tests: an unreachable target or a missing token stops the run now
    if "promote" in names:
        from release.gitops import preflight as environments  # git plumbing: only when environments are promoted

        environments.check(ctx)  # before any stage: a wrong path in an infra file stops the run, not the promote


def reachable(ctx: Context, names: Sequence[str]) -> None:
    """One read per target the chosen stages publish to (registries, Helm repositories, the forge), concurrently;
    the first failure, in pipeline order, is the run's one line. Each domain says what its targets are."""
    checks: list[Callable[[], None]] = []
    if "images" in names and ctx.config.images:
        from release.images import publish as images

        checks += images.access_checks(ctx)
    if "charts" in names and ctx.config.charts:
        from release.charts import publish as charts

        checks += charts.access_checks(ctx)
    if "notes" in names:
        from release.forges import releases as forgerelease

        checks += forgerelease.access_checks(ctx)
    if not checks:
        return
    with ThreadPoolExecutor(max_workers=min(8, len(checks))) as pool:
        for future in [pool.submit(check) for check in checks]:
            future.result()


def _state_is_this_commits(ctx: Context, first: str) -> None:
    """A later stage run alone (its own CI job) continues the plan's State, which must be this commit's."""
    if not ctx.state_path.exists():
        raise ReleaseError(
            f"the {first} stage needs the State of this release ({_rel(ctx)}), and there is none",
            f"run the plan stage first: release run --only plan (in CI, keep {_rel(ctx)} as an artifact of that job)",
        )
    head = ctx.git.head()
    if ctx.state.sha and head and ctx.state.sha != head:
        raise ReleaseError(
            f"{_rel(ctx)} was written for commit {ctx.state.sha[:12]}, but this is {head[:12]}",
            "run the plan stage for this commit first: release run --only plan",
        )


def _rel(ctx: Context) -> str:
    path = ctx.state_path
    return str(path.relative_to(ctx.root)) if path.is_relative_to(ctx.root) else str(path)


def run(ctx: Context, only: str | None, skip: str | None, say: Say) -> list[Result]:
    stages = select(only, skip)
    if ctx.ci.merge_request:
        say("merge request pipeline: plan only, nothing is built or published")
        stages = [pipeline.PIPELINE[0]]
    elif PUBLISHING.intersection(s.NAME for s in stages):
        refusal = guards.branch_refusal(ctx)
        if refusal is not None:
            say(f"{refusal}: plan only, nothing is built or published")
            stages = [pipeline.PIPELINE[0]]
        elif FROM_THE_TREE.intersection(s.NAME for s in stages):
            guards.require_clean(ctx, (ctx.env.get("RELEASE_DOTENV") or outputs.DOTENV,))
    preflight(ctx, stages)
    results: list[Result] = []

    def report(result: Result) -> None:
        results.append(result)
        state = "skipped: " if result.skipped else ""
        say(f"[{result.stage}] {state}{result.summary} ({result.seconds:.1f}s)")

    try:
        pipeline.run(ctx, stages, report)
    except ReleaseError as exc:
        failed = next(s.NAME for s in stages if s.NAME not in {r.stage for r in results})
        results.append(Result(failed, False, f"FAILED: {exc.message}", 0.0))
        ctx.effects.write_outputs(lambda: outputs.append_summary(ctx.env, ctx.state, results))
        raise
    finally:
        claims.release(ctx)

    def write() -> None:
        for where in outputs.write(ctx.root, ctx.env, ctx.ci.provider, ctx.state, results):
            say(f"wrote {where}")

    ctx.effects.write_outputs(write)
    return results


def publish_alone(
    ctx: Context, publish: Callable[[], list[Job]], component_of: Callable[[Job], str | None], say: Say
) -> list[Job]:
    """A publish outside `release run` (`release chart --publish`, `release build --push`) reserves its versions as
    the pipeline does: the plan stage, the claim on origin (source.claims), the publish, the publish stage's tag
    (source.tag.publish_tag), the claim dropped whatever happens. Untagged, the version would be burned: the next
    commit plans it again and finds it "already published with other content".

    Only the components the command published for are tagged (a chart-only component, not the images' one)."""
    plan_stage.run(ctx)
    try:
        claims.claim(ctx)  # before the registry is read, as in the images and charts stages
        jobs = publish()
        done = {component_of(job) for job in jobs}
        head, where = ctx.git.head() or "", release_origin.remote(ctx)
        plans = release_tag.releases(ctx)
        for plan in [p for p in plans if p.component in done]:
            say(release_tag.publish_tag(ctx, plan, head, where))
        ctx.state.released = bool(plans) and all(p.component in done for p in plans)
        return jobs
    finally:
        claims.release(ctx)
