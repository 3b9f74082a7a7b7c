"""Pure: a chart as an OCI artifact, the way `helm push` writes it (helm v4 pkg/registry/client.go, chart.go).

Helm marshals with Go's encoding/json: compact, map keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped.
We write the same bytes, so for the same archive, config and creation time our manifest digest is Helm's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

CONFIG_MEDIA_TYPE = "application/vnd.cncf.helm.config.v1+json"
CHART_LAYER_MEDIA_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
# helm never lets Chart.yaml annotations override these two (chart.go immutableOciAnnotations)
_GO_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))
IMMUTABLE = ("org.opencontainers.image.version", "org.opencontainers.image.title")


def go_json(value: Any) -> bytes:
    """Bytes as Go's json.Marshal writes them (HTML-safe escaping, compact, sorted map keys)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=False)
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text.encode("utf-8")


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def oci_tag(version: str) -> str:
    """OCI tags cannot hold `+`; helm writes it as `_`."""
    return version.replace("+", "_")


def oci_annotations(chart: Mapping[str, Any], created: str) -> dict[str, str]:
    """generateOCIAnnotations: description, title, version, url, created, source, authors, then Chart.yaml's own."""
    found: dict[str, str] = {}

    def add(key: str, value: Any) -> None:
        if isinstance(value, str) and value.strip():
            found[key] = value

    add("org.opencontainers.image.description", chart.get("description"))
    add("org.opencontainers.image.title", chart.get("name"))
    add("org.opencontainers.image.version", chart.get("version"))
    add("org.opencontainers.image.url", chart.get("home"))
    add("org.opencontainers.image.created", created)
    sources = chart.get("sources") or []
    if sources:
        add("org.opencontainers.image.source", sources[0])
    maintainers = chart.get("maintainers") or []
    if maintainers:
        parts = []
        for m in maintainers:
            text = str(m.get("name") or "")
            if m.get("email"):
                text += f" ({m['email']})"
            parts.append(text)
        found["org.opencontainers.image.authors"] = ", ".join(parts)
    for key, value in (chart.get("annotations") or {}).items():
        if key not in IMMUTABLE:
            found[str(key)] = str(value)
    return dict(sorted(found.items()))


def manifest(config: bytes, layer: bytes, notes: Mapping[str, str]) -> bytes:
    """The image manifest helm tags: schemaVersion, config, layers, annotations (no mediaType field)."""
    body: dict[str, Any] = {
        "schemaVersion": 2,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": CHART_LAYER_MEDIA_TYPE, "digest": digest(layer), "size": len(layer)}],
    }
    if notes:
        body["annotations"] = dict(sorted(notes.items()))
    return go_json(body)
