"""A chart job: Chart.yaml and values bumped in memory, dependencies in place, packaged reproducibly and checked."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from release.adapters import helm
from release.charts import appversion, deps
from release.charts import package as chartpkg
from release.charts.deps import registry_for as registry_for  # publish and gitops use it
from release.config import ChartConfig
from release.context import Context
from release.errors import ReleaseError
from release.naming import templates
from release.source import plans as planning
from release.source.fields import fields_for  # moved: promote uses it too
from release.yaml import edit as yamledit
from release.yaml.strict import SafeLoader

Say = Callable[[str], None]


@dataclass
class ChartJob:
    config: ChartConfig
    meta: chartpkg.ChartMeta
    archive: bytes
    created: str
    targets: list[str]
    checks: Callable[[], None]  # lint, schema, render: run before anything is pushed, unless already published
    published: dict[str, str] = field(default_factory=dict)  # ref → manifest digest
    attached: list[dict[str, Any]] = field(default_factory=list)  # provenance in OCI registries: references

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.archive).hexdigest()

    @property
    def filename(self) -> str:
        return chartpkg.archive_name(self.meta)


def _render(template: str, values: dict[str, str], where: str) -> str:
    missing = [f for f in templates.fields(template) if f.startswith("image.") and f not in values]
    if missing:
        raise ReleaseError(
            f"{where} uses {{{missing[0]}}}, but no such image is recorded in this release's State",
            "run the images stage first (release build --push), or check the image name",
        )
    return templates.render(template, values, where)


def prepare(ctx: Context, say: Say | None = None) -> list[ChartJob]:
    plans = {p.component: p for p in planning.make_plans(ctx) if p.releasable}
    created = dt.datetime.fromtimestamp(ctx.git.commit_time("HEAD"), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    mtime = int(ctx.env["SOURCE_DATE_EPOCH"]) if ctx.env.get("SOURCE_DATE_EPOCH", "").isdigit() else None
    jobs = []
    for index, chart in enumerate(ctx.config.charts):
        plan = plans.get(chart.component)
        if plan is None:
            continue
        where = f"charts[{index}] ({chart.path})"
        directory = ctx.root / chart.path
        if not chartpkg.inside(directory, ctx.root):  # `/etc`, `../other`, or a link out of the repository
            raise ReleaseError(f"{where}: not a directory inside the repository", "name the chart relative to it")
        if not (directory / "Chart.yaml").is_file():
            raise ReleaseError(f"{where}: no Chart.yaml in {chart.path}", "point charts[].path at a chart directory")
        values = fields_for(ctx, plan)
        overrides = {"Chart.yaml": _bumped_chart_yaml(directory, chart, values, where)}
        if chart.values:
            overrides[chart.values_file] = _edited_values(directory, chart, values, where)
        stamp = mtime if mtime is not None else ctx.git.commit_time("HEAD")
        meta, archive = _package(ctx, directory, stamp, overrides, say)
        checks = functools.partial(check, directory, meta, archive, overrides, where)
        if chart.name and chart.name != meta.name:
            raise ReleaseError(f"{where}: Chart.yaml names the chart {meta.name!r}, not {chart.name!r}", "fix one")
        jobs.append(ChartJob(chart, meta, archive, created, list(chart.publish), checks))
    return jobs


def _package(
    ctx: Context, directory: Path, mtime: int, overrides: dict[str, bytes], say: Say | None = None
) -> tuple[chartpkg.ChartMeta, bytes]:
    """Package the chart; missing dependencies are fetched by us (charts/deps.py) and handed in as overrides,
    never written into the user's tree. Without a Chart.lock, the one generated is stamped with `mtime`."""
    try:
        return chartpkg.package(directory, mtime=mtime, overrides=overrides, warn=say)
    except chartpkg.MissingDependencies as missing:
        lock = chartpkg.read_text(directory, deps.LOCK)
        locked = deps.locked_versions(lock)
        resolved = deps.resolve(ctx, directory, missing.dependencies, locked, lambda path: _local(ctx, path, mtime))
        extra = dict(overrides)
        for found in resolved:
            try:
                extra[f"charts/{found.name}-{found.version}.tgz"] = found.fetch()
            except ReleaseError as error:
                raise deps.about(error, found.name, found.repository) from None
        declared = deps.declared(chartpkg.read_chart(directory, overrides).raw)
        if lock is None and len(resolved) == len(declared) and not chartpkg.ignored(directory, deps.LOCK):
            extra[deps.LOCK] = deps.lock_text(declared, resolved, mtime).encode("utf-8")
        return chartpkg.package(directory, mtime=mtime, overrides=extra)


