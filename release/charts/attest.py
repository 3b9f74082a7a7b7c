"""Provenance of a chart published to an OCI registry: an in-toto statement with a SLSA v1 predicate, attached to
the chart's manifest digest as an OCI artifact (adapters/referrers.py), looked for first so a rerun adds only what
is missing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from release.adapters import referrers
from release.adapters.registry import Registry
from release.charts.build import ChartJob
from release.context import Context
from release.source import provenance, signing

Say = Callable[[str], None]


def subject_name(ref: str) -> str:
    """oci://host/path/name:1.2.3 → host/path/name, as cosign names an OCI subject."""
    return ref.removeprefix("oci://").rsplit(":", 1)[0]


def attach_all(ctx: Context, job: ChartJob, registry: Registry, ref: str, digest: str, say: Say) -> None:
    """Provenance (if asked for) and signatures (if signing is on) of a chart published at `digest`."""
    statement = attach_provenance(ctx, job, registry, ref, digest, say) if job.config.provenance else None
    if signing.enabled(ctx):
        signed = signing.sign_and_attach(ctx, registry, subject_name(ref), digest, say, statement)
        job.attached += [{**entry, "ref": ref} for entry in signed]


def attach_provenance(ctx: Context, job: ChartJob, registry: Registry, ref: str, digest: str, say: Say) -> bytes:
    """Attach the chart's provenance to `digest` in `registry` unless it is there; recorded on the job."""
    predicate = {provenance.PREDICATE_ANNOTATION: provenance.PREDICATE_TYPE}
    artifact = referrers.find(registry, digest, {provenance.MEDIA_TYPE}, predicate)
    if artifact:
        say(f"found the provenance of {ref}: {artifact}")
        data = referrers.document(registry, artifact)
    else:
        parameters: dict[str, Any] = {
            "chart": job.config.path,
            "name": job.meta.name,
            "version": job.meta.version,
            "appVersion": job.meta.app_version,
            "values": dict(job.config.values),
            "archiveSha256": job.sha256,
        }
        data = provenance.statement(
            ctx,
            name=subject_name(ref),
            digest=digest,
            build_type=provenance.CHART_BUILD_TYPE,
            parameters=parameters,
            started=None,
            finished=None,
        )
        notes = {"org.opencontainers.image.created": provenance.now(), **predicate}
        artifact = referrers.attach_document(registry, digest, provenance.MEDIA_TYPE, data, notes)
        say(f"attached the provenance of {ref}: {artifact}")
    job.attached = [a for a in job.attached if a.get("subject") != digest]
    job.attached.append({"kind": "provenance", "ref": ref, "subject": digest, "digest": artifact})
    return data
