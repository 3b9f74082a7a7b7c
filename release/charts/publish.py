"""Publish chart jobs to their targets (OCI registries, classic repositories, git branches); never overwrite."""

from __future__ import annotations

import functools
import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

from release.adapters.registry import Registry
from release.charts import attest
from release.charts import oci as chartoci
from release.charts import package as chartpkg
from release.charts.build import ChartJob, prepare, registry_for
from release.context import Context
from release.errors import ReleaseError
from release.naming.imageref import Repository
from release.source import plans as planning
from release.source import signing

Say = Callable[[str], None]


def oci_target(target: str, chart_name: str) -> tuple[Repository, str]:
    """oci://host/path + chart name → the repository helm pushes to (host/path/name), and its ref prefix."""
    rest = target.removeprefix("oci://").rstrip("/")
    repo = Repository.parse(f"{rest}/{chart_name}")
    return repo, f"oci://{repo.host}/{repo.path}"


def _same_on_oci(ctx: Context, job: ChartJob, target: str) -> bool:
    """True when an OCI target already holds exactly this archive (read-only; other targets: False)."""
    if not target.startswith("oci://"):
        return False
    repo, _ = oci_target(target, job.meta.name)
    existing = registry_for(ctx, repo).manifest(chartoci.oci_tag(job.meta.version))
    layers = (existing.body.get("layers") or []) if existing else []
    return bool(layers) and layers[0].get("digest") == "sha256:" + job.sha256


def push_oci(ctx: Context, job: ChartJob, target: str, say: Say) -> None:
    repo, prefix = oci_target(target, job.meta.name)
    tag = chartoci.oci_tag(job.meta.version)
    registry = registry_for(ctx, repo)
    ref = f"{prefix}:{tag}"
    existing = registry.manifest(tag)
    layer_digest = "sha256:" + job.sha256
    if existing is not None:
        layers = existing.body.get("layers") or []
        if layers and (layers[0].get("digest") == layer_digest or _same_tar(registry, layers[0], job.archive)):
            say(f"skipped: already published {ref} ({existing.digest})")
            job.published[ref] = existing.digest
            attest.attach_all(ctx, job, registry, ref, existing.digest, say)  # what a stopped run left out
            return
        theirs = str(layers[0].get("digest") if layers else "?")[:19]
        raise ReleaseError(
            f"{ref} is already published with other content (layer {theirs}, ours {layer_digest[:19]}); "
            "a released chart version is never overwritten",
            "bump the chart version, or delete that version from the registry yourself",
        )
    config = chartpkg.chart_json(job.meta)
    registry.upload_blob(config)
    registry.upload_blob(job.archive)
    body = chartoci.manifest(config, job.archive, chartoci.oci_annotations(job.meta.raw, job.created))
    job.published[ref] = registry.put_manifest(tag, body, chartoci.MANIFEST_MEDIA_TYPE)
    say(f"published {ref}@{job.published[ref]}")
    attest.attach_all(ctx, job, registry, ref, job.published[ref], say)


def _same_tar(registry: Registry, layer: dict[str, object], archive: bytes) -> bool:
    """Same files, other gzip bytes: another zlib build (zlib-ng) compresses the same tar differently."""
    if int(str(layer.get("size") or 0)) > 4 * chartpkg.MAX_CHART_SIZE:
        return False
    try:
        return gzip.decompress(registry.blob(str(layer["digest"]))) == gzip.decompress(archive)
    except (OSError, EOFError):
        return False


def access_checks(ctx: Context) -> list[Callable[[], None]]:
    """For the preflight: one read per publish target of the charts this run releases (reachable, and our
    credentials let us in), before anything is packaged or tested. Nothing is written; git+ targets are checked
    when they are pushed to."""
    from release.charts import helmrepo

    plans = {p.component for p in planning.make_plans(ctx) if p.releasable}
    checks: list[Callable[[], None]] = []
    for chart in ctx.config.charts:
        if chart.component not in plans:
            continue
        name = chart.name or _chart_name(ctx.root / chart.path)
        for target in chart.publish:
            if target.startswith("oci://") and name:
                checks.append(registry_for(ctx, oci_target(target, name)[0]).check_access)
            elif target.startswith(("chartmuseum+", "gitlab+")):
                checks.append(functools.partial(helmrepo.check_access, target, ctx.env))
    return checks


def _chart_name(directory: Path) -> str | None:
    """The chart's name from its Chart.yaml, or None (the charts stage says what is wrong with it)."""
    try:
        return chartpkg.read_chart(directory).name
    except (ReleaseError, OSError):
        return None


def push_target(ctx: Context, job: ChartJob, target: str, say: Say) -> None:
    """Publish one archive to one target, by the target's scheme (config.CHART_TARGET_SCHEMES)."""
    from release.charts import helmrepo

    if target.startswith("oci://"):
        push_oci(ctx, job, target, say)
    elif target.startswith("chartmuseum+"):
        ref, digest = helmrepo.publish_chartmuseum(target, job.meta.name, job.meta.version, job.archive, ctx.env, say)
        job.published[ref] = digest
    elif target.startswith("gitlab+"):
        ref, digest = helmrepo.publish_gitlab(target, job.meta.name, job.meta.version, job.archive, ctx.env, say)
        job.published[ref] = digest
    elif target.startswith("git+"):
        from release.charts.gitbranch import publish_git_branch

        publish_git_branch(ctx, job, target, say)
    else:
        raise ReleaseError(f"publish target {target!r} is not supported", "see charts[].publish in release.yaml")


def publish(ctx: Context, *, say: Say, push: bool = True) -> list[ChartJob]:
    jobs = prepare(ctx, say)
    for job in jobs:
        say(f"packaged {job.filename} (sha256 {job.sha256[:12]})")
    for job in jobs:
        # A rerun asks the registry first: identical content already everywhere needs no second lint.
        if not (push and job.targets and all(_same_on_oci(ctx, job, t) for t in job.targets)):
            job.checks()
    what = [f"publish {job.filename} to {target}" for job in jobs for target in job.targets]
    if push and any(t.startswith("oci://") for job in jobs for t in job.targets):
        signing.check(ctx)  # before anything is pushed: no token, no chart
    if not push:
        for line in what:
            say(f"would {line}")
        return jobs
    ctx.effects.push_charts(what, lambda: push_all(ctx, jobs, say))
    return jobs


def push_all(ctx: Context, jobs: list[ChartJob], say: Say) -> None:
    for job in jobs:
        for target in job.targets:
            push_target(ctx, job, target, say)
        record(ctx, job)
        ctx.effects.save_state(lambda: ctx.state.save(ctx.state_path))


def record(ctx: Context, job: ChartJob) -> None:
    entry: dict[str, Any] = {
        "name": job.meta.name,
        "version": job.meta.version,
        "app_version": job.meta.app_version,
        "archive_sha256": job.sha256,
        "refs": sorted(job.published),
        "digests": dict(sorted(job.published.items())),
    }
    if job.attached:
        entry["attached"] = job.attached
    ctx.state.charts = [c for c in ctx.state.charts if c.get("name") != job.meta.name] + [entry]


def write_archives(jobs: list[ChartJob], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for job in jobs:
        path = directory / job.filename
        path.write_bytes(job.archive)
        written.append(path)
    return written