def _local(ctx: Context, path: Path, mtime: int) -> bytes:
    """A file:// dependency, packaged as ours are (its own dependencies fetched the same way)."""
    return _package(ctx, path, mtime, {})[1]


def check(directory: Path, meta: chartpkg.ChartMeta, archive: bytes, overrides: dict[str, bytes], where: str) -> None:
    """Our own structural lint always; Helm's lint and a full render too when the Helm engine is installed."""
    values_bytes = overrides.get("values.yaml")
    if values_bytes is None and (directory / "values.yaml").is_file():
        values_bytes = (directory / "values.yaml").read_bytes()
    values: dict[str, object] = {}
    for document in yaml.load_all(values_bytes or b"", Loader=SafeLoader):  # chartpkg checked each is a mapping
        values = _merge_maps(values, document or {})
    umbrella = bool(meta.raw.get("dependencies"))  # its subcharts render; helm lint only warns
    if meta.raw.get("type", "application") == "application" and not umbrella and not (directory / "templates").is_dir():
        raise ReleaseError(f"{where}: no templates/ directory", "an application chart renders templates/*.yaml")
    schema_path = directory / "values.schema.json"
    if schema_path.is_file():
        _validate_schema(schema_path, values, where)
    if helm.available():
        errors = helm.lint(archive)
        if errors:
            raise ReleaseError(f"{where}: helm lint: {errors[0]}", "fix the chart; `helm lint` shows every finding")
        helm.render(archive)


def _merge_maps(a: dict[str, object], b: dict[str, object]) -> dict[str, object]:
    """Helm's loader (load.go LoadValues, MergeMaps) merges a values file's documents, the later one winning."""
    out = dict(a)
    for key, value in b.items():
        before = out.get(key)
        out[key] = _merge_maps(before, value) if isinstance(before, dict) and isinstance(value, dict) else value
    return out


def _validate_schema(schema_path: Path, values: object, where: str) -> None:
    import jsonschema

    try:
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
        jsonschema.validate(values, schema)
    except ValueError as exc:  # json.JSONDecodeError
        raise ReleaseError(f"{where}: values.schema.json is not valid JSON: {exc}", "fix the schema") from None
    except jsonschema.ValidationError as exc:
        path = ".".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise ReleaseError(
            f"{where}: values do not match values.schema.json at {path}: {exc.message}",
            "fix the value, or the schema",
        ) from None
    except jsonschema.SchemaError as exc:
        raise ReleaseError(f"{where}: values.schema.json is not a valid schema: {exc.message}", "fix it") from None


def _bumped_chart_yaml(directory: Path, chart: ChartConfig, values: dict[str, str], where: str) -> bytes:
    path = directory / "Chart.yaml"
    text = chartpkg.read_text(directory, "Chart.yaml") or ""
    edits = {"version": _render(chart.version, values, f"{where} version")}
    app_version = appversion.template(chart, chartpkg.read_chart(directory).raw)
    if app_version is not None:
        edits["appVersion"] = _render(app_version, values, f"{where} app_version")
    return yamledit.set_values(text, edits, create=True, filename=str(path)).encode("utf-8")


def _edited_values(directory: Path, chart: ChartConfig, values: dict[str, str], where: str) -> bytes:
    path = directory / chart.values_file
    text = chartpkg.read_text(directory, chart.values_file)
    if text is None:
        raise ReleaseError(f"{where}: no {chart.values_file} in {chart.path}", "create it, or fix charts[].values_file")
    edits = {key: _render(template, values, f"{where} values.{key}") for key, template in chart.values.items()}
    return yamledit.set_values(text, edits, create=chart.create, filename=str(path)).encode("utf-8")
