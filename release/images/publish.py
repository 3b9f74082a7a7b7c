"""Images: build through the engine and push tags by convention (version tag last), digests recorded in the State."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from release.adapters import credentials, engine
from release.adapters.credentials import Credentials
from release.adapters.registry import Registry
from release.adapters.retry import retrying
from release.config import ImageConfig
from release.context import Context
from release.errors import ReleaseError
from release.images import attest, elsewhere, platforms
from release.naming.imageref import ReleaseFacts, Repository, oci_labels, render, render_tags
from release.source import notes as repo_notes
from release.source import plans as planning
from release.source import signing
from release.versioning.plan import Plan

REVISION = elsewhere.REVISION


Say = Callable[[str], None]


@dataclass
class Job:
    image: ImageConfig
    repo: Repository
    tags: list[str]
    version_tag: str
    labels: dict[str, str]
    build_args: dict[str, str]
    credentials: Credentials | None
    registry: Registry
    done_digest: str | None = None  # already published: the digest found in the registry
    image_id: str | None = None
    elsewhere: bool = False  # another job builds and pushes it: wait for the version tag, check, record
    platforms: dict[str, str] = field(default_factory=dict)  # a multi-platform image: platform → manifest digest
    attached: list[dict[str, Any]] = field(default_factory=list)  # SBOMs, provenance: references in the registry
    started: str | None = None  # the build's start and end (provenance)
    finished: str | None = None

    @property
    def version_ref(self) -> str:
        return f"{self.repo.name}:{self.version_tag}"

    @property
    def refs(self) -> list[str]:
        return [f"{self.repo.name}:{t}" for t in self.tags]


def releases(ctx: Context) -> dict[str | None, Plan]:
    return {p.component: p for p in planning.make_plans(ctx) if p.releasable}


def access_checks(ctx: Context) -> list[Callable[[], None]]:
    """For the preflight: one read per registry repository the images stage will push to (reachable, and our
    credentials let us in), before anything is built or tested. Nothing is written."""
    plans, seen, checks = releases(ctx), set(), []
    for image in ctx.config.images:
        repo = Repository.parse(image.repository)
        if image.component not in plans or repo.name in seen:
            continue
        seen.add(repo.name)
        creds = credentials.for_registry(repo.host, ctx.env)
        checks.append(Registry(repo, creds, missing=credentials.registry_missing(ctx.env)).check_access)
    return checks


def image_tags(image: ImageConfig, facts: ReleaseFacts) -> tuple[list[str], str]:
    """The image's tags for a release, and the one carrying its version (pushed last, read back to resume)."""
    tags = render_tags(image.tags, facts)
    version_tag = next((t for t, tpl in zip(tags, image.tags, strict=False) if "{version}" in tpl), tags[0])
    return tags, version_tag


