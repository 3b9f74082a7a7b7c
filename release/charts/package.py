"""Reproducible, helm-compatible chart archives.

Pure: reads a chart directory (plus in-memory overrides) and returns bytes; no network, no subprocess.
Users' files are never written: the charts stage hands its edits (bumped Chart.yaml, new image tag in
values.yaml) in as `overrides`.

The archive is what `helm package` makes, minus what makes helm's output differ run to run: helm stamps
each file with its on-disk mtime (pkg/chart/v2/util/save.go writeToTar) and walks subcharts in Go map order
(pkg/chart/v2/loader/load.go LoadFiles). Here every entry carries the caller's `mtime` (commit time or
SOURCE_DATE_EPOCH), subcharts come in name order, the gzip header carries no time and no name, and the
deflate level is fixed. Same input → same bytes → same sha256.

What is replicated from helm v4.2.3 (file references are to github.com/helm/helm at that tag):
- which files go in: pkg/chart/v2/loader/directory.go LoadDir (lexical walk that follows symlinks,
  internal/sympath/walk.go; .helmignore with the rules of pkg/ignore/rules.go plus the default
  `templates/.?*`; regular files only; UTF-8 BOM stripped from every file; 5 MiB per file);
- how they are ordered and named: pkg/chart/v2/util/save.go writeTarContents (Chart.yaml, Chart.lock for
  apiVersion v2, values.yaml, values.schema.json, templates, other files, then each subchart the same way
  under `<name>/charts/<subchart name>/`), and which files load.go drops (Chart.lock of v1 charts,
  `charts/_*` and `charts/.*`);
- the tar headers: Go's archive/tar (USTAR, PAX `path` record only for names USTAR cannot hold), mode 0644,
  uid/gid 0, empty user/group names, no directory entries;
- the checks helm makes when it loads the archive: pkg/chart/v2/metadata.go Validate, the lint rules of
  pkg/chart/v2/lint/rules/chartfile.go that are errors, pkg/chart/loader/archive/archive.go size limits,
  and pkg/action/package.go CheckDependencies.
Deliberate differences: Chart.yaml and Chart.lock go in as written (helm re-serialises them), and vendored
`charts/*.tgz` go in as they are (helm expands them); helm loads either form the same way.

Stricter than helm, for safety (each refusal names the file or archive member and says what to do):
- a symlink is followed only while it stays inside the chart directory (helm follows any, and logs it; we warn);
- a vendored `charts/*.tgz` (and the archives nested in it) may hold regular files and directories only, under
  one top folder, with no absolute, drive-letter or `..` names (archive.go refuses those too, but loads links
  and devices as empty files); its size counts against one budget with the archives nested in it;
- a file name with a backslash, or a top folder named like a drive (`c:`), which helm's loader would read as
  another path; a charts[].path or values file outside the chart (or the repository);
- what helm cannot read back through JSON (NaN, infinities, null or uint64 keys) in Chart.yaml, values.yaml and
  Chart.lock, and Chart.yaml keys that differ from a field only in case (Go's JSON ignores case).
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import stat
import struct
import tarfile
import unicodedata
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import yaml

from release.errors import ReleaseError
from release.yaml.strict import NoDuplicatesLoader, SafeLoader

# pkg/chart/loader/archive/archive.go: MaxDecompressedFileSize, MaxDecompressedChartSize.
MAX_FILE_SIZE = 5 * 1024 * 1024
MAX_CHART_SIZE = 100 * 1024 * 1024
COMPRESSION_LEVEL = 9
HELMIGNORE = ".helmignore"

_UTF8_BOM = b"\xef\xbb\xbf"
_NAME = re.compile(r"[a-zA-Z0-9._-]+")  # pkg/chart/v2/util/create.go chartName
_ALIAS = re.compile(r"[a-zA-Z0-9_-]+")  # pkg/chart/v2/chart.go aliasNameFormat
_NUM = r"(?:0|[1-9][0-9]*)"
_PRE = r"(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
_SEMVER2 = re.compile(rf"{_NUM}\.{_NUM}\.{_NUM}(?:-{_PRE}(?:\.{_PRE})*)?(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?")


class MissingDependencies(ReleaseError):
    """Chart.yaml declares dependencies that charts/ does not hold (charts/deps.py fetches them)."""

    def __init__(self, message: str, hint: str, dependencies: list[dict[str, Any]]) -> None:
        super().__init__(message, hint)
        self.dependencies = dependencies


@dataclass(frozen=True)
class ChartMeta:
    """What a release needs to know about a chart; `raw` is its Chart.yaml as parsed."""

    name: str
    version: str
    app_version: str | None
    api_version: str
    raw: dict[str, Any] = field(hash=False)


def archive_name(meta: ChartMeta) -> str:
    """helm's file name for a packaged chart (save.go Save)."""
    return f"{meta.name}-{meta.version}.tgz"


def read_chart(path: Path, overrides: Mapping[str, bytes] | None = None) -> ChartMeta:
    """Read and check a chart's Chart.yaml (or its override), the way helm does before packaging."""
    path = Path(path)
    data = {_override_key(key): value for key, value in (overrides or {}).items()}.get("Chart.yaml")
    if data is None:
        try:
            data = (path / "Chart.yaml").read_bytes()
        except FileNotFoundError:
            raise ReleaseError(
                f"{path}/Chart.yaml: missing", "point at a chart directory (helm create makes one)"
            ) from None
        except IsADirectoryError:
            raise ReleaseError(f"{path}/Chart.yaml: is a directory, not a file") from None
    return _parse_chart_yaml(data, f"{path}/Chart.yaml")


