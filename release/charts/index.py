"""A classic Helm repository's index.yaml: add one chart version, keep everything else, never overwrite.

Pure: text in, text out. The format is helm's (file references are to github.com/helm/helm v4,
pkg/repo/v1/index.go):
- `IndexFile`: `apiVersion: v1`, `entries: {<chart name>: [ChartVersion...]}`, `generated`, plus the
  optional `publicKeys`, `annotations` and `serverInfo`, which are kept as they are;
- `ChartVersion` embeds `chart.Metadata` (pkg/chart/v2/metadata.go, the JSON field names and omitempty of
  Chart.yaml as helm loads it, which `chartpkg.chart_json` already reproduces) and adds `urls`, `created`
  and `digest` (`IndexDirectory`/`MustAdd`: the hex sha256 of the archive, provenance.DigestFile);
- `SortEntries`: each chart's versions newest first by Masterminds/semver, unparseable versions last;
- `WriteFile`: sigs.k8s.io/yaml, i.e. JSON → go-yaml v2: map keys in go-yaml's natural order (sorter.go),
  strings that would read back as something else (`"1.0"`, `"true"`, timestamps) double-quoted
  (encode.go stringv), multi-line strings as literal blocks, block sequences not indented under their key.
  Our output is byte for byte what `helm repo index` writes for the same archive and times.

Helm reads index.yaml with a *strict* decoder (`yaml.UnmarshalStrict`): an entry carrying a field helm does
not know fails the whole index, so an entry is built from helm's metadata fields only, never from the raw
Chart.yaml. `urls` holds the bare file name: helm resolves a relative URL against the repository URL
(pkg/repo/v1/chartrepo.go ResolveReferenceURL), so the index works wherever the branch is served.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from typing import Any

import semver
import yaml

from release.charts import package as chartpkg
from release.errors import ReleaseError
from release.yaml.strict import NoDuplicatesLoader

API_VERSION = "v1"
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
# Masterminds/semver/v3 version.go: the loose form NewVersion accepts ("v" prefix, missing minor/patch).
_LOOSE_SEMVER = re.compile(
    r"v?(?P<major>[0-9]+)(?:\.(?P<minor>[0-9]+))?(?:\.(?P<patch>[0-9]+))?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)


def merge(
    index_text: str | None,
    meta_raw: dict[str, Any],
    filename: str,
    digest_hex: str,
    created: str,
    *,
    where: str = "index.yaml",
) -> str:
    """index.yaml with `meta_raw`'s chart version added (as `urls: [filename]`), everything else kept.

    `index_text` None (or blank) starts a new index. The same version already listed with the same digest
    returns `index_text` unchanged; with another digest (or none) it is an error: a published version is
    never overwritten. `created` (RFC 3339) stamps the entry and the index's `generated`, so the output
    depends on the inputs only.
    """
    if not _HEX_SHA256.fullmatch(digest_hex):
        raise ValueError(f"digest must be 64 lowercase hex digits, got {digest_hex!r}")
    entry = _entry(meta_raw, filename, digest_hex, created)
    index = _load(index_text, where)
    versions: list[Any] = index["entries"].setdefault(entry["name"], [])
    for existing in versions:
        if str(existing.get("version")) != entry["version"]:
            continue
        if existing.get("digest") == digest_hex:
            assert index_text is not None  # a version was found, so there was an index
            return index_text
        theirs = existing.get("digest")
        raise ReleaseError(
            f"{where} already lists {entry['name']} {entry['version']} "
            + (f"with digest {str(theirs)[:12]}…, ours is {digest_hex[:12]}…" if theirs else "without a digest")
            + "; a released chart version is never overwritten",
            "bump the chart version, or remove that version from the repository yourself",
        )
    versions.append(entry)
    versions.sort(key=functools.cmp_to_key(_compare_versions), reverse=True)  # stable: ties keep their order
    index["generated"] = created
    return dump(index)


def _entry(meta_raw: dict[str, Any], filename: str, digest_hex: str, created: str) -> dict[str, Any]:
    name, version = meta_raw.get("name"), meta_raw.get("version")
    if not isinstance(name, str) or not name or not isinstance(version, str) or not version:
        raise ValueError("meta_raw must be a Chart.yaml with a name and a version")
    meta = chartpkg.ChartMeta(name, version, meta_raw.get("appVersion"), str(meta_raw.get("apiVersion")), meta_raw)
    entry: dict[str, Any] = json.loads(chartpkg.chart_json(meta))
    entry.setdefault("apiVersion", "v1")  # index.go MustAdd
    entry.update(urls=[filename], created=created, digest=digest_hex)
    return entry


# --- reading ------------------------------------------------------------------------------------------------


class _IndexLoader(NoDuplicatesLoader):
    """SafeLoader that refuses duplicate keys and keeps timestamps as the text they were written as.

    PyYAML would turn `created: 2016-10-06T16:23:20Z` into a datetime and write it back in another form;
    Go's YAML hands helm the text, so we keep the text.
    """


_IndexLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(index_text: str | None, where: str = "index.yaml") -> dict[str, Any]:
    """Parse and check an index; None or blank text is a new, empty index."""
    return _load(index_text, where)


def _load(index_text: str | None, where: str) -> dict[str, Any]:
    fix = f"fix {where} by hand (or restore it from the branch's history); it is never overwritten"
    if index_text is None or not index_text.strip():
        return {"apiVersion": API_VERSION, "entries": {}}
    try:
        index = yaml.load(index_text, Loader=_IndexLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ReleaseError(f"{where} is not valid YAML{at}: {problem}", fix) from None
    if index is None:  # comments only
        return {"apiVersion": API_VERSION, "entries": {}}
    if not isinstance(index, dict):
        raise ReleaseError(f"{where} is not a Helm repository index (not a mapping)", fix)
    api_version = index.setdefault("apiVersion", API_VERSION)
    if api_version != API_VERSION:
        raise ReleaseError(f"{where} has apiVersion {api_version!r}; helm repository indexes are v1", fix)
    entries = index.get("entries")
    if entries is None:
        entries = index["entries"] = {}
    if not isinstance(entries, dict):
        raise ReleaseError(f"{where}: entries must be a mapping of chart name → versions", fix)
    for name, versions in list(entries.items()):
        if versions is None:
            entries[name] = []
        elif not isinstance(versions, list) or not all(isinstance(v, dict) for v in versions):
            raise ReleaseError(f"{where}: entries.{name} must be a list of chart versions", fix)
    return index


# --- ordering -----------------------------------------------------------------------------------------------


def _parse_version(value: Any) -> semver.Version | None:
    match = _LOOSE_SEMVER.fullmatch(str(value)) if value is not None else None
    if match is None:
        return None
    major, minor, patch, pre = match.group("major", "minor", "patch", "pre")
    try:
        return semver.Version(int(major), int(minor or 0), int(patch or 0), pre)
    except ValueError:
        return None


def _compare_versions(a: dict[str, Any], b: dict[str, Any]) -> int:
    """index.go ChartVersions.Less: by semver (build metadata ignored); unparseable sorts lowest."""
    left, right = _parse_version(a.get("version")), _parse_version(b.get("version"))
    if left is None:
        return 0 if right is None else -1
    if right is None:
        return 1
    return left.compare(right)


# --- writing ------------------------------------------------------------------------------------------------


def dump(index: dict[str, Any]) -> str:
    """The index as helm's WriteFile writes it (sigs.k8s.io/yaml → go-yaml v2)."""
    return yaml.dump(
        _go_ordered(index),
        Dumper=_GoYamlDumper,
        default_flow_style=False,
        allow_unicode=True,
        sort_keys=False,
        width=80,
        indent=2,
    )


