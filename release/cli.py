"""The command line: each command parses options, builds a Context and calls library code.

Start-up matters (`release --help`, `release version` in every CI job): this module imports click and nothing of
the library at the top; each command imports what it uses, so `plan` never loads the image, chart or forge stacks
(requests, the docker SDK, jinja2). tests/test_architecture.py checks it.
"""

from __future__ import annotations

import functools
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from release import __version__, secrets
from release.errors import EXIT_BUG, EXIT_FAILURE, ReleaseError

if TYPE_CHECKING:
    from release.context import Context
    from release.versioning.plan import Plan

F = TypeVar("F", bound=Callable[..., Any])
# The pipeline's stages, in order (release.pipeline.NAMES, which imports every stage: only `run` loads it).
STAGE_NAMES = ("plan", "test", "images", "charts", "publish", "notes", "promote")


def say(message: str) -> None:
    """Progress and explanations go to stderr; stdout carries only the command's result. Secrets are masked."""
    click.echo(secrets.mask(message), err=True)


def common(func: F) -> F:
    """Options every command takes: where the repo is, which config, which branch and component."""
    decorators = [
        click.option("-C", "directory", metavar="DIR", help="Run as if started in DIR."),
        click.option(
            "--config", "config_path", metavar="FILE", help="release.yaml to use (default: found in the repo)."
        ),
        click.option("--branch", metavar="NAME", help="The branch, when HEAD is detached and CI variables are absent."),
        click.option("--component", metavar="NAME", help="Only this monorepo component."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def given(name: str, value: str | None) -> str | None:
    """A subcommand's own option, else the same option given before the subcommand (`release -C app plan`)."""
    if value is not None:
        return value
    current = click.get_current_context(silent=True)
    top = current.find_root().obj if current is not None else None
    return top.get(name) if isinstance(top, dict) else None


def context(
    directory: str | None, config_path: str | None, branch: str | None, component: str | None, **extra: Any
) -> Context:
    from release.context import Context, Options

    return Context.build(
        Options(
            directory=given("directory", directory) or ".",
            config_path=given("config_path", config_path),
            branch=branch,
            component=component,
            **extra,
        )
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "directory", metavar="DIR", help="Run as if started in DIR (before or after the command).")
@click.option("--config", "config_path", metavar="FILE", help="release.yaml to use (before or after the command).")
@click.version_option(__version__, prog_name="release")
@click.pass_context
def cli(click_ctx: click.Context, directory: str | None, config_path: str | None) -> None:
    """From a commit to a GitOps deployment: version, notes, images, charts, promote.

    -C and --config go before the command or after it; after it, they win."""
    click_ctx.obj = {"directory": directory, "config_path": config_path}


@cli.command()
@common
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan(as_json: bool, **opts: Any) -> None:
    """Show the next version and why. Changes nothing."""
    import json

    from release.source import plans as planning

    ctx = context(**opts)
    ctx.say = say  # a shallow clone completed from origin says so
    plans = planning.make_plans(ctx)
    if as_json:
        click.echo(json.dumps(plan_json(ctx, plans), indent=2))
        return
    for p in plans:
        click.echo(describe(p))
    from release.source import guards

    refusal = guards.branch_refusal(ctx)
    if refusal is not None:
        say(f"{refusal}: release run would plan only")


def plan_json(ctx: Context, plans: list[Plan]) -> dict[str, Any]:
    if len(plans) == 1 and plans[0].component is None:
        return plans[0].as_json() | {"components": []}
    items = [{"name": p.component} | p.as_json() for p in plans]
    for p, item in zip(plans, items, strict=True):
        via = dict(p.via)
        for reason in item["reasons"]:  # type: ignore[attr-defined]
            reason["via"] = via.get(reason["sha"])  # the shared path it counts through, if that is why
    first = plans[0].channel if plans else None
    # Every documented key: what components share (the branch, the channel) here, each version in its item.
    return {
        "current_version": None,
        "next_version": None,
        "bump": None,
        "tag": None,
        "commits": max((p.considered for p in plans), default=0),
        "previous_tag": None,
        "branch": first.branch if first else None,
        "channel": first.prerelease if first else None,
        "prerelease": any(p.next_version and p.next_version.prerelease for p in plans),
        "already_tagged": bool(plans) and all(p.head_tagged for p in plans),
        "ignored_commits": max((p.ignored for p in plans), default=0),
        "reasons": [],
        "components": items,
    }


def describe(p: Plan) -> str:
    name = f"{p.component}: " if p.component else ""
    branch = p.channel.branch or "(unknown branch)"
    lines = [f"{name}branch {branch} ({p.channel.describe()})"]
    if p.head_tagged:
        lines.append(f"  current  {p.tag} (at HEAD)")
        lines.append(f"  HEAD is already released as {p.tag}; nothing to do")
    elif p.next_version:
        lines.append(f"  current  {p.current.name if p.current else 'none (no release tag yet)'}")
        lines.append(f"  next     {p.next_version}  (tag {p.tag}, {p.forced or (p.bump.label or 'no') + ' bump'})")
    else:
        lines.append(f"  current  {p.current.name if p.current else 'none (no release tag yet)'}")
        lines.append("  next     nothing to release")
    lines.append(
        f"  commits  {p.considered} since {p.current.name if p.current else 'the start'}"
        + (f", {p.ignored} not conventional (ignored)" if p.ignored else "")
    )
    if p.reasons and not p.head_tagged:
        lines.append("  because")
        via = dict(p.via)
        for c in p.reasons[:10]:
            scope = f"({c.scope})" if c.scope else ""
            shared = f"  (via {via[c.commit.sha]})" if c.commit.sha in via else ""
            lines.append(f"    {c.commit.short_sha} {c.type}{scope}{'!' if c.breaking else ''}: {c.subject}{shared}")
        if len(p.reasons) > 10:
            lines.append(f"    … and {len(p.reasons) - 10} more")
    return "\n".join(lines)


@cli.command()
@common
def version(**opts: Any) -> None:
    """Print the next version only (nothing when there is nothing to release)."""
    from release.source import plans as planning

    ctx = context(**opts)
    ctx.say = say
    plans = planning.make_plans(ctx)
    for p in plans:
        if p.next_version is None:
            continue
        click.echo(f"{p.component} {p.next_version}" if p.component and len(plans) > 1 else str(p.next_version))


@cli.command()
@common
@click.option("--from", "start", metavar="REF", help="Start after this ref (default: the last release tag).")
@click.option("--to", "end", metavar="REF", help="End at this ref (default: HEAD).")
@click.option("--template", metavar="FILE", help="A jinja2 template instead of the default.")
@click.option("--output", metavar="FILE", help="Write to FILE instead of stdout.")
def notes(start: str | None, end: str | None, template: str | None, output: str | None, **opts: Any) -> None:
    """Release notes in markdown, for the next release or for a range."""
    from release.source import notes as repo_notes
    from release.source import plans as planning

    ctx = context(**opts)
    ctx.say = say
    if start is None and end is None:
        plans = planning.make_plans(ctx)
        blocks = [repo_notes.for_plan(ctx, p, template) for p in plans]
        if len(plans) > 1:  # several components: each block under its name
            blocks = [f"# {p.component}\n\n{block}" for p, block in zip(plans, blocks, strict=True)]
        text = "\n".join(blocks)
    else:
        text = repo_notes.for_range(ctx, start, end or "HEAD", template)
    off = repo_notes.links_off(ctx)
    if off:
        say(off)
    if output:
        say(f"wrote {repo_notes.write_output(output, text)}")
    else:
        click.echo(text, nl=False)


@cli.command()
@common
@click.option("--bump", type=click.Choice(["major", "minor", "patch"]), help="Force this bump.")
@click.option("--prerelease", metavar="TOKEN", help="Cut a prerelease with this token, e.g. rc → 1.3.0-rc.1.")
@click.option("--push", is_flag=True, help="Push the commit and the tag(s) to origin, atomically.")
@click.option("--dry-run", is_flag=True, help="Show what would happen; write nothing.")
@click.option("--allow-dirty", is_flag=True, help="Publish even with uncommitted changes in the working tree.")
def cut(bump: str | None, prerelease: str | None, push: bool, dry_run: bool, allow_dirty: bool, **opts: Any) -> None:
    """Tag a release here: CHANGELOG.md commit + annotated tag, pushed when asked."""
    from release.source import cut as cut_module

    ctx = context(**opts, bump=bump, prerelease=prerelease, dry_run=dry_run, allow_dirty=allow_dirty)
    ctx.say = say  # a dry run's "would release …" lines
    cuts, idle = cut_module.prepare(ctx)
    for p in idle:
        name = f"{p.component}: " if p.component else ""
        if p.head_tagged:
            say(f"{name}HEAD is already released as {p.tag}; nothing to do")
        else:
            say(
                f"{name}nothing to release since {p.current.name if p.current else 'the start'} "
                f"({p.considered} commits, none asks for a release)"
            )
    finished = [str(p.tag) for p in idle if p.head_tagged]
    if not cuts:
        if push and finished:
            # A rerun after a cut whose push failed: the commit and tag exist here, so push them now.
            what = f"push {', '.join(finished)} and the branch to origin"
            ctx.effects.push_release(what, lambda: cut_module.push_release(ctx, finished, say))
        return
    made: list[str] = []

    def commit() -> None:
        cut_module.apply(ctx, cuts, push, say)
        made.extend(
            f"{c.plan.component} {c.plan.next_version}" if c.plan.component else str(c.plan.next_version) for c in cuts
        )

    lines = [f"release {c.plan.next_version} as {c.plan.tag}" for c in cuts]
    ctx.effects.release_commit(lines, "".join(cut_module.diff(c, ctx.root) for c in cuts), commit)
    for line in made:
        click.echo(line)


@cli.command()
@common
@click.option("--push", is_flag=True, help="Push every tag to the registry and record the digests.")
@click.option("--force", is_flag=True, help="Replace a published version built from another commit.")
@click.option("--dry-run", is_flag=True, help="Check and show what would be built and pushed; change nothing.")
@click.option("--allow-dirty", is_flag=True, help="Publish even with uncommitted changes in the working tree.")
@click.option("--sign", is_flag=True, help="Sign what is pushed with Sigstore (keyless), as `signing: sigstore`.")
def build(push: bool, force: bool, dry_run: bool, allow_dirty: bool, sign: bool, **opts: Any) -> None:
    """Build the configured container images (and push them with --push, then tag the release)."""
    ctx = context(**opts, dry_run=dry_run, allow_dirty=allow_dirty, sign=sign)
    ctx.say = say  # a dry run's "would build …" lines
    if not ctx.config.images:
        say("no images configured in release.yaml (images:); nothing to build")
        return
    if push:
        publishing(ctx)
    from release import runner
    from release.images import publish as images_publish  # imports requests and the docker SDK: only here

    def images() -> list[images_publish.Job]:
        return images_publish.publish(ctx, push=push, force=force, say=say)

    # Pushed alone, the version is claimed, then tagged as `release run` does: never published untagged.
    jobs = runner.publish_alone(ctx, images, lambda j: j.image.component, say) if push else images()
    if not jobs:
        say("nothing to release: no image built")
    if push:
        ctx.effects.save_state(lambda: ctx.state.save(ctx.state_path))
        for job in jobs:
            if job.done_digest:  # a dry run pushed nothing: no digest to name
                click.echo(f"{job.repo.name}@{job.done_digest}")


@cli.command()
@common
@click.option("--publish", is_flag=True, help="Push every chart to its publish targets and record digests.")
@click.option("--output", metavar="DIR", default=".release/charts", show_default=True, help="Where archives go.")
@click.option("--dry-run", is_flag=True, help="Package and check; publish nothing, write no archive.")
@click.option("--allow-dirty", is_flag=True, help="Publish even with uncommitted changes in the working tree.")
@click.option("--sign", is_flag=True, help="Sign OCI charts with Sigstore (keyless), as `signing: sigstore`.")
@click.argument("action", required=False, type=click.Choice(["deps"]))
def chart(
    publish: bool, output: str, dry_run: bool, allow_dirty: bool, sign: bool, action: str | None, **opts: Any
) -> None:
    """Bump, package (reproducibly) and publish the configured Helm charts; --publish then tags the release.

    `release chart deps` refreshes each chart's Chart.lock from its version ranges (no helm binary needed)."""
    from release.charts import publish as chart_publish
    from release.charts.build import ChartJob

    ctx = context(**opts, dry_run=dry_run, allow_dirty=allow_dirty, sign=sign)
    ctx.say = say  # a dry run's "would publish …" lines
    if not ctx.config.charts:
        say("no charts configured in release.yaml (charts:); nothing to package")
        return
    if action == "deps":
        from release.charts import deps

        deps.refresh(ctx, say)
        return
    if publish:
        publishing(ctx)
    from release import runner

    def charts() -> list[ChartJob]:
        return chart_publish.publish(ctx, say=say, push=publish)

    # Published alone, the version is claimed, then tagged as `release run` does: never published untagged.
    jobs = runner.publish_alone(ctx, charts, lambda j: j.config.component, say) if publish else charts()
    if not jobs:
        say("nothing to release: no chart packaged")
        return
    directory = ctx.root / output
    names = [_shown(ctx, directory / job.filename) for job in jobs]
    for path in ctx.effects.write_archives(names, lambda: chart_publish.write_archives(jobs, directory)):
        say(f"wrote {_shown(ctx, path)}")
    if publish:
        ctx.effects.save_state(lambda: ctx.state.save(ctx.state_path))
        for job in jobs:
            for ref, digest in sorted(job.published.items()):
                click.echo(f"{ref}@{digest}")
    else:
        for job in jobs:
            click.echo(f"{job.filename} sha256:{job.sha256}")


@cli.command()
@common
@click.argument("environment")
@click.option("--version", "version", metavar="V", help="The version to promote (default: this release's).")
@click.option(
    "--mode",
    type=click.Choice(["push", "merge-request"]),
    help="Push to the branch, or open a merge/pull request (default: the environment's `mode:`).",
)
@click.option("--force", is_flag=True, help="Promote even over files edited by hand since the last promote.")
@click.option("--dry-run", is_flag=True, help="Print the diff that would be committed; push nothing.")
@click.option("--wait", is_flag=True, help="Then wait until the GitOps agent confirms it deployed and healthy.")
def promote(
    environment: str, version: str | None, mode: str | None, force: bool, dry_run: bool, wait: bool, **opts: Any
) -> None:
    """Write the release into ENVIRONMENT's infra repository: one commit, pushed (or a merge request)."""
    from release.gitops import promote as promote_module  # git plumbing and jinja2: only here
    from release.gitops import verify

    ctx = context(**opts, dry_run=dry_run)
    if wait:
        verify.preflight(ctx, environment)  # tokens, applications: before anything is pushed
    outcome = promote_module.promote(ctx, environment, version, say=say, mode=mode, force=force)
    _promoted(ctx, outcome, dry_run)
    if wait:
        waiting = functools.partial(verify.wait, ctx, environment, outcome.version, say=say)
        say(ctx.effects.wait_deployed(f"wait for {environment} to run {outcome.version}", waiting))


@cli.command()
@common
@click.argument("environment")
@click.option("--to", "to", metavar="VERSION", help="Roll back to this version (default: the previous one).")
@click.option("--mode", type=click.Choice(["push", "merge-request"]), help="Override the environment's mode.")
@click.option("--dry-run", is_flag=True, help="Print the diff that would be committed; push nothing.")
def rollback(environment: str, to: str | None, mode: str | None, dry_run: bool, **opts: Any) -> None:
    """Write back what ENVIRONMENT's previous release wrote, as a new commit or merge request, and hold it.

    Automatic promotes (`release run`) skip a held environment until a person promotes a newer version or runs
    `release unhold ENVIRONMENT`. History is never rewritten."""
    from release.gitops import promote as promote_module

    ctx = context(**opts, dry_run=dry_run)
    outcome = promote_module.rollback(ctx, environment, to, say=say, mode=mode)
    _promoted(ctx, outcome, dry_run)


@cli.command()
@common
@click.argument("environment")
@click.option("--mode", type=click.Choice(["push", "merge-request"]), help="Override the environment's mode.")
@click.option("--dry-run", is_flag=True, help="Say what would be committed; push nothing.")
def unhold(environment: str, mode: str | None, dry_run: bool, **opts: Any) -> None:
    """Release the hold a rollback put on ENVIRONMENT: automatic promotes reach it again.

    An empty commit whose trailers say `Release-Hold: false`: no file changes, history is never rewritten."""
    from release.gitops import promote as promote_module

    ctx = context(**opts, dry_run=dry_run)
    outcome = promote_module.unhold(ctx, environment, say=say, mode=mode)
    if dry_run:
        if outcome.diff:  # the message of the empty commit it would push
            say(f"would push an empty commit to {environment}'s branch:\n{outcome.diff.rstrip()}")
        say("dry run: nothing was committed or pushed")
    elif outcome.commit:
        click.echo(f"{outcome.env} {outcome.commit}")


def publishing(ctx: Context) -> None:
    """A stand-alone publishing command (build --push, chart --publish): a release branch and a clean tree."""
    from release.source import guards

    guards.require_release_branch(ctx)
    guards.require_clean(ctx)


def _shown(ctx: Context, path: Path) -> str:
    return str(path.relative_to(ctx.root) if path.is_relative_to(ctx.root) else path)


def _promoted(ctx: Context, outcome: Any, dry_run: bool) -> None:
    if dry_run:
        click.echo(outcome.diff, nl=False)
        say("dry run: nothing was committed or pushed")
        return
    if outcome.commit:
        ctx.state.save(ctx.state_path)
        click.echo(outcome.url or f"{outcome.env} {outcome.version} {outcome.commit}")


@cli.command()
@common
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(as_json: bool, **opts: Any) -> None:
    """For every environment: the version its record says (the last commit of release that wrote its files), that
    commit, when, the source commit and pipeline, and whether it is held or drifted (its files edited since).

    One tab-separated line per environment: env, version, commit, date, source, pipeline, observed (what the GitOps
    agent reports, with `verify:`), state."""
    import json

    from release.gitops import status as status_module

    ctx = context(**opts)
    if not ctx.config.environments:
        say("no environments configured in release.yaml (environments:)")
        return
    rows = status_module.status(ctx)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(status_module.line(row))


@cli.command(name="run")
@common
@click.option("--only", metavar="STAGES", help=f"Run only these stages, comma-separated ({','.join(STAGE_NAMES)}).")
@click.option("--skip", metavar="STAGES", help="Run every stage but these, comma-separated.")
@click.option(
    "--environment",
    "environments",
    multiple=True,
    metavar="ENV",
    help="Promote to ENV (repeatable) instead of the environments marked `automatic: true`.",
)
@click.option("--dry-run", is_flag=True, help="Show what each stage would do; publish, push and write nothing.")
@click.option("--allow-dirty", is_flag=True, help="Publish even with uncommitted changes in the working tree.")
def run_command(
    only: str | None, skip: str | None, environments: tuple[str, ...], dry_run: bool, allow_dirty: bool, **opts: Any
) -> None:
    """The whole pipeline: plan, test, images, charts, publish (tag), notes and release object, promote."""
    from release import runner
    from release.source import plans as planning

    ctx = context(**opts, dry_run=dry_run, environments=environments, allow_dirty=allow_dirty)
    ctx.say = say
    results = runner.run(ctx, only, skip, say)
    if ctx.ci.merge_request or all(r.stage == "plan" for r in results):
        for p in planning.make_plans(ctx):
            click.echo(describe(p))
        return
    for p in planning.make_plans(ctx):
        if p.releasable:
            click.echo(f"{p.component} {p.next_version}" if p.component else str(p.next_version))


@cli.command(name="test")
@common
def test_command(**opts: Any) -> None:
    """Run the test commands of release.yaml (tests:), in order; the first failure exits 1."""
    from release.source import testcommands

    ctx = context(**opts)
    ctx.say = say
    if not ctx.config.tests:
        say("no tests configured in release.yaml (tests:); nothing to run")
        return
    say(testcommands.run_all(ctx))


@cli.command(name="init")
@click.option("-C", "directory", metavar="DIR", help="Run as if started in DIR.")
@click.option("--force", is_flag=True, help="Overwrite an existing release.yaml.")
@click.option("--stdout", "to_stdout", is_flag=True, help="Print the starter config instead of writing it.")
@click.option("--chart", is_flag=True, help="Also write a starter Helm chart for the Dockerfile's image (charts/NAME).")
def init_command(directory: str | None, force: bool, to_stdout: bool, chart: bool) -> None:
    """Write a starter release.yaml from what is in the repo (Dockerfiles, charts/, CI files), with comments."""
    from release.ci import init as init_module

    where = Path(given("directory", directory) or ".")
    init_module.main(where, force=force, to_stdout=to_stdout, say=say, echo=click.echo, chart=chart)


@cli.group(name="ci")
def ci_group() -> None:
    """Helpers for CI: generate per-component pipelines for monorepos."""


@ci_group.command(name="generate")
@common
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["gitlab", "github"]),
    help="GitLab child pipeline YAML or GitHub Actions matrix JSON (default: from the CI running this).",
)
@click.option("--output", metavar="FILE", help="Write to FILE (default: stdout).")
def ci_generate(fmt: str | None, output: str | None, **opts: Any) -> None:
    """One job per component with something to release: a GitLab child pipeline or a GitHub matrix."""
    from release.ci import generate as cigen

    ctx = context(**opts)
    cigen.main(ctx, fmt, output, say=say, echo=click.echo)


class Terminated(BaseException):
    """SIGTERM (a cancelled CI job): unwinds like Ctrl-C, so `finally` blocks drop the run's claims."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> None:
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        _main(argv)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> None:
    try:
        cli.main(args=argv, prog_name="release", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            say("interrupted")
            sys.exit(130)
        say("aborted")
        sys.exit(EXIT_FAILURE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ReleaseError as exc:
        say(f"release: error: {exc.line()}")
        sys.exit(EXIT_FAILURE)
    except KeyboardInterrupt:
        say("interrupted")
        sys.exit(130)
    except Terminated:
        say("terminated (SIGTERM): what was published stays recorded in the State; a rerun finishes the job")
        sys.exit(143)
    except Exception:
        import traceback

        say(traceback.format_exc().rstrip())
        say("release: internal error (a bug, exit 3): please report it with the traceback above")
        sys.exit(EXIT_BUG)
    sys.exit(0)