def prepare(ctx: Context, push: bool, force: bool) -> list[Job]:
    plans = releases(ctx)
    head = ctx.git.head() or ""
    created = dt.datetime.fromtimestamp(ctx.git.commit_time("HEAD"), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    source = repo_notes.links(ctx).project_url
    jobs = []
    for image in ctx.config.images:
        plan = plans.get(image.component)
        if plan is None or plan.next_version is None:
            continue
        facts = ReleaseFacts(plan.next_version, head, ctx.branch())
        tags, version_tag = image_tags(image, facts)
        other_job = elsewhere.built_elsewhere(image, ctx.env)
        if other_job:
            tags = [version_tag]  # the builder pushes its own tags; release reads the version tag only
        else:
            check_build_files(ctx, image)
            if push:
                attest.check(ctx, image)
        repo = Repository.parse(image.repository)
        creds, missing = credentials.for_registry(repo.host, ctx.env), credentials.registry_missing(ctx.env)
        labels = {
            **oci_labels(
                title=image.name, version=str(plan.next_version), revision=head, source=source, created=created
            ),
            **image.labels,
            REVISION: head,  # the resume check depends on it: never the user's
        }
        args = {k: render(v, facts) for k, v in image.build_args.items()}
        registry = Registry(repo, creds, missing=missing)
        jobs.append(Job(image, repo, tags, version_tag, labels, args, creds, registry, elsewhere=other_job))
    if push:
        if jobs:
            signing.check(ctx)
        for job in jobs:
            check_published(job, head, force)
    return jobs


def check_build_files(ctx: Context, image: ImageConfig) -> None:
    context_dir = ctx.root / image.context
    if not context_dir.is_dir():
        raise ReleaseError(f"image {image.name}: build context {image.context} does not exist", "fix images[].context")
    if not (context_dir / image.dockerfile).is_file():
        raise ReleaseError(
            f"image {image.name}: no {image.dockerfile} in {image.context}",
            "add it, or point images[].dockerfile at the right file",
        )


def check_published(job: Job, head: str, force: bool) -> None:
    """Same revision already there → done; another revision → never overwrite (unless --force)."""
    found = job.registry.labels(job.version_tag)
    if found is None:
        return
    digest, labels = found
    if job.elsewhere:  # another job's image: it must be this commit's, --force or not (release cannot rebuild it)
        elsewhere.check_revision(job.image, job.version_ref, labels, head)
    revision = labels.get(REVISION)
    if revision == head:
        if job.image.platforms:
            found_index = job.registry.manifest(job.version_tag)
            if found_index is not None:
                job.platforms = platforms.check_same_platforms(job.image, job.version_ref, found_index)
        job.done_digest = digest
        return
    if not force:
        built_from = f"commit {revision[:12]}" if revision else "an unknown commit (no revision label)"
        raise ReleaseError(
            f"{job.repo.name}:{job.version_tag} is already published, built from {built_from}, not {head[:12]}; "
            "a released version is never overwritten",
            "release a new version, or pass --force to replace it",
        )


def publish(ctx: Context, *, push: bool, force: bool, say: Say) -> list[Job]:
    jobs = prepare(ctx, push, force)
    todo = [j for j in jobs if j.done_digest is None]
    for job in jobs:
        if job.done_digest is not None and job.elsewhere:
            say(f"found {job.version_ref} ({job.done_digest}), built by another job ({elsewhere.why(job.image)})")
            record(ctx, job)
        elif job.done_digest is not None:
            say(f"skipped: already published {job.repo.name}:{job.version_tag} ({job.done_digest})")
            record(ctx, job)
    supply = [j for j in jobs if attest.wanted(j.image) or signing.enabled(ctx)]
    finish = [j for j in supply if j.done_digest is not None and not j.elsewhere and push]
    if finish:
        what = [f"attach what is missing of {job.repo.name}'s SBOM, provenance and signatures" for job in finish]
        ctx.effects.push_images(what, lambda: attach_all(ctx, finish, say))
    waits = [j for j in todo if j.elsewhere]
    builds = [j for j in todo if not j.elsewhere]
    if waits and not push:
        for job in waits:
            say(f"skipped {job.image.name}: built by another job ({elsewhere.why(job.image)}); --push waits for it")
    elif waits:
        what = [f"wait for {job.version_ref} (built by another job) and check its revision" for job in waits]
        ctx.effects.push_images(what, lambda: wait_and_record(ctx, waits, say))
    if builds:
        what = [f"build {job.image.name} and push {', '.join(job.refs)}" for job in builds]
        ctx.effects.push_images(what, lambda: build_and_push(ctx, builds, push, say))
    return jobs


def wait_and_record(ctx: Context, waits: list[Job], say: Say) -> None:
    """Images another job builds: wait for each version tag, check its commit, record it as a build would."""
    head = ctx.git.head() or ""
    for job in waits:
        job.done_digest = elsewhere.wait_for(job.image, job.registry, job.version_ref, job.version_tag, head, say)
        record(ctx, job)
        ctx.effects.save_state(lambda: ctx.state.save(ctx.state_path))


def build_and_push(ctx: Context, todo: list[Job], push: bool, say: Say) -> None:
    """Build every image through the engine, tag it, and (with `push`) push its tags, the version tag last."""
    eng = engine.connect(ctx.env)
    built: dict[str, list[platforms.Built]] = {}
    for job in todo:
        say(f"building {job.image.name} ({job.image.context}/{job.image.dockerfile}) with {eng.url}")
        build = bound_build(ctx, eng, job, say)
        job.started = attest.now()
        if job.image.platforms:
            built[job.image.name] = platforms.build_all(eng, job.image, build, job.version_ref, say)
            job.finished = attest.now()
            local = ", ".join(platforms.local_tag(job.version_tag, p) for p in job.image.platforms)
            say(f"built {job.image.name} for {', '.join(job.image.platforms)}: tagged {local}")
            continue
        job.image_id = build(tag=job.version_ref)
        job.finished = attest.now()
        for tag in job.tags:
            eng.tag(job.image_id, job.repo.name, tag)
        say(f"built {job.image.name}: {job.image_id[:19]} tagged {', '.join(job.tags)}")
    if not push:
        return
    for job in todo:
        if job.image.platforms:
            push_platforms(eng, job, built[job.image.name], say)
        else:
            push_tags(eng, job, say)
        record(ctx, job)
        ctx.effects.save_state(lambda: ctx.state.save(ctx.state_path))
        say(f"published {job.repo.name}@{job.done_digest}")
        if attest.wanted(job.image) or signing.enabled(ctx):
            attach(ctx, job, say)


def attach_all(ctx: Context, jobs: list[Job], say: Say) -> None:
    for job in jobs:
        attach(ctx, job, say)


def attach(ctx: Context, job: Job, say: Say) -> None:
    """SBOMs and provenance of a published image, what is not attached yet; recorded in the State."""
    assert job.done_digest is not None
    target = attest.Target(
        job.image,
        job.registry,
        job.credentials,
        job.done_digest,
        job.platforms,
        job.build_args,
        job.started,
        job.finished,
    )
    job.attached = attest.attach(ctx, target, say)
    if signing.enabled(ctx):
        job.attached += signing.sign_and_attach(
            ctx, job.registry, job.repo.name, job.done_digest, say, target.statement
        )
    record(ctx, job)
    ctx.effects.save_state(lambda: ctx.state.save(ctx.state_path))


def bound_build(ctx: Context, eng: engine.Engine, job: Job, say: Say) -> Callable[..., str]:
    """The engine build of this job's context, args and labels; the tag, platform and cache use left open."""

    def build(tag: str, platform: str | None = None, nocache: bool = False) -> str:
        return eng.build(
            context=ctx.root / job.image.context,
            dockerfile=job.image.dockerfile,
            tag=tag,
            build_args=job.build_args,
            target=job.image.target,
            labels=job.labels,
            progress=prefixed(say, job.image.name),
            platform=platform,
            nocache=nocache,
        )

    return build


def push_tags(eng: engine.Engine, job: Job, say: Say) -> None:
    """A single-platform image: the engine pushes each tag, the version tag last; the digest is read back."""
    for tag in [t for t in job.tags if t != job.version_tag] + [job.version_tag]:
        say(f"pushing {job.repo.name}:{tag}")
        push_one(eng, job, tag, say)
    manifest = job.registry.manifest(job.version_tag)
    if manifest is None:
        raise ReleaseError(
            f"pushed {job.repo.name}:{job.version_tag} but the registry does not list it",
            "check the registry; rerunning is safe",
        )
    job.done_digest = manifest.digest


def push_platforms(eng: engine.Engine, job: Job, built: list[platforms.Built], say: Say) -> None:
    """Each platform's image by digest, then one index under every tag (the version tag last)."""
    manifests = []
    for one in built:
        say(f"pushing {job.repo.name} for {one.platform} by digest")
        descriptor = retrying(
            functools.partial(platforms.push_platform, eng, job.registry, one),
            attempts=3,
            retry_on=_transient,
            notify=say,
        )
        say(f"pushed {job.repo.name}@{descriptor.digest} ({one.platform})")
        manifests.append(descriptor)
    annotations = {k: v for k, v in job.labels.items() if k.startswith("org.opencontainers.image.")}
    job.done_digest = platforms.push_index(job.registry, manifests, job.tags, job.version_tag, annotations, say)
    job.platforms = {m.platform or "": m.digest for m in manifests}


def prefixed(say: Say, name: str) -> Say:
    def progress(line: str) -> None:
        say(f"  [{name}] {line}")

    return progress


def push_one(eng: engine.Engine, job: Job, tag: str, say: Say) -> None:
    def attempt() -> None:
        eng.push(job.repo.name, tag, job.credentials, prefixed(say, job.image.name))

    retrying(attempt, attempts=3, retry_on=_transient, notify=say)


def _transient(exc: Exception) -> bool:
    text = str(exc).lower()
    return not any(word in text for word in ("unauthorized", "authentication", "denied", "forbidden"))


def record(ctx: Context, job: Job) -> None:
    entry: dict[str, Any] = {
        "name": job.image.name,
        "repository": job.repo.name,
        "tags": job.tags,
        "refs": job.refs,
        "digest": job.done_digest,
        "revision": job.labels[REVISION],
    }
    if job.platforms:
        entry["platforms"] = [{"platform": p, "digest": d} for p, d in job.platforms.items()]
    if job.attached:
        entry["attached"] = job.attached
    ctx.state.images = [i for i in ctx.state.images if i.get("name") != job.image.name] + [entry]