def package(
    path: Path,
    *,
    mtime: int,
    overrides: Mapping[str, bytes] | None = None,
    warn: Callable[[str], None] | None = None,
) -> tuple[ChartMeta, bytes]:
    """Package the chart directory at `path` into helm's .tgz layout, reproducibly.

    `mtime` (seconds since 1970) stamps every entry. `overrides` maps chart-relative paths to the bytes
    to package instead of the file's (or as a new file); the files on disk are never touched. `warn` hears
    about each symlink followed (helm logs the same), as one line naming the link and its target.
    """
    path = Path(path)
    if isinstance(mtime, bool) or not isinstance(mtime, int) or not 0 <= mtime < 8**11:
        raise ReleaseError(
            f"cannot stamp chart files with time {mtime!r}", "SOURCE_DATE_EPOCH must be whole seconds since 1970"
        )
    if not path.is_dir():
        raise ReleaseError(f"{path}: not a chart directory", "point charts[].path at the directory holding Chart.yaml")
    extra = {_override_key(key): bytes(data) for key, data in (overrides or {}).items()}
    rules = _ignore_rules(path, extra)

    files = _collect(path, rules, warn or (lambda line: None))
    for rel, data in extra.items():
        if rel not in files:
            _check_new_file(path, rel, rules)
        files[rel] = data
    for rel in files:
        _check_name(path, rel)
    ordered = dict(sorted(files.items(), key=lambda item: item[0].split("/")))
    contents = {rel: _strip_bom(data) for rel, data in ordered.items()}

    meta, entries = _arrange(contents, str(path), top=True)
    _check_sizes(path, entries)
    tar = b"".join(_tar_entry(f"{meta.name}/{rel}", data, mtime) for rel, data in entries) + bytes(1024)
    return meta, _gzip(tar)


def _ignore_rules(path: Path, overrides: Mapping[str, bytes]) -> list[_Rule]:
    """The chart's .helmignore rules; an override of .helmignore replaces the file on disk."""
    text = overrides.get(HELMIGNORE)
    if text is None and (path / HELMIGNORE).is_file():
        text = (path / HELMIGNORE).read_bytes()
    return _parse_ignore(text or b"", f"{path}/{HELMIGNORE}")


def _check_sizes(path: Path, entries: Sequence[tuple[str, bytes]]) -> None:
    """helm's size limits for loading a chart archive, on the entries as packaged (overrides included)."""
    total = 0
    for rel, data in entries:
        if len(data) > MAX_FILE_SIZE:
            raise ReleaseError(
                f"{path}/{rel}: {len(data)} bytes, over helm's {MAX_FILE_SIZE}-byte limit for one chart file",
                f"add it to {HELMIGNORE}, or ship it another way (an image, a ConfigMap built elsewhere)",
            )
        total += len(data)
    if total >= MAX_CHART_SIZE:
        raise ReleaseError(
            f"{path}: chart files add up to {total} bytes; helm loads charts under {MAX_CHART_SIZE} bytes",
            f"leave large files out with {HELMIGNORE}",
        )


def read_text(root: Path, rel: str) -> str | None:
    """`read_source` as UTF-8 text (a byte-order mark kept: the edit must keep every byte); None when missing."""
    data = read_source(root, rel)
    return None if data is None else _decode(data, f"{root}/{rel}")


def read_source(root: Path, rel: str) -> bytes | None:
    """A chart file a release edits (Chart.yaml, the values file), read with the checks the packager makes:
    inside the chart directory (symlinks included), a regular file, within helm's size limit. None when missing.
    """
    root = Path(root)
    where = f"{root}/{rel}"
    parts = rel.replace("\\", "/").split("/")
    if not rel or rel.startswith(("/", "\\")) or _DRIVE.match(rel) or ".." in parts:
        raise ReleaseError(f"{where}: not a file inside the chart directory", "name it relative to the chart")
    full = root / rel
    if not os.path.lexists(full):
        return None
    real = os.path.realpath(full)
    if not _inside(real, os.path.realpath(root)):
        raise ReleaseError(
            f"{where}: a symlink that leaves the chart directory (to {real})", "copy the file into the chart"
        )
    try:
        info = os.stat(real)
    except OSError:
        return None  # a dangling link: missing, as the caller reports it
    if not stat.S_ISREG(info.st_mode):
        raise ReleaseError(f"{where}: not a regular file", "point at a YAML file")
    with open(real, "rb") as handle:
        data = handle.read(MAX_FILE_SIZE + 1)
    if len(data) > MAX_FILE_SIZE:
        raise ReleaseError(f"{where}: over helm's {MAX_FILE_SIZE}-byte limit for one chart file", "make it smaller")
    return data


# --- Chart.yaml -------------------------------------------------------------------------------------------


class _StrictLoader(NoDuplicatesLoader):
    """SafeLoader that refuses duplicate keys (Go's YAML keeps the last one; a duplicate is a mistake), and reads
    y/Y/n/N as booleans as Helm's YAML 1.1 parser does, so an unquoted `y` is caught as "must be a string"."""

    bool_values: ClassVar[dict[str, bool]] = {**yaml.SafeLoader.bool_values, "y": True, "n": False}


_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))
# Numbers Go's YAML reads (strconv with base 0, its float pattern) where PyYAML's YAML 1.1 rules see strings:
# an exponent without a dot (`1e3`, `0E0`) and `0o17`. Helm would read `appVersion: 1e3` as 1000.
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"), list("-+0123456789")
)
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?0o[0-7_]+$"), list("-+0"))