def _go_ordered(value: Any) -> Any:
    if isinstance(value, dict):
        keys = sorted(value, key=functools.cmp_to_key(_go_key_compare))
        return {key: _go_ordered(value[key]) for key in keys}
    if isinstance(value, list):
        return [_go_ordered(item) for item in value]
    return value


def _go_key_compare(a: Any, b: Any) -> int:
    if isinstance(a, str) and isinstance(b, str):
        return -1 if _go_string_less(a, b) else (1 if _go_string_less(b, a) else 0)
    # Numbers and booleans before strings; keys in an index are strings, this only keeps the sort total.
    sa, sb = (isinstance(a, str), str(a)), (isinstance(b, str), str(b))
    return (sa > sb) - (sa < sb)


def _is_digit(c: str) -> bool:
    return unicodedata.category(c) == "Nd"  # Go's unicode.IsDigit


def _is_letter(c: str) -> bool:
    return unicodedata.category(c).startswith("L")  # Go's unicode.IsLetter


def _go_string_less(a: str, b: str) -> bool:
    """go-yaml v2 sorter.go keyList.Less for two strings: natural order, digit runs compared as numbers."""
    digits = False
    for i in range(min(len(a), len(b))):
        if a[i] == b[i]:
            digits = _is_digit(a[i])
            continue
        a_letter, b_letter = _is_letter(a[i]), _is_letter(b[i])
        if a_letter and b_letter:
            return a[i] < b[i]
        if a_letter or b_letter:
            return a_letter if digits else b_letter
        a_num = b_num = 0
        if a[i] == "0" or b[i] == "0":
            j = i - 1
            while j >= 0 and _is_digit(a[j]):
                if a[j] != "0":
                    a_num = b_num = 1
                    break
                j -= 1
        ai = i
        while ai < len(a) and _is_digit(a[ai]):
            a_num = a_num * 10 + (ord(a[ai]) - ord("0"))
            ai += 1
        bi = i
        while bi < len(b) and _is_digit(b[bi]):
            b_num = b_num * 10 + (ord(b[bi]) - ord("0"))
            bi += 1
        if a_num != b_num:
            return a_num < b_num
        if ai != bi:
            return ai < bi
        return a[i] < b[i]
    return len(a) < len(b)


# go-yaml v2 resolve.go: the plain scalars that do not read back as strings.
_GO_SPECIAL = frozenset(
    {
        *("~", "null", "Null", "NULL", "<<"),
        *("y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"),
        *("n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"),
        *(".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"),
    }
)
_GO_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_GO_INT = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|[0-9]+)")
_GO_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:[Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:Z|[-+][0-9]{2}:[0-9]{2})"
    r"|[ ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?)?"
)
_GO_BASE60_FLOAT = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")


def _go_reads_as_non_string(text: str) -> bool:
    if text == "" or text in _GO_SPECIAL:
        return True
    if text[0] not in "+-.0123456789":
        return False
    plain = text.replace("_", "")
    return bool(
        _GO_TIMESTAMP.fullmatch(text)
        or _GO_INT.fullmatch(plain)
        or _GO_FLOAT.fullmatch(plain)
        or _GO_BASE60_FLOAT.fullmatch(text)
    )


class _GoYamlDumper(yaml.SafeDumper):
    """Strings styled as go-yaml v2 encode.go stringv does; the emitter (a libyaml port in both) does the rest."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style: str | None = None
    if "\n" in text:
        style = "|"
    elif _go_reads_as_non_string(text):
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_GoYamlDumper.add_representer(str, _represent_str)
