"""Helm itself (helm-python-sdk, Helm v4's Go SDK through ctypes), when the `release[helm]` extra is installed.

Thin: lint and render. Dependencies are fetched by charts/deps.py, not by Helm. Callers decide what a finding means.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from release.errors import ReleaseError


def available() -> bool:
    try:
        import helm_python  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def _sdk() -> Any:
    import helm_python

    return helm_python


@contextmanager
def _archive_file(archive: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="release-helm-") as tmp:
        path = Path(tmp) / "chart.tgz"
        path.write_bytes(archive)
        yield path


def lint(archive: bytes, values: Mapping[str, Any] | None = None) -> list[str]:
    """helm lint's errors (severity 3) for a packaged chart; warnings and infos are not failures."""
    with _archive_file(archive) as path:
        report: dict[str, Any] = _sdk().lint(str(path), dict(values) if values else None)
    found = [
        f"{m.get('path', '')}: {m.get('error', '')}".strip(": ")
        for m in report.get("messages", [])
        if m.get("severity") == 3
    ] + [str(e) for e in report.get("errors", [])]
    return [" ".join(text.split()) for text in found]  # helm's messages span lines; ours are one line


def render(archive: bytes, values: Mapping[str, Any] | None = None) -> dict[str, str]:
    """helm template: every rendered manifest by template path; a template error names the template."""
    sdk = _sdk()
    try:
        with sdk.Chart.load_archive(archive) as chart:
            rendered: dict[str, str] = chart.render(dict(values) if values else None, name="release-check")
            return rendered
    except sdk.HelmError as exc:
        detail = " ".join(str(getattr(exc, "detail", "") or exc).split())
        raise ReleaseError(f"helm could not render the chart: {detail}", "fix the template named above") from None