def _yaml_problem(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"{error.problem} (line {mark.line + 1}, column {mark.column + 1})".replace("\n", " ")
    return str(error).replace("\n", " ")


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ReleaseError(f"{where}: not UTF-8 (bad byte at offset {error.start})", "save the file as UTF-8") from None


def _parse_chart_yaml(data: bytes, where: str) -> ChartMeta:
    text = _decode(_strip_bom(data), where)
    try:
        doc = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        raise ReleaseError(f"{where}: not valid YAML: {_yaml_problem(error)}") from None
    if not isinstance(doc, dict):
        raise ReleaseError(f"{where}: must be a mapping with apiVersion, name and version")
    api_version = doc.get("apiVersion")
    if api_version not in ("v1", "v2"):
        what = "apiVersion is missing" if api_version is None else f"apiVersion {api_version!r} is not v1 or v2"
        raise ReleaseError(f"{where}: {what}", "charts for helm 3 and 4 use apiVersion: v2")
    name = doc.get("name")
    if name is None or name == "":
        raise ReleaseError(f"{where}: name is missing", "add name: <chart name>")
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name in (".", ".."):
        raise ReleaseError(
            f"{where}: name {name!r} has characters helm does not allow in chart names",
            "use letters, digits, '.', '_' and '-' only (lowercase for OCI registries)",
        )
    version = doc.get("version")
    if version is None or version == "":
        raise ReleaseError(f"{where}: version is missing", "add version: 0.1.0")
    if not isinstance(version, str):
        raise ReleaseError(f"{where}: version must be a string, got {version!r}", 'quote it: version: "1.0.0"')
    if not _SEMVER2.fullmatch(version):
        raise ReleaseError(
            f"{where}: version {version!r} is not SemVer 2 (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD])",
            "helm and OCI registries need a semantic version, e.g. 1.2.3",
        )
    app_version = doc.get("appVersion")
    if app_version is not None and not isinstance(app_version, str):
        # lint/rules/chartfile.go validateChartAppVersionType is an error, and Go turns 1.10 into "1.1".
        raise ReleaseError(f"{where}: appVersion must be a string, got {app_version!r}", 'quote it: appVersion: "1.10"')
    _check_fields(doc, where)
    return ChartMeta(name, version, app_version, api_version, doc)


def _check_fields(doc: dict[str, Any], where: str) -> None:
    """Refuse what helm would refuse to load or lint as an error, and values whose JSON form would be guessed.

    Go's YAML turns an unquoted 1.10 into "1.1" and yes into "true" where a string is expected; PyYAML does
    not resolve scalars the same way, so instead of guessing, such fields must be quoted.
    """
    _check_json(doc, where)
    _check_case(doc, _METADATA_FIELDS, where, "")
    for key, kind, _ in _METADATA_FIELDS:
        value = doc.get(key)
        if value is None:
            continue
        if kind == "str" and not isinstance(value, str):
            raise ReleaseError(f"{where}: {key} must be a string, got {value!r}", f'quote it: {key}: "{value}"')
        if kind == "strs" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ReleaseError(f"{where}: {key} must be a list of strings", "quote each entry")
        if kind == "bool" and not isinstance(value, bool):
            raise ReleaseError(f"{where}: {key} must be true or false, got {value!r}")  # helm fails to load it
        if kind == "strmap" and not (
            isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        ):
            raise ReleaseError(f"{where}: {key} must map strings to strings", 'quote the values: key: "true"')
        if kind == "maintainers":
            _check_records(value, _MAINTAINER_FIELDS, where, key)
        if kind == "dependencies":
            _check_records(value, _DEPENDENCY_FIELDS, where, key)
    if doc.get("type") not in (None, "", "application", "library"):
        raise ReleaseError(f"{where}: type {doc['type']!r} is not application or library")
    if doc["apiVersion"] == "v1" and (doc.get("type") or doc.get("dependencies")):
        field_name = "type" if doc.get("type") else "dependencies"
        raise ReleaseError(
            f"{where}: {field_name} needs apiVersion: v2", "helm lint rejects it in v1 charts; use apiVersion: v2"
        )
    seen: set[str] = set()
    for dependency in doc.get("dependencies") or []:
        alias = dependency.get("alias")
        if alias and not _ALIAS.fullmatch(alias):
            raise ReleaseError(f"{where}: dependency alias {alias!r} may hold only letters, digits, '_' and '-'")
        key = alias or dependency.get("name") or ""
        if key in seen:
            raise ReleaseError(f"{where}: more than one dependency with name or alias {key!r}")
        seen.add(key)


def _check_records(value: Any, fields: Sequence[tuple[str, str, bool]], where: str, key: str) -> None:
    if not isinstance(value, list):
        raise ReleaseError(f"{where}: {key} must be a list")
    for index, record in enumerate(value):
        if not isinstance(record, dict):
            raise ReleaseError(f"{where}: {key}[{index}] must be a mapping")  # metadata.go: no null entries
        _check_case(record, fields, where, f"{key}[{index}].")
        for name, kind, _ in fields:
            item = record.get(name)
            if item is None:
                continue
            ok = {
                "str": isinstance(item, str),
                "strs": isinstance(item, list) and all(isinstance(v, str) for v in item),
                "bool": isinstance(item, bool),
                "list": isinstance(item, list),
            }[kind]
            if not ok:
                raise ReleaseError(f"{where}: {key}[{index}].{name} has the wrong type ({item!r})", "quote strings")


def _check_case(record: dict[Any, Any], fields: Sequence[tuple[str, str, bool]], where: str, prefix: str) -> None:
    """Go's encoding/json matches keys case-insensitively: helm reads `Name:` as `name`, the last one winning."""
    known = {name.casefold(): name for name, _, _ in fields}
    for key in record:
        if isinstance(key, str) and key not in known.values() and key.casefold() in known:
            raise ReleaseError(
                f"{where}: {prefix}{key} is {prefix}{known[key.casefold()]} to helm (it ignores case)",
                f"write it as {known[key.casefold()]}, once",
            )


def _check_json(value: Any, where: str, path: str = "") -> None:
    """Helm reads its YAML files through JSON (sigs.k8s.io/yaml): NaN, infinities and null keys do not convert,
    and helm then fails to load the whole chart."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise ReleaseError(f"{where}: {path or 'the document'} is {value}, which helm cannot read", "quote it")
    if isinstance(value, dict | set | frozenset):
        for key in value:
            if key is None or (isinstance(key, int) and 2**63 <= key < 2**64):  # Go reads that one as a uint64
                shown = "a null key (~)" if key is None else f"the key {key}"
                raise ReleaseError(f"{where}: {path or 'the top level'} has {shown}, which helm cannot read")
            if isinstance(value, dict):
                _check_json(value[key], where, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, where, f"{path}[{index}]")


# --- Chart.yaml as helm's JSON ----------------------------------------------------------------------------

# pkg/chart/v2/metadata.go Metadata, in declaration order (json.Marshal keeps it): (key, kind, sanitized).
# Every field is omitempty. "sanitized" marks the strings Validate() passes through sanitizeString, which
# helm applies when it loads the chart, before registry.Client.Push marshals the config blob.
_METADATA_FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("name", "str", True),
    ("home", "str", True),
    ("sources", "strs", True),
    ("version", "str", False),
    ("description", "str", True),
    ("keywords", "strs", True),
    ("maintainers", "maintainers", True),
    ("icon", "str", True),
    ("apiVersion", "str", False),
    ("condition", "str", True),
    ("tags", "str", True),
    ("appVersion", "str", True),
    ("deprecated", "bool", False),
    ("annotations", "strmap", False),
    ("kubeVersion", "str", True),
    ("dependencies", "dependencies", True),
    ("type", "str", False),
)
_MAINTAINER_FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("name", "str", True),
    ("email", "str", True),
    ("url", "str", True),
)
# pkg/chart/v2/dependency.go Dependency: name and repository have no omitempty.
_DEPENDENCY_FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("name", "str", True),
    ("version", "str", True),
    ("repository", "str", True),
    ("condition", "str", True),
    ("tags", "strs", True),
    ("enabled", "bool", False),
    ("import-values", "list", False),
    ("alias", "str", False),
)
_ALWAYS = {"dependencies": {"name", "repository"}}

# Go's unicode.IsSpace.
_GO_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))
)


def _sanitize(text: str) -> str:
    """metadata.go sanitizeString: whitespace becomes ' ', non-printable characters (Go's IsPrint) go."""
    return "".join(
        " " if c in _GO_SPACE else c for c in text if c in _GO_SPACE or unicodedata.category(c)[0] in "LMNPS"
    )


class _Struct(dict[str, Any]):
    """A dict whose key order is a Go struct's field order."""


def _is_struct(value: dict[Any, Any]) -> bool:
    return isinstance(value, _Struct)


def chart_json(meta: ChartMeta) -> bytes:
    """Chart.yaml as helm's OCI config blob: json.Marshal of the loaded chart.Metadata (registry/client.go Push)."""
    return _go_json(_metadata_object(meta.raw, _METADATA_FIELDS, "")).encode("utf-8")


def _metadata_object(record: Mapping[str, Any], fields: Sequence[tuple[str, str, bool]], group: str) -> _Struct:
    out = _Struct()
    for key, kind, sanitized in fields:
        value = record.get(key)
        clean: Callable[[str], str] = _sanitize if sanitized else str
        if kind == "str":
            value = clean(value) if isinstance(value, str) else ""
        elif kind == "strs":
            value = [clean(v) for v in value] if isinstance(value, list) else []
        elif kind == "maintainers":
            value = [_metadata_object(v, _MAINTAINER_FIELDS, "maintainers") for v in value or []]
        elif kind == "dependencies":
            value = [_metadata_object(v, _DEPENDENCY_FIELDS, "dependencies") for v in value or []]
        elif kind == "strmap":
            value = dict(value) if isinstance(value, dict) else {}
        elif kind == "bool":
            value = bool(value)
        elif kind == "list":
            value = list(value) if isinstance(value, list) else []
        if value or key in _ALWAYS.get(group, ()):
            out[key] = value
    return out


def _go_json(value: Any) -> str:
    """encoding/json.Marshal: compact, map keys sorted, HTML-safe escapes, Go's float format."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return _go_string(value)
    if isinstance(value, list):
        return "[" + ",".join(_go_json(v) for v in value) + "]"
    if isinstance(value, dict):
        items = value.items() if _is_struct(value) else sorted(((str(k), v) for k, v in value.items()), key=_first)
        return "{" + ",".join(f"{_go_string(str(k))}:{_go_json(v)}" for k, v in items) + "}"
    # Dates and the like can only come from import-values; Go's YAML hands them over as their text.
    return _go_string(str(value))


_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _first(item: tuple[str, Any]) -> str:
    return item[0]


def _go_string(text: str) -> str:
    out = ['"']
    for c in text:
        code = ord(c)
        if c in _JSON_ESCAPES:
            out.append(_JSON_ESCAPES[c])
        elif code < 0x20 or c in "<>&" or code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _go_float(number: float) -> str:
    if number != number or number in (float("inf"), float("-inf")):
        raise ReleaseError(f"Chart.yaml holds {number!r}, which helm cannot write as JSON")
    magnitude = abs(number)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        text = repr(number)
        if re.search(r"e-0\d$", text):
            text = text[:-2] + text[-1]
        return text
    text = format(Decimal(repr(number)), "f")
    return text[:-2] if text.endswith(".0") else text


# --- .helmignore: pkg/ignore/rules.go ----------------------------------------------------------------------


class _BadPattern(Exception):
    """Go's filepath.ErrBadPattern."""


@dataclass(frozen=True)
class _Rule:
    pattern: str
    negate: bool
    must_dir: bool
    whole_path: bool  # a rule with a '/' (or a leading one) matches the whole relative path, else the base name

    def matches(self, path: str) -> bool:
        try:
            return _go_match(self.pattern, path if self.whole_path else _go_base(path))
        except _BadPattern:
            return False  # rules.go logs "failed to compile" and treats it as no match


def _go_base(path: str) -> str:
    """Go's filepath.Base: the last element, trailing slashes dropped."""
    stripped = path.rstrip("/")
    if not stripped:
        return "/" if path else "."
    return stripped.rsplit("/", 1)[-1]


def _go_trim_space(text: str) -> str:
    start, end = 0, len(text)
    while start < end and text[start] in _GO_SPACE:
        start += 1
    while end > start and text[end - 1] in _GO_SPACE:
        end -= 1
    return text[start:end]


def _parse_ignore(data: bytes, where: str, *, defaults: bool = True) -> list[_Rule]:
    """rules.go Parse + AddDefaults (the default `templates/.?*` goes last)."""
    text = _decode(_strip_bom(data), where)
    lines = [(number, line) for number, line in enumerate(text.split("\n"), start=1)]
    if defaults:
        lines.append((0, "templates/.?*"))
    rules = []
    for number, line in lines:
        rule = _go_trim_space(line.removesuffix("\r"))
        if not rule or rule.startswith("#"):
            continue
        if "**" in rule:
            raise ReleaseError(
                f"{where}:{number}: helm does not support '**' in {HELMIGNORE} ({rule})",
                "match one level with '*', or a whole directory with 'dir/'",
            )
        try:
            _go_match(rule, "abc")  # rules.go compiles every rule once against "abc"
        except _BadPattern:
            raise ReleaseError(
                f"{where}:{number}: {rule!r} is not a valid pattern", "check its [ ] and \\ escapes"
            ) from None
        negate = rule.startswith("!")
        rule = rule.removeprefix("!")
        must_dir = rule.endswith("/")
        rule = rule.removesuffix("/")
        if rule.startswith("/"):
            rules.append(_Rule(rule[1:], negate, must_dir, True))
        else:
            rules.append(_Rule(rule, negate, must_dir, "/" in rule))
    return rules


def _ignored(rules: Sequence[_Rule], path: str, is_dir: bool) -> bool:
    """rules.go Ignore, quirks included: a negated rule ignores every path it does *not* match (so `!x.txt`
    on its own ignores everything else), and a negated directory rule ignores every file."""
    if path in ("", ".", "./"):
        return False
    for rule in rules:
        if rule.negate:
            if rule.must_dir and not is_dir:
                return True
            if not rule.matches(path):
                return True
            continue
        if rule.must_dir and not is_dir:
            continue
        if rule.matches(path):
            return True
    return False


def _go_match(pattern: str, name: str) -> bool:
    """Go's path/filepath.Match on '/': '*' and '?' never cross '/', '[^…]' negates, '\\' escapes, no '**'."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return "/" not in name
        rest, ok, bad = _match_chunk(chunk, name)
        if ok and (not rest or pattern):
            name = rest
            continue
        if bad:
            raise _BadPattern(chunk)
        if star:
            matched = False
            i = 0
            while i < len(name) and name[i] != "/":
                rest, ok, bad = _match_chunk(chunk, name[i + 1 :])
                if ok:
                    if not pattern and rest:
                        i += 1
                        continue
                    name = rest
                    matched = True
                    break
                if bad:
                    raise _BadPattern(chunk)
                i += 1
            if matched:
                continue
        return False
    return not name


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    star = False
    while pattern.startswith("*"):
        pattern = pattern[1:]
        star = True
    in_range = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 < len(pattern):
                i += 1
        elif c == "[":
            in_range = True
        elif c == "]":
            in_range = False
        elif c == "*" and not in_range:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _match_chunk(chunk: str, s: str) -> tuple[str, bool, bool]:
    """Returns (rest of s, matched, bad pattern), like Go's matchChunk."""
    while chunk:
        if not s:
            return "", False, False
        head = chunk[0]
        if head == "[":
            r, s = s[0], s[1:]
            chunk = chunk[1:]
            if not chunk:
                return "", False, True
            negated = chunk[0] == "^"
            if negated:
                chunk = chunk[1:]
            match = False
            ranges = 0
            while True:
                if chunk and chunk[0] == "]" and ranges > 0:
                    chunk = chunk[1:]
                    break
                lo, chunk, bad = _get_esc(chunk)
                if bad:
                    return "", False, True
                hi = lo
                if chunk[0] == "-":
                    hi, chunk, bad = _get_esc(chunk[1:])
                    if bad:
                        return "", False, True
                if lo <= r <= hi:
                    match = True
                ranges += 1
            if match == negated:
                return "", False, False
        elif head == "?":
            if s[0] == "/":
                return "", False, False
            s, chunk = s[1:], chunk[1:]
        else:
            if head == "\\":
                chunk = chunk[1:]
                if not chunk:
                    return "", False, True
            if chunk[0] != s[0]:
                return "", False, False
            s, chunk = s[1:], chunk[1:]
    return s, True, False


def _get_esc(chunk: str) -> tuple[str, str, bool]:
    if not chunk or chunk[0] in "-]":
        return "", chunk, True
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            return "", chunk, True
    rest = chunk[1:]
    return chunk[0], rest, not rest


# --- the walk: directory.go LoadDir over internal/sympath/walk.go ----------------------------------------


def _override_key(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise ReleaseError(f"override path {key!r} is not a file name")
    if key.startswith(("/", "\\")) or re.match(r"[A-Za-z]:[/\\]", key):
        raise ReleaseError(f"override path {key!r} is absolute", "name files relative to the chart directory")
    parts = PurePosixPath(key).parts
    if any(part in ("..", ".") for part in key.split("/")) or not parts:
        raise ReleaseError(f"override path {key!r} leaves or names the chart directory", "e.g. values.yaml")
    return "/".join(parts)


def _check_name(root: Path, rel: str) -> None:
    """Names helm's archive loader would read as another path: a backslash is a separator to it (a file
    `a\\..\\..\\x` would leave the chart), and a first folder `c:` makes a Windows drive path."""
    if "\\" in rel:
        raise ReleaseError(
            f"{root}/{rel}: a backslash in a file name; helm reads it as a path separator", "rename the file"
        )
    if _DRIVE.match(rel):
        raise ReleaseError(f"{root}/{rel}: helm reads {rel.split('/')[0]!r} as a Windows drive", "rename it")


def _collect(root: Path, rules: Sequence[_Rule], warn: Callable[[str], None]) -> dict[str, bytes]:
    """Every file helm's LoadDir would load, by chart-relative path, read through symlinks."""
    walk = _Walk(root, os.path.realpath(root), rules, warn)
    walk.directory(walk.root_real, "", frozenset({walk.root_real}))
    return walk.found


@dataclass
class _Walk:
    """One LoadDir walk over a chart directory: what it has loaded so far, and how many bytes that is."""

    root: Path
    root_real: str
    rules: Sequence[_Rule]
    warn: Callable[[str], None]
    found: dict[str, bytes] = field(default_factory=dict)
    total: int = 0

    def directory(self, directory: str, rel: str, active: frozenset[str]) -> None:
        """Load `directory` (chart-relative `rel`, ending in '/') in lexical order; `active` holds the real
        paths of the directories being walked, to catch a symlink that loops back into one of them."""
        for name in sorted(os.listdir(directory)):
            if any(0xDC80 <= ord(c) <= 0xDCFF for c in name):
                raise ReleaseError(f"{self.root}/{rel}{name!r}: file name is not UTF-8", "rename it")
            path = f"{rel}{name}"
            entry = self._resolve(os.path.join(directory, name), path)
            if entry is None:
                continue
            target, info, link = entry
            if stat.S_ISDIR(info.st_mode):
                self._enter(path, target, link, active)
            elif not _ignored(self.rules, path, False):
                self._load(path, target, info, link)

    def _resolve(self, full: str, path: str) -> tuple[str, os.stat_result, str | None] | None:
        """What the entry at `full` stands for: (file to read, its stat, the link's text if it is a symlink).

        sympath.Walk follows links and loads their target under the link's own name. None for a link out of
        the chart that .helmignore leaves out anyway.
        """
        info = os.lstat(full)
        if not stat.S_ISLNK(info.st_mode):
            return full, info, None
        link = os.readlink(full)
        target = os.path.realpath(full)
        try:
            info = os.stat(target)
        except OSError as error:
            why = "a symlink loop" if error.errno == errno.ELOOP else "which does not exist"
            raise ReleaseError(f"{self.root}/{path}: symlink to {link!r}, {why}", "fix or remove the link") from None
        if not _inside(target, self.root_real):
            if _ignored(self.rules, path, stat.S_ISDIR(info.st_mode)):
                return None
            raise ReleaseError(
                f"{self.root}/{path}: symlink leaves the chart directory ({os.readlink(full)!r})",
                f"copy the file into the chart, or list it in {HELMIGNORE}",
            )
        return target, info, link

    def _enter(self, path: str, target: str, link: str | None, active: frozenset[str]) -> None:
        """Walk a subdirectory (or a symlink to one), unless .helmignore leaves it out."""
        if _ignored(self.rules, path, True):
            return  # LoadDir skips an ignored directory whole
        real = os.path.realpath(target)
        if real in active:
            raise ReleaseError(f"{self.root}/{path}: symlink loop back to {real}", "remove the link")
        if link is not None:
            self.warn(
                f"warning: {self.root}/{path}: symlink to {link!r}; its files are packaged in its place (as helm)"
            )
        self.directory(target, f"{path}/", active | {real})

    def _load(self, path: str, target: str, info: os.stat_result, link: str | None) -> None:
        """Read one file the chart keeps, refusing what helm refuses: special files and oversized ones."""
        if not stat.S_ISREG(info.st_mode):
            raise ReleaseError(
                f"{self.root}/{path}: not a regular file (a socket, pipe or device); helm refuses it",
                f"remove it, or list it in {HELMIGNORE}",
            )
        if info.st_size > MAX_FILE_SIZE:
            raise ReleaseError(
                f"{self.root}/{path}: {info.st_size} bytes, over helm's {MAX_FILE_SIZE}-byte limit for one chart file",
                f"add it to {HELMIGNORE}",
            )
        if link is not None:
            self.warn(
                f"warning: {self.root}/{path}: symlink to {link!r}; its content is packaged in its place (as helm)"
            )
        with open(target, "rb") as handle:
            data = handle.read(MAX_FILE_SIZE + 1)  # it may have grown since the stat
        self.total += len(data)
        if len(data) > MAX_FILE_SIZE or self.total > 2 * MAX_CHART_SIZE:  # package() checks the exact limits
            raise ReleaseError(
                f"{self.root}/{path}: over helm's limits ({MAX_FILE_SIZE} bytes a file, {MAX_CHART_SIZE} in all)",
                f"leave large files out with {HELMIGNORE}",
            )
        self.found[path] = data


def inside(path: Path, root: Path) -> bool:
    """`path`, symlinks resolved, is `root` or below it."""
    return _inside(os.path.realpath(path), os.path.realpath(root))


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def ignored(root: Path, rel: str) -> bool:
    """True when the chart's .helmignore leaves the file `rel` out of the archive."""
    return _ignored(_ignore_rules(Path(root), {}), rel, False)


def _check_new_file(root: Path, rel: str, rules: Sequence[_Rule]) -> None:
    """An override for a file that is not in the walk: fine if it is new, an error if helm would leave it out."""
    if os.path.lexists(root / rel):
        raise ReleaseError(
            f"{root}/{rel} is overridden but {HELMIGNORE} (or its type) leaves it out of the chart",
            f"remove the {HELMIGNORE} rule, or override another file",
        )
    parts = rel.split("/")
    for depth in range(1, len(parts)):
        parent = "/".join(parts[:depth])
        if (root / parent).exists() and not (root / parent).is_dir():
            raise ReleaseError(f"override {rel}: {root}/{parent} is a file, not a directory")
        if _ignored(rules, parent, True):
            raise ReleaseError(f"override {rel}: {HELMIGNORE} leaves out {parent}/", "override another file")
    if _ignored(rules, rel, False):
        raise ReleaseError(f"override {rel}: {HELMIGNORE} leaves it out of the chart", "override another file")


def _strip_bom(data: bytes) -> bytes:
    # directory.go and archive.go strip a UTF-8 BOM from every file they load.
    return data[len(_UTF8_BOM) :] if data.startswith(_UTF8_BOM) else data


# --- layout: load.go LoadFiles + save.go writeTarContents --------------------------------------------------


def _arrange(files: Mapping[str, bytes], where: str, *, top: bool) -> tuple[ChartMeta, list[tuple[str, bytes]]]:
    """One chart's files (walk order, chart-relative) → its metadata and its entries in helm's order."""
    if "Chart.yaml" not in files:
        raise ReleaseError(f"{where}/Chart.yaml: missing", "a chart directory needs a Chart.yaml")
    meta = _parse_chart_yaml(files["Chart.yaml"], f"{where}/Chart.yaml")
    groups = _group(files, where, v1=meta.api_version == "v1")
    dependencies, names = _subchart_entries(groups.subcharts, where)
    if top:
        _check_dependencies(meta, groups.requirements, names, where)
    values = [(rel, groups.values[rel]) for rel in ("values.yaml", "values.schema.json") if rel in groups.values]
    return meta, groups.head + values + groups.templates + groups.others + dependencies


@dataclass
class _Groups:
    """A chart's files sorted into the groups writeTarContents writes one after the other."""

    head: list[tuple[str, bytes]]  # Chart.yaml, then Chart.lock
    values: dict[str, bytes] = field(default_factory=dict)  # values.yaml, values.schema.json
    templates: list[tuple[str, bytes]] = field(default_factory=list)
    others: list[tuple[str, bytes]] = field(default_factory=list)
    subcharts: dict[str, dict[str, bytes]] = field(default_factory=dict)  # charts/<directory> → its files
    requirements: Any = None  # requirements.yaml of a v1 chart, as parsed


def _group(files: Mapping[str, bytes], where: str, *, v1: bool) -> _Groups:
    """Sort a chart's files into helm's groups, checking the ones helm parses when it loads the chart."""
    groups = _Groups(head=[("Chart.yaml", files["Chart.yaml"])])
    for rel, data in files.items():
        if rel == "Chart.yaml":
            continue
        if rel == "Chart.lock":
            _load_yaml(data, f"{where}/{rel}", mapping=True)
            if not v1:  # save.go writes the lock of v2 charts only
                groups.head.append((rel, data))
        elif rel == "values.yaml":
            _load_values(data, f"{where}/{rel}")
            groups.values[rel] = data
        elif rel == "values.schema.json":
            _load_json(data, f"{where}/{rel}")  # save.go refuses a schema that is not valid JSON
            groups.values[rel] = data
        elif rel in ("requirements.yaml", "requirements.lock"):
            if not v1:
                raise ReleaseError(
                    f"{where}/{rel}: apiVersion v2 charts keep dependencies in Chart.yaml (and Chart.lock)",
                    "move them there; helm would rewrite Chart.yaml while packaging",
                )
            if rel == "requirements.yaml":
                groups.requirements = _load_yaml(data, f"{where}/{rel}", mapping=True)
            groups.others.append((rel, data))
        elif rel.startswith("templates/"):
            groups.templates.append((rel, data))
        elif rel.startswith("charts/") and not rel.endswith(".prov"):
            name, _, rest = rel[len("charts/") :].partition("/")
            groups.subcharts.setdefault(name, {})[rest] = data
        else:
            groups.others.append((rel, data))
    return groups


def _subchart_entries(
    subcharts: Mapping[str, Mapping[str, bytes]], where: str
) -> tuple[list[tuple[str, bytes]], dict[str, str]]:
    """Every subchart's entries, in name order, and which charts/ directory each subchart name came from."""
    entries: list[tuple[str, bytes]] = []
    names: dict[str, str] = {}
    for directory in sorted(subcharts):
        if directory.startswith(("_", ".")):
            continue  # load.go skips charts/_* and charts/.*: helm's own archive leaves them out
        name, sub_entries = _subchart(directory, subcharts[directory], f"{where}/charts/{directory}")
        if name in names:
            raise ReleaseError(f"{where}/charts: two subcharts named {name!r} ({names[name]}, {directory})", "keep one")
        names[name] = directory
        entries.extend(sub_entries)
    return entries, names


def _subchart(directory: str, content: Mapping[str, bytes], where: str) -> tuple[str, list[tuple[str, bytes]]]:
    """One entry of charts/ (a vendored archive or a chart directory) → its chart name and its entries."""
    if directory.endswith(".tgz"):
        if set(content) != {""}:
            raise ReleaseError(f"{where}: a directory named like a chart archive", "rename it")
        return _archive_chart_name(content[""], where), [(f"charts/{directory}", content[""])]
    inner = {rest: data for rest, data in content.items() if rest}
    if not inner:
        raise ReleaseError(
            f"{where}: not a subchart; helm loads everything in charts/ as one",
            f"move it elsewhere, or list it in {HELMIGNORE}",
        )
    meta, files = _arrange(inner, where, top=False)
    # writeTarContents names the folder after the subchart's Chart.yaml name, not its directory.
    return meta.name, [(f"charts/{meta.name}/{rel}", data) for rel, data in files]


def _check_dependencies(meta: ChartMeta, requirements: Any, names: Mapping[str, str], where: str) -> None:
    """pkg/action/package.go CheckDependencies: every declared dependency must be in charts/."""
    declared = list(meta.raw.get("dependencies") or [])
    if meta.api_version == "v1" and isinstance(requirements, dict):
        declared += list(requirements.get("dependencies") or [])
    missing = [d.get("name") for d in declared if isinstance(d, dict) and d.get("name") not in names]
    if missing:
        raise MissingDependencies(
            f"{where}/Chart.yaml: dependencies missing from charts/: {', '.join(map(str, missing))}",
            "give each a repository URL in Chart.yaml (release fetches them), or vendor them under charts/",
            [d for d in declared if isinstance(d, dict) and d.get("name") in missing],
        )


def _load_yaml(data: bytes, where: str, *, mapping: bool) -> Any:
    try:
        doc = yaml.load(_decode(data, where), Loader=SafeLoader)
    except yaml.YAMLError as error:
        raise ReleaseError(f"{where}: not valid YAML: {_yaml_problem(error)}") from None
    if mapping and not isinstance(doc, dict | None):
        raise ReleaseError(f"{where}: must be a YAML mapping")
    _check_json(doc, where)
    return doc


def _load_values(data: bytes, where: str) -> None:
    """load.go LoadValues: every YAML document must be a mapping (or empty)."""
    try:
        for doc in yaml.load_all(_decode(data, where), Loader=SafeLoader):
            if not isinstance(doc, dict | None):
                raise ReleaseError(f"{where}: every document must be a mapping of values")
            _check_json(doc, where)
    except yaml.YAMLError as error:
        raise ReleaseError(f"{where}: not valid YAML: {_yaml_problem(error)}") from None


def _load_json(data: bytes, where: str) -> None:
    def reject(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    try:
        json.loads(_decode(data, where), parse_constant=reject)
    except ValueError as error:
        raise ReleaseError(f"{where}: not valid JSON: {error}") from None
    except RecursionError:
        raise ReleaseError(f"{where}: nested too deeply to read") from None


def _archive_chart_name(data: bytes, where: str) -> str:
    """The name of a vendored chart archive, checked the way helm loads one (archive.go LoadArchiveFiles).

    Refused, naming the member: absolute names, `..`, drive letters, a file outside the chart's folder, links
    and devices (helm would load them as empty files; `tar -x` would follow them), and anything over helm's
    size limits. Archives nested under charts/ are checked the same way; one budget of MAX_CHART_SIZE
    (headers included) bounds the work across all of them, so a small archive cannot expand without end.
    """
    chart_yaml = _check_archive(data, where, [MAX_CHART_SIZE], depth=0)
    if chart_yaml is None:
        raise ReleaseError(f"{where}: no Chart.yaml at the top of the archive", _ARCHIVE_HINT)
    return _parse_chart_yaml(chart_yaml, f"{where}:Chart.yaml").name


_ARCHIVE_HINT = "remove it from charts/ and let release fetch it (`release chart deps` refreshes Chart.lock)"
_MAX_NESTING = 8


def _check_archive(data: bytes, where: str, budget: list[int], *, depth: int) -> bytes | None:
    """Check every member of a chart archive; return its top-level Chart.yaml (None when there is none)."""
    chart_yaml = None
    nested: list[tuple[str, bytes]] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive:
                rel = _archive_member(member, where)
                budget[0] -= 512 + max(member.size, 0)
                if member.size > MAX_FILE_SIZE or budget[0] <= 0:
                    raise ReleaseError(
                        f"{where}: member {member.name!r} is over helm's size limits for a chart archive "
                        f"({MAX_FILE_SIZE} bytes a file, {MAX_CHART_SIZE} in all)",
                        _ARCHIVE_HINT,
                    )
                if rel is None:
                    continue  # a directory entry
                if rel == "Chart.yaml" or (rel.startswith("charts/") and rel.endswith(".tgz")):
                    handle = archive.extractfile(member)
                    content = handle.read() if handle else b""
                    if rel == "Chart.yaml":
                        chart_yaml = content
                    elif rel.count("/") == 1:
                        nested.append((rel, content))
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise ReleaseError(f"{where}: not a gzipped chart archive ({error})", _ARCHIVE_HINT) from None
    for rel, content in nested:
        if depth >= _MAX_NESTING:
            raise ReleaseError(f"{where}: subchart archives nested more than {_MAX_NESTING} deep", _ARCHIVE_HINT)
        _check_archive(content, f"{where}:{rel}", budget, depth=depth + 1)
    return chart_yaml


_DRIVE = re.compile(r"[a-zA-Z]:[/\\]")


def _archive_member(member: tarfile.TarInfo, where: str) -> str | None:
    """A member's chart-relative name as helm computes it (the first folder dropped), or an error naming it."""
    name = member.name
    shown = f"{where}: member {name!r}"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise ReleaseError(f"{shown} has an absolute path", _ARCHIVE_HINT)
    parts = name.split("\\" if "\\" in name else "/")  # archive.go: a backslash means it was made on Windows
    if ".." in parts:
        raise ReleaseError(f"{shown} points outside the chart ('..')", _ARCHIVE_HINT)
    if member.issym() or member.islnk():
        kind = "a symbolic link" if member.issym() else "a hard link"
        raise ReleaseError(f"{shown} is {kind} to {member.linkname!r}; charts hold regular files only", _ARCHIVE_HINT)
    if member.isdir():
        return None
    if not member.isfile():
        raise ReleaseError(f"{shown} is a device, a pipe or another special file, not a regular file", _ARCHIVE_HINT)
    rel = "/".join(part for part in parts[1:] if part not in ("", "."))
    if not rel:
        raise ReleaseError(f"{shown} is not inside the chart's folder", _ARCHIVE_HINT)
    if _DRIVE.match(rel) or "/".join(parts[1:]).startswith("/"):
        raise ReleaseError(f"{shown} has an absolute path", _ARCHIVE_HINT)
    return rel


# --- bytes: Go's archive/tar and a fixed gzip -------------------------------------------------------------


def _tar_entry(name: str, data: bytes, mtime: int) -> bytes:
    """One regular file as Go's tar.Writer writes helm's headers (writer.go WriteHeader)."""
    pad = bytes(-len(data) % 512)
    split = _split_ustar(name)
    if name.isascii() and "\x00" not in name and (len(name.encode()) <= 100 or split):
        prefix, base = split or ("", name)
        return _header(base, prefix, len(data), mtime, b"0") + data + pad
    # PAX: a `path` record holds the name; the header's own name field gets what ASCII of it fits.
    record = _pax_record("path", name)
    directory, _, base = name.rpartition("/")
    pax_name = _ascii(f"{directory}/PaxHeaders.0/{base}" if directory else f"PaxHeaders.0/{base}")[:100].rstrip("/")
    pax = _header(pax_name, "", len(record), 0, b"x", raw=True) + record + bytes(-len(record) % 512)
    short = _ascii(name)
    return pax + _header(short if len(short) <= 100 else "", "", len(data), mtime, b"0") + data + pad


def _header(name: str, prefix: str, size: int, mtime: int, kind: bytes, *, raw: bool = False) -> bytes:
    block = bytearray(512)

    def put(offset: int, width: int, text: str) -> None:
        encoded = text.encode("ascii")
        block[offset : offset + len(encoded)] = encoded  # NUL-terminated when shorter: the block is zeroed

    def octal(offset: int, width: int, number: int) -> None:
        put(offset, width, format(number, "o").rjust(width - 1, "0"))

    put(0, 100, name)
    octal(100, 8, 0 if raw else 0o644)
    octal(108, 8, 0)
    octal(116, 8, 0)
    octal(124, 12, size)
    octal(136, 12, mtime)
    block[156:157] = kind
    block[257:265] = b"ustar\x0000"
    if not raw:  # writeRawFile (the PAX header) leaves devmajor/devminor empty
        octal(329, 8, 0)
        octal(337, 8, 0)
    put(345, 155, prefix)
    block[148:156] = b" " * 8  # the checksum counts its own field as spaces
    checksum = sum(block)
    block[148:156] = bytes(8)
    put(148, 7, format(checksum, "o").rjust(6, "0"))
    block[155:156] = b" "
    return bytes(block)


def _split_ustar(name: str) -> tuple[str, str] | None:
    """writer.go splitUSTARPath: a long ASCII name split at a '/' into prefix (≤155) and name (≤100)."""
    if len(name) <= 100 or not name.isascii():
        return None
    length = len(name)
    if length > 156:
        length = 156
    elif name[length - 1] == "/":
        length -= 1
    i = name.rfind("/", 0, length)
    suffix_length = len(name) - i - 1
    if i <= 0 or suffix_length > 100 or suffix_length == 0 or i > 155:
        return None
    return name[:i], name[i + 1 :]


def _pax_record(key: str, value: str) -> bytes:
    body = f" {key}={value}\n".encode()
    size = len(body) + len(str(len(body)))
    if len(str(size)) + len(body) != size:
        size = len(str(size)) + len(body)
    return str(size).encode() + body


def _ascii(text: str) -> str:
    return "".join(c for c in text if c.isascii() and c != "\x00")


def _gzip(data: bytes) -> bytes:
    """gzip with no name, no time (0) and a fixed deflate level, so the bytes depend on the content only."""
    compressor = zlib.compressobj(COMPRESSION_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, 8, zlib.Z_DEFAULT_STRATEGY)
    body = compressor.compress(data) + compressor.flush()
    # ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=2 (slowest, best) OS=255 (unknown), as Go and Python write it.
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
