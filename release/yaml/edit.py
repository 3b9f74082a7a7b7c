"""Byte-preserving YAML edits: only the edited value's bytes change.

Users' infra repos are hand-written (comments, quoting, anchors, Vault placeholders, several documents per
file), and re-serialising them rewrites bytes people care about. So nothing here dumps YAML: PyYAML's
composer finds the node and its marks (`.index` is a code-point offset into the very string we were given:
the reader neither decodes nor normalises CRLF for `str` input), and the new scalar is spliced into the
original text. A missing key is one inserted line at its parent's indentation.

Every edit is checked afterwards: the old and new texts are loaded, and the new data must equal the old
data with exactly the edited paths set (anchors and merge keys included), or EditVerificationError
(a bug here, never the user's fault) is raised.

Path syntax: dotted keys (`image.tag`, `spec.chart.spec.version`); a key holding dots is quoted
(`metadata.annotations."example.com/version"`) or escaped (`example\\.com/version`); list items by index,
`containers[0].image` or `containers.0.image`.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from release.errors import ReleaseError
from release.yaml.strict import SafeLoader

Segment = str | int  # str: a mapping key (or a list index written `.0`); int: an index written `[0]`

STR = "tag:yaml.org,2002:str"
NULL = "tag:yaml.org,2002:null"
MERGE = "tag:yaml.org,2002:merge"

PATH_HINT = 'write paths as a.b.c, "a.b" (or a\\.b) for a key with dots, a[0] or a.0 for list items'
CREATE_HINT = "set `create: true` to add it, or fix the path"
ANCHOR_HINT = (
    "set allow_anchor: true on the update to edit the anchored value itself, changing every place that uses it"
)
WHICH_DOC_HINT = "say which one with `document: N` (from 0) or `match: {kind: ..., metadata.name: ...}`"

# What PyYAML's reader refuses in a stream (its NON_PRINTABLE): such characters only exist escaped.
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_LINE_BREAKS = ("\n", "\r", "\x85", "\u2028", "\u2029")
_DOUBLE_QUOTE_ESCAPES = {
    "\0": "\\0", "\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r",
    "\x1b": "\\e", '"': '\\"', "\\": "\\\\", "\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P", "\ufeff": "\\uFEFF",
}  # fmt: skip

# Plain scalars PyYAML reads as strings but other readers do not: YAML 1.2 numbers (`1e3`, `0o17`) and
# YAML 1.1 booleans (`y`, `on`) as Go's yaml packages (Helm, Flux, Argo CD, kustomize) resolve them.
_TYPED_ELSEWHERE = re.compile(
    r"""~|null|Null|NULL
    |true|True|TRUE|false|False|FALSE|y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF
    |[-+]?(?:[0-9][0-9_]*|0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+)
    |[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)""",
    re.VERBOSE,
)
_INDEX = re.compile(r"[0-9]+")
_MAX_SIMPLE_KEY = 1024  # PyYAML refuses longer implicit keys


class EditVerificationError(AssertionError):
    """The edited text does not read back as intended: a bug in this module, not a user error."""


# --------------------------------------------------------------------------------------------- paths


def parse_path(path: str) -> tuple[Segment, ...]:
    """`a."b.c"[0].d` → ('a', 'b.c', 0, 'd')."""
    segments: list[Segment] = []
    i = 0
    while True:
        if path.startswith("[", i):
            index, i = _bracket_index(path, i)
            segments.append(index)
        else:
            key, i = _quoted_key(path, i) if path.startswith('"', i) else _plain_key(path, i)
            segments.append(key)
        if i == len(path):
            return tuple(segments)
        if path[i] == ".":
            i += 1
            if i == len(path):
                raise _bad_path(path, "it ends with a dot")
        elif path[i] != "[":
            raise _bad_path(path, f"unexpected {path[i]!r} after a quoted key")


def _bad_path(path: str, why: str) -> ReleaseError:
    return ReleaseError(f"bad path {path!r}: {why}", PATH_HINT)


def _bracket_index(path: str, i: int) -> tuple[int, int]:
    close = path.find("]", i)
    if close < 0 or not _INDEX.fullmatch(path[i + 1 : close]):
        raise _bad_path(path, "a list index is written [N] with N a number from 0")
    return int(path[i + 1 : close]), close + 1


def _quoted_key(path: str, i: int) -> tuple[str, int]:
    chars: list[str] = []
    i += 1
    while i < len(path):
        ch = path[i]
        if ch == '"':
            return "".join(chars), i + 1
        if ch == "\\" and i + 1 < len(path):
            i += 1
            ch = path[i]
        chars.append(ch)
        i += 1
    raise _bad_path(path, "a quoted key is not closed")


def _plain_key(path: str, i: int) -> tuple[str, int]:
    chars: list[str] = []
    while i < len(path) and path[i] not in ".[":
        if path[i] == "\\" and i + 1 < len(path):
            i += 1
        chars.append(path[i])
        i += 1
    if not chars:
        raise _bad_path(path, "it has an empty key")
    return "".join(chars), i


def _show(segments: Sequence[Segment]) -> str:
    """A path as a user writes it (for messages)."""
    out = ""
    for seg in segments:
        if isinstance(seg, int):
            out += f"[{seg}]"
            continue
        quoted = seg.replace("\\", "\\\\").replace('"', '\\"')
        text = f'"{quoted}"' if any(c in seg for c in '.["\\') else seg
        out += f".{text}" if out else text
    return out


# --------------------------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class _Tagged:
    """A value under a tag the safe schema does not know (`!Ref x`, `=`): still YAML, compared as is."""

    tag: str
    value: object


class _Loader(SafeLoader):
    """SafeLoader that keeps unknown tags as _Tagged: a custom tag is no reason to refuse a file."""


def _construct_unknown(loader: yaml.SafeLoader, node: yaml.Node) -> _Tagged:
    if isinstance(node, yaml.ScalarNode):
        return _Tagged(node.tag, loader.construct_scalar(node))
    if isinstance(node, yaml.SequenceNode):
        return _Tagged(node.tag, loader.construct_sequence(node, deep=True))
    assert isinstance(node, yaml.MappingNode)
    return _Tagged(node.tag, loader.construct_mapping(node, deep=True))


_Loader.add_constructor(None, _construct_unknown)


class _AliasNode(yaml.Node):
    """Where `*name` is used. PyYAML's composer hands back the anchored node itself; we need to know."""

    def __init__(self, target: yaml.Node, name: str, start: Any, end: Any) -> None:
        super().__init__(target.tag, target, start, end)
        self.name = name


@dataclass(frozen=True)
class _Props:
    """A node's written properties: `&anchor` and an explicit `!tag` (the composer drops both)."""

    anchor: str | None
    tag: str | None


class _Locator(_Loader):
    """Composes nodes, keeping alias uses and node properties visible."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.props: dict[int, _Props] = {}

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        node = super().compose_node(parent, index)
        assert node is not None
        if isinstance(event, yaml.AliasEvent):
            return _AliasNode(node, str(event.anchor), event.start_mark, event.end_mark)
        tag = getattr(event, "tag", None)
        if event.anchor is not None or tag is not None:
            self.props[id(node)] = _Props(event.anchor, tag)
        return node


@dataclass
class _Doc:
    root: yaml.Node
    number: int  # counting only real (non-empty) documents: what `document: N` means
    stream_index: int  # position among everything load_all yields, empty documents included
    props: dict[int, _Props]
    alias_uses: dict[int, list[_AliasNode]] = field(default_factory=dict)  # anchored node id → its aliases


def load_all(text: str, filename: str) -> list[Any]:
    try:
        return list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        raise _not_yaml(exc, text, filename) from None


def _compose(text: str, filename: str) -> list[_Doc]:
    """The real documents of `text`, with positions."""
    loader = _Locator(text)
    docs: list[_Doc] = []
    try:
        stream_index = 0
        while loader.check_node():
            root = loader.get_node()
            assert root is not None
            if not _is_empty(root):
                docs.append(_Doc(root, len(docs), stream_index, loader.props, _alias_uses(root)))
            stream_index += 1
    except yaml.YAMLError as exc:
        raise _not_yaml(exc, text, filename) from None
    finally:
        loader.dispose()
    return docs


def _is_empty(root: yaml.Node) -> bool:
    """An empty document (a bare `---`): load_all yields None for it, `document: N` does not count it."""
    return isinstance(root, yaml.ScalarNode) and root.tag == NULL and root.value == ""


def _not_yaml(exc: yaml.YAMLError, text: str, filename: str) -> ReleaseError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        index = mark.index if mark is not None else 0
        problem = exc.problem or exc.context or "unreadable"
    else:  # ReaderError: a character YAML does not allow
        index = getattr(exc, "position", 0)
        problem = "a character YAML does not allow"
    line = text.count("\n", 0, index) + 1
    if "{{" in text:
        hint = "it looks like a Go template ({{ ... }}): edit the values file it reads instead"
    else:
        hint = "fix the YAML at that line"
    return ReleaseError(f"{filename}:{line}: not YAML ({problem})", hint)


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, yaml.SequenceNode):
        yield from node.value


def _alias_uses(root: yaml.Node) -> dict[int, list[_AliasNode]]:
    uses: dict[int, list[_AliasNode]] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, _AliasNode):
            uses.setdefault(id(node.value), []).append(node)
        else:
            stack.extend(_children(node))
    return uses


def _deref(node: yaml.Node) -> yaml.Node:
    return node.value if isinstance(node, _AliasNode) else node


def _line(node: yaml.Node) -> int:
    """The 1-based line editors show. Mark.line also counts \x85, \u2028 and \u2029 as breaks (YAML 1.1)."""
    mark = node.start_mark
    buffer = mark.buffer  # for str input PyYAML keeps the whole text here
    return (buffer.count("\n", 0, mark.index) if isinstance(buffer, str) else int(mark.line)) + 1


def _is_flow(node: yaml.Node) -> bool:
    return isinstance(node, yaml.CollectionNode) and bool(node.flow_style)


# --------------------------------------------------------------------------------------------- walking


@dataclass
class _Step:
    holder: yaml.Node  # the mapping or sequence (aliases followed) that holds `child`
    key: yaml.Node | int  # key node, or index
    child: yaml.Node  # as written there: maybe an _AliasNode


@dataclass
class _Walk:
    steps: list[_Step]
    node: yaml.Node | None  # the addressed node (aliases followed), None when missing
    missing: tuple[Segment, ...]  # the segments not found, from the first missing one
    last: yaml.Node  # the deepest node found (aliases followed)
    through: _AliasNode | None  # the first alias the path goes through
    shared: yaml.Node | None  # the deepest node on the path that is anchored and used again


def _walk(doc: _Doc, segments: Sequence[Segment], filename: str) -> _Walk:
    node = doc.root
    steps: list[_Step] = []
    through: _AliasNode | None = None
    shared: yaml.Node | None = None
    for i, seg in enumerate(segments):
        if isinstance(node, _AliasNode):
            through = through or node
            node = node.value
        if id(node) in doc.alias_uses:
            shared = node  # the deepest shared node names the most specific anchor
        hit = _child(node, seg, segments[: i + 1], filename)
        if hit is None:
            return _Walk(steps, None, tuple(segments[i:]), node, through, shared)
        key, child, via = hit
        through = through or via
        steps.append(_Step(node, key, child))
        node = child
    if isinstance(node, _AliasNode):
        through = through or node
        node = node.value
    if id(node) in doc.alias_uses:
        shared = node
    return _Walk(steps, node, (), node, through, shared)


def _child(
    node: yaml.Node, seg: Segment, upto: Sequence[Segment], filename: str
) -> tuple[yaml.Node | int, yaml.Node, _AliasNode | None] | None:
    plain = {"SequenceNode": "tag:yaml.org,2002:seq", "MappingNode": "tag:yaml.org,2002:map"}.get(type(node).__name__)
    if plain and str(node.tag).startswith("tag:yaml.org,2002:") and node.tag != plain:  # `!!set {a: null}`
        shown = str(node.tag).replace("tag:yaml.org,2002:", "!!")
        raise ReleaseError(
            f"{filename}:{_line(node)}: {_show(upto[:-1]) or 'the document'} is tagged {shown}, which release "
            "does not edit inside",
            "drop the tag to make it a plain mapping or list, or edit the file by hand",
        )
    if isinstance(node, yaml.SequenceNode):
        index = seg if isinstance(seg, int) else int(seg) if _INDEX.fullmatch(seg) else None
        if index is None or index >= len(node.value):
            return None
        return index, node.value[index], None
    if isinstance(node, yaml.MappingNode) and isinstance(seg, str):
        return _lookup(node, seg, upto, filename)
    return None


def _lookup(
    mapping: yaml.MappingNode, key: str, upto: Sequence[Segment], filename: str
) -> tuple[yaml.Node, yaml.Node, _AliasNode | None] | None:
    """The entry for `key`: the mapping's own first, then its merge keys (`<<`) as PyYAML applies them."""
    own = [(k, v) for k, v in mapping.value if _is_key(k, key)]
    if len(own) > 1:
        raise ReleaseError(
            f"{filename}: {_show(upto)} is written {len(own)} times (lines {', '.join(str(_line(k)) for k, _ in own)})",
            "remove the duplicates: YAML readers disagree on which one wins",
        )
    if own:
        return own[0][0], own[0][1], None
    merges = [v for k, v in mapping.value if isinstance(k, yaml.ScalarNode) and k.tag == MERGE]
    for value in reversed(merges):  # PyYAML: a later `<<` wins over an earlier one
        for source in _merge_sources(value):
            merged = _deref(source)
            assert isinstance(merged, yaml.MappingNode)
            hit = _lookup(merged, key, upto, filename)
            if hit is not None:
                via = hit[2] or (source if isinstance(source, _AliasNode) else None)
                via = via or (value if isinstance(value, _AliasNode) else None)
                return hit[0], hit[1], via
    return None


def _is_key(node: yaml.Node, key: str) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag != MERGE and node.value == key


def _merge_sources(value: yaml.Node) -> list[yaml.Node]:
    """The mappings a `<<` value merges, first one winning."""
    target = _deref(value)
    if isinstance(target, yaml.SequenceNode):
        return [item for item in target.value if isinstance(_deref(item), yaml.MappingNode)]
    return [value] if isinstance(target, yaml.MappingNode) else []


def _refuse_shared(walk: _Walk, doc: _Doc, path: str, filename: str) -> None:
    """Editing through an alias, or an anchored node used elsewhere, changes other places too."""
    if walk.through is not None:
        alias = walk.through
        raise ReleaseError(
            f"{filename}: {path} is reached through the alias *{alias.name} (line {_line(alias)}): the value lives"
            f" at the anchor &{alias.name} (line {_line(alias.value)}), and editing it changes every place using it",
            ANCHOR_HINT,
        )
    if walk.shared is not None:
        anchored = walk.shared
        props = doc.props.get(id(anchored))
        name = props.anchor if props and props.anchor else "?"
        what = "is the anchor" if anchored is walk.node else "is inside the anchor"
        uses = sorted({_line(a) for a in doc.alias_uses[id(anchored)]})
        lines = ("line " if len(uses) == 1 else "lines ") + ", ".join(map(str, uses))
        raise ReleaseError(
            f"{filename}: {path} {what} &{name} (line {_line(anchored)}), also used at {lines}:"
            " editing it changes those places too",
            ANCHOR_HINT,
        )


# --------------------------------------------------------------------------------------------- rendering


def _render(value: str, style: str | None, flow: bool) -> str:
    """`value` as a scalar that reads back as this string, keeping the old quote style where possible."""
    if style == '"':
        return _double_quoted(value)
    if style == "'":
        return _single_quoted(value) if _single_quote_ok(value) else _double_quoted(value)
    return value if _plain_ok(value, flow=flow) else _double_quoted(value)


def _render_key(key: str, flow: bool) -> str:
    text = key if _plain_ok(key, flow=flow, as_key=True) else _double_quoted(key)
    if len(text) > _MAX_SIMPLE_KEY:
        raise ReleaseError(f"key {key[:40]!r}... is too long to write as a YAML key", "use a shorter key")
    return text


def _double_quoted(value: str) -> str:
    out = []
    for ch in value:
        if ch in _DOUBLE_QUOTE_ESCAPES:
            out.append(_DOUBLE_QUOTE_ESCAPES[ch])
        elif _NON_PRINTABLE.match(ch):
            code = ord(ch)
            out.append(f"\\x{code:02X}" if code <= 0xFF else f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _single_quote_ok(value: str) -> bool:
    # a line break inside single quotes folds into a space; non-printables cannot be escaped there
    return not any(c in value for c in (*_LINE_BREAKS, "\ufeff")) and not _NON_PRINTABLE.search(value)


def _single_quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _plain_ok(value: str, *, flow: bool, as_key: bool = False) -> bool:
    """Whether `value` unquoted reads back as this very string, in PyYAML and in Go's YAML readers."""
    if not value or value.strip() != value or _TYPED_ELSEWHERE.fullmatch(value):
        return False
    if any(c in value for c in (*_LINE_BREAKS, "\t", "\ufeff")) or _NON_PRINTABLE.search(value):
        return False
    if as_key:
        probes: list[tuple[str, object]] = [(f"{value}: v\n", {value: "v"})]
        if flow:
            probes.append((f"{{{value}: v}}\n", {value: "v"}))
    else:
        probes = [(f"k: {value}\n", {"k": value})]
        if flow:
            probes += [(f"[{value}]\n", [value]), (f"{{k: {value}}}\n", {"k": value})]
    return all(_reads_as(text, expected) for text, expected in probes)


def _reads_as(text: str, expected: object) -> bool:
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError:
        return False
    if isinstance(expected, dict) and isinstance(data, dict):
        return list(data.items()) == list(expected.items()) and all(type(v) is str for v in data.values())
    return data == expected and isinstance(data, list) and type(data[0]) is str


# --------------------------------------------------------------------------------------------- text surgery


def _eol(text: str) -> str:
    return "\r\n" if text.count("\r\n") * 2 > text.count("\n") else "\n"


def _scalar_start(text: str, node: yaml.ScalarNode, props: _Props | None) -> int:
    """Where the scalar itself starts: a node's span includes its `&anchor` and `!tag`."""
    i: int = node.start_mark.index
    end: int = node.end_mark.index
    if props is None:
        return i
    while i < end and text[i] in "&!":
        while i < end and text[i] not in " \t\r\n":
            i += 1
        while i < end and (text[i] in " \t\r\n" or text[i] == "#"):
            newline = text.find("\n", i) if text[i] == "#" else i
            i = end if newline < 0 else newline + 1
    return i


def _subtree_end(node: yaml.Node) -> int:
    """Where a node's own text ends. Block collections' end marks point at the next token (after comments)."""
    while isinstance(node, yaml.CollectionNode) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    return int(node.end_mark.index)


def _after_line(text: str, index: int) -> int:
    """The start of the line after the one holding `index` (block scalars already end at a line start)."""
    if index > 0 and text[index - 1] == "\n":
        return index
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


def _insert_lines(text: str, at: int, lines: Sequence[str]) -> str:
    eol = _eol(text)
    block = eol.join(lines)
    if at >= len(text) and text and not text.endswith("\n"):
        return text + eol + block  # the file had no final newline: it still has none
    return text[:at] + block + eol + text[at:]


def _column(text: str, index: int) -> int:
    return index - (text.rfind("\n", 0, index) + 1)


def _key_column(text: str, key: yaml.Node) -> int:
    """The column a block mapping's keys line up at: the key's own, or its `?` indicator's for an explicit key."""
    before = text[: int(key.start_mark.index)].rstrip(" \t")
    if before.endswith("?") and (len(before) == 1 or before[-2] in " \t\r\n"):
        return _column(text, len(before) - 1)
    return int(key.start_mark.column)


def _indent_step(doc: _Doc) -> int:
    """How far the file indents a nested mapping (2 unless it shows otherwise)."""
    stack = [doc.root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode) and not node.flow_style:
            for key, value in node.value:
                if isinstance(value, yaml.MappingNode) and not value.flow_style and value.value:
                    step = int(value.value[0][0].start_mark.column) - int(key.start_mark.column)
                    if step > 0:
                        return step
        if not isinstance(node, _AliasNode):
            stack.extend(reversed(list(_children(node))))
    return 2


def _nested_lines(keys: Sequence[str], value: str, indent: int, step: int) -> list[str]:
    lines = [" " * (indent + depth * step) + _render_key(key, flow=False) + ":" for depth, key in enumerate(keys)]
    lines[-1] += " " + _render(value, None, flow=False)
    return lines


def _flow_entry(keys: Sequence[str], value: str) -> str:
    inner = _render(value, None, flow=True)
    for key in reversed(keys[1:]):
        inner = "{" + _render_key(key, flow=True) + ": " + inner + "}"
    return _render_key(keys[0], flow=True) + ": " + inner


# --------------------------------------------------------------------------------------------- edits


def _edit(
    text: str, doc: _Doc, segments: tuple[Segment, ...], value: str, *, create: bool, allow_anchor: bool, filename: str
) -> str:
    path = _show(segments)
    walk = _walk(doc, segments, filename)
    if not allow_anchor:
        _refuse_shared(walk, doc, path, filename)
    if walk.node is not None:
        flow = bool(walk.steps) and _is_flow(walk.steps[-1].holder)
        key = walk.steps[-1].key if walk.steps else None
        colon = True  # `{a, b: 1}`: a's null value comes with no `:` to write it after
        if isinstance(key, yaml.Node):
            colon = ":" in text[int(key.end_mark.index) : int(walk.steps[-1].child.start_mark.index)]
        return _replace_scalar(text, doc, walk.node, value, flow=flow, path=path, filename=filename, colon=colon)
    if not create:
        raise ReleaseError(f"{filename}: no {path} ({_why_missing(walk, segments)})", CREATE_HINT)
    return _create(text, doc, walk, segments, value, filename=filename)


def _why_missing(walk: _Walk, segments: Sequence[Segment]) -> str:
    found = segments[: len(segments) - len(walk.missing)]
    where = _show(found) if found else "the top level"
    node, seg = walk.last, walk.missing[0]
    if isinstance(node, yaml.SequenceNode):
        return f"{where} is a list of {len(node.value)} item(s); there is no item {seg}"
    if isinstance(node, yaml.MappingNode):
        return f"{where} has no key {seg!r}" if isinstance(seg, str) else f"{where} is a mapping, not a list"
    shown = "null" if node.tag == NULL else repr(node.value)
    return f"{where} is a single value ({shown}), not a mapping"


def _replace_scalar(
    text: str, doc: _Doc, node: yaml.Node, value: str, *, flow: bool, path: str, filename: str, colon: bool = True
) -> str:
    if not isinstance(node, yaml.ScalarNode):
        kind = "mapping" if isinstance(node, yaml.MappingNode) else "list"
        raise ReleaseError(
            f"{filename}:{_line(node)}: {path} is a {kind}, not a single value", "address a value inside it"
        )
    if node.style in ("|", ">"):
        raise ReleaseError(
            f"{filename}:{_line(node)}: {path} is a block scalar ({node.style}); it is not edited in place",
            "make it a one-line value first",
        )
    props = doc.props.get(id(node))
    if props is not None and props.tag is not None and node.tag != STR:
        raise ReleaseError(
            f"{filename}:{_line(node)}: {path} has the explicit tag {props.tag}; only plain or !!str values are edited",
            "remove the tag, or edit this value by hand",
        )
    if node.tag == STR and node.value == value:
        return text  # already there: not a byte changes
    start, end = _scalar_start(text, node, props), int(node.end_mark.index)
    new = _render(value, node.style or None, flow)
    if not colon:  # a key written without `:` (`{a, b: 1}`, `? a`): its null value has no text of its own
        if not flow:
            raise ReleaseError(f"{filename}:{_line(node)}: {path} has no ':'", "write it as `key: value` first")
        new = ": " + new
    elif start == end and text[start - 1 : start] not in (" ", "\t"):
        new = " " + new  # an empty value (`key:`) sits right after the colon
    return text[:start] + new + text[end:]


def _create(text: str, doc: _Doc, walk: _Walk, segments: Sequence[Segment], value: str, *, filename: str) -> str:
    path = _show(segments)
    keys = [seg for seg in walk.missing if isinstance(seg, str)]
    parent = walk.last
    if len(keys) != len(walk.missing) or isinstance(parent, yaml.SequenceNode):
        raise ReleaseError(
            f"{filename}: no {path} ({_why_missing(walk, segments)})",
            "create adds mapping keys, not list items: add the item by hand",
        )
    if isinstance(parent, yaml.MappingNode) and parent.flow_style:
        return _create_in_flow(text, parent, keys, value)
    if isinstance(parent, yaml.MappingNode):
        indent = _key_column(text, parent.value[0][0])
        at = _after_line(text, _subtree_end(parent.value[-1][1]))
        return _insert_lines(text, at, _nested_lines(keys, value, indent, _indent_step(doc)))
    step = walk.steps[-1] if walk.steps else None
    empty = isinstance(parent, yaml.ScalarNode) and parent.tag == NULL and parent.value == ""
    if empty and step is not None and isinstance(step.key, yaml.Node) and not _is_flow(step.holder):
        indent = _key_column(text, step.key) + _indent_step(doc)
        at = _after_line(text, int(parent.end_mark.index))
        return _insert_lines(text, at, _nested_lines(keys, value, indent, _indent_step(doc)))
    raise ReleaseError(
        f"{filename}: cannot create {path} ({_why_missing(walk, segments)})", "make the parent a mapping first"
    )


def _create_in_flow(text: str, mapping: yaml.MappingNode, keys: Sequence[str], value: str) -> str:
    entry = _flow_entry(keys, value)
    if mapping.value:
        at = int(mapping.value[-1][1].end_mark.index)
        return text[:at] + ", " + entry + text[at:]
    close = int(mapping.end_mark.index) - 1  # `{}`: the end mark is just past the brace
    return text[:close] + entry + text[close:]


# --------------------------------------------------------------------------------------------- documents


def _choose(
    docs: list[_Doc],
    paths: Sequence[tuple[Segment, ...]],
    document: int | None,
    match: Mapping[str, str] | None,
    filename: str,
) -> _Doc | None:
    """The document to edit; None when several documents qualify and none holds any of the paths."""
    candidates = docs
    if document is not None:
        if not 0 <= document < len(docs):
            raise ReleaseError(
                f"{filename}: there is no document {document} (the file has {len(docs)})", "documents count from 0"
            )
        candidates = [docs[document]]
    if match:
        candidates = [d for d in candidates if _matches(d, match, filename)]
        wanted = ", ".join(f"{k}={v}" for k, v in match.items())
        if len(candidates) != 1:
            found = "no document matches" if not candidates else f"{len(candidates)} documents match"
            seen = "; ".join(_describe(d, filename) for d in docs)
            raise ReleaseError(f"{filename}: {found} {wanted} (documents: {seen})", "adjust `match:`")
        return candidates[0]
    if len(candidates) == 1:
        return candidates[0]
    having = [d for d in candidates if any(_walk(d, p, filename).node is not None for p in paths)]
    if len(having) > 1:
        shown = ", ".join(_show(p) for p in paths)
        numbers = ", ".join(str(d.number) for d in having)
        raise ReleaseError(f"{filename}: {shown} is in documents {numbers}", WHICH_DOC_HINT)
    return having[0] if having else None


def _matches(doc: _Doc, match: Mapping[str, str], filename: str) -> bool:
    for path, expected in match.items():
        node = _walk(doc, parse_path(path), filename).node
        if not isinstance(node, yaml.ScalarNode) or node.value != str(expected):
            return False
    return True


def _describe(doc: _Doc, filename: str) -> str:
    parts = [_scalar_at(doc, ("kind",), filename), _scalar_at(doc, ("metadata", "name"), filename)]
    return f"{doc.number}: " + "/".join(p for p in parts if p) if any(parts) else f"{doc.number}: -"


def _scalar_at(doc: _Doc, segments: Sequence[Segment], filename: str) -> str | None:
    node = _walk(doc, segments, filename).node
    return str(node.value) if isinstance(node, yaml.ScalarNode) else None


# --------------------------------------------------------------------------------------------- verification


_UNKNOWN = object()  # a path not checkable in plain data (non-string keys on the way)
_MISSING = object()


def _verify(
    old: str, new: str, stream_index: int, edits: Sequence[tuple[tuple[Segment, ...], str]], filename: str
) -> None:
    """New data == old data with the edits applied to the old node graph (so aliases and merges follow)."""
    expected = _expected_stream(old, stream_index, edits, filename)
    try:
        actual = list(yaml.load_all(new, Loader=_Loader))
    except yaml.YAMLError as exc:
        raise EditVerificationError(f"{filename}: the edited text is not YAML any more: {exc}") from None
    if not _same(expected, actual):
        raise EditVerificationError(f"{filename}: the edit changed more than {[_show(s) for s, _ in edits]}")
    for segments, value in edits:
        got = _data_at(actual[stream_index], segments)
        if got is not _UNKNOWN and (got != value or type(got) is not str):
            raise EditVerificationError(f"{filename}: {_show(segments)} reads back as {got!r}, not {value!r}")


def _roots(text: str) -> tuple[list[yaml.Node], dict[int, _Props]]:
    """Every document's root node, empty ones included (as load_all yields them), and the nodes' properties."""
    loader = _Locator(text)
    roots: list[yaml.Node] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            assert node is not None
            roots.append(node)
    finally:
        loader.dispose()
    return roots, loader.props


def _expected_stream(
    old: str, stream_index: int, edits: Sequence[tuple[tuple[Segment, ...], str]], filename: str
) -> list[Any]:
    roots, props = _roots(old)
    if stream_index == len(roots):  # the file had no document: the edits make the first one
        roots.append(yaml.MappingNode("tag:yaml.org,2002:map", []))
    elif _is_empty(roots[stream_index]):  # a bare `---`: the edits fill it
        roots[stream_index] = yaml.MappingNode("tag:yaml.org,2002:map", [])
    doc = _Doc(roots[stream_index], 0, stream_index, props, _alias_uses(roots[stream_index]))
    for segments, value in edits:
        _mutate(_walk(doc, segments, filename), value)
    constructor = _Loader("")
    return [constructor.construct_document(_dealias(root)) for root in roots]


def _mutate(walk: _Walk, value: str) -> None:
    if walk.node is not None:
        walk.node.value, walk.node.tag = value, STR
        return
    new: yaml.Node = yaml.ScalarNode(STR, value)
    for key in reversed(walk.missing[1:]):
        new = yaml.MappingNode("tag:yaml.org,2002:map", [(yaml.ScalarNode(STR, key), new)])
    entry = (yaml.ScalarNode(STR, walk.missing[0]), new)
    if isinstance(walk.last, yaml.MappingNode):
        walk.last.value.append(entry)
        return
    holder = walk.steps[-1].holder  # an empty value became a mapping
    holder.value = [
        (k, yaml.MappingNode("tag:yaml.org,2002:map", [entry]) if v is walk.steps[-1].child else v)
        for k, v in holder.value
    ]


def _dealias(root: yaml.Node) -> yaml.Node:
    """The node graph PyYAML's own composer makes: aliases replaced by the anchored nodes."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            node.value = [(_deref(k), _deref(v)) for k, v in node.value]
        elif isinstance(node, yaml.SequenceNode):
            node.value = [_deref(item) for item in node.value]
        stack.extend(_children(node))
    return root


def _data_at(data: Any, segments: Sequence[Segment]) -> Any:
    for seg in segments:
        while isinstance(data, _Tagged):  # `!Custom [a, b]`: the path goes on inside the tagged collection
            data = data.value
        if isinstance(data, dict):
            if seg in data:
                data = data[seg]
            elif any(not isinstance(k, str) for k in data):
                return _UNKNOWN
            else:
                return _MISSING
        elif isinstance(data, list) and (isinstance(seg, int) or _INDEX.fullmatch(seg)):
            index = int(seg)
            data = data[index] if index < len(data) else _MISSING
        else:
            return _MISSING
    return data


def _same(a: Any, b: Any, seen: set[tuple[int, int]] | None = None) -> bool:
    """Data equality where NaN equals NaN and recursive structures terminate."""
    seen = set() if seen is None else seen
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict | list | _Tagged):
        if (id(a), id(b)) in seen:
            return True
        seen.add((id(a), id(b)))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], seen) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y, seen) for x, y in zip(a, b, strict=True))
    if isinstance(a, _Tagged):
        return a.tag == b.tag and _same(a.value, b.value, seen)
    return bool(a == b)


# --------------------------------------------------------------------------------------------- public API


def set_values(
    text: str,
    edits: Mapping[str, str],
    *,
    document: int | None = None,
    match: Mapping[str, str] | None = None,
    create: bool = False,
    allow_anchor: bool = False,
    filename: str = "<yaml>",
) -> str:
    """`text` with each path in `edits` set to its string value, and no other byte changed.

    document/match pick one document of a multi-document file (else the only one holding the paths);
    create adds missing keys; allow_anchor edits an anchored value that other places share.
    """
    parsed = [(parse_path(path), _as_str(value, path)) for path, value in edits.items()]
    seen: dict[tuple[str, ...], str] = {}
    for (segments, _), path in zip(parsed, edits, strict=True):  # `a.b` and `a."b"` (or a.0, a[0]) are one value
        same = seen.setdefault(tuple(str(s) for s in segments), path)
        if same != path:
            raise ReleaseError(f"{filename}: {same!r} and {path!r} set the same value", "keep one of them")
    stream = load_all(text, filename)  # a Go template can compose yet not load: refuse it before anything
    if not parsed:
        return text
    docs = _compose(text, filename)
    if not docs:
        empty_documents = len(stream)
        return _set_in_empty(
            text, parsed, empty_documents, create=create, document=document, match=match, filename=filename
        )
    doc = _choose(docs, [p for p, _ in parsed], document, match, filename)
    if doc is None:
        shown = ", ".join(_show(p) for p, _ in parsed)
        hint = WHICH_DOC_HINT if create else CREATE_HINT
        raise ReleaseError(f"{filename}: no document of {len(docs)} has {shown}", hint)
    new = text
    for segments, value in parsed:
        current = doc if new is text else _compose(new, filename)[doc.number]
        new = _edit(new, current, segments, value, create=create, allow_anchor=allow_anchor, filename=filename)
    if new == text:
        return text
    _verify(text, new, doc.stream_index, parsed, filename)
    return new


def _as_str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"value for {path} must be a str, not {type(value).__name__}")
    return value


def _set_in_empty(
    text: str,
    parsed: Sequence[tuple[tuple[Segment, ...], str]],
    empty_documents: int,
    *,
    create: bool,
    document: int | None,
    match: Mapping[str, str] | None,
    filename: str,
) -> str:
    """A file with no document yet (empty, comments only, or one bare `---`): create makes it a mapping."""
    shown = ", ".join(_show(p) for p, _ in parsed)
    if not create or document not in (None, 0) or match:
        raise ReleaseError(f"{filename}: the file has no YAML document, so no {shown}", CREATE_HINT)
    if empty_documents > 1:  # which `---` would the keys go under? not ours to guess
        raise ReleaseError(
            f"{filename}: the file has only empty documents, so no {shown}", "write the first key by hand"
        )
    new = text
    for segments, value in parsed:
        if any(isinstance(s, int) for s in segments):
            raise ReleaseError(f"{filename}: cannot create {_show(segments)} in an empty file", "write it by hand")
        docs = _compose(new, filename)
        if docs:
            new = _edit(new, docs[0], segments, value, create=True, allow_anchor=False, filename=filename)
        else:
            new = _insert_lines(new, len(new), _nested_lines([str(s) for s in segments], value, 0, 2))
    _verify(text, new, 0, list(parsed), filename)
    return new


def get_value(
    text: str,
    path: str,
    *,
    document: int | None = None,
    match: Mapping[str, str] | None = None,
    filename: str = "<yaml>",
) -> str | None:
    """The string at `path` (None when missing or null). Reading through aliases is fine."""
    return get_values(text, [path], document=document, match=match, filename=filename)[path]


def get_values(
    text: str,
    paths: Sequence[str],
    *,
    document: int | None = None,
    match: Mapping[str, str] | None = None,
    filename: str = "<yaml>",
) -> dict[str, str | None]:
    """get_value for several paths, the text parsed once."""
    load_all(text, filename)
    docs = _compose(text, filename)
    out: dict[str, str | None] = {}
    for path in paths:
        segments = parse_path(path)
        doc = _choose(docs, [segments], document, match, filename) if docs else None
        node = _walk(doc, segments, filename).node if doc is not None else None
        if node is not None and not isinstance(node, yaml.ScalarNode):
            raise ReleaseError(f"{filename}:{_line(node)}: {path} is not a single value", "address a value inside it")
        out[path] = None if node is None or node.tag == NULL else str(node.value)
    return out


# --------------------------------------------------------------------------------------------- kustomize

_KUSTOMIZE_FIELDS = ("newName", "newTag", "digest")


def set_kustomize_image(
    text: str,
    name: str,
    *,
    new_name: str | None = None,
    new_tag: str | None = None,
    digest: str | None = None,
    filename: str = "<yaml>",
) -> str:
    """kustomization.yaml with the `images:` entry for `name` set (entry or block created when missing)."""
    given = dict(zip(_KUSTOMIZE_FIELDS, (new_name, new_tag, digest), strict=True))
    fields = {k: _as_str(v, k) for k, v in given.items() if v is not None}
    if not fields:
        raise TypeError("set_kustomize_image needs new_name, new_tag or digest")
    old_data = load_all(text, filename)
    docs = _compose(text, filename)
    if len(docs) > 1:
        raise ReleaseError(f"{filename}: {len(docs)} documents; a kustomization has one", "point at kustomization.yaml")
    if not docs:
        if len(old_data) > 1:
            raise ReleaseError(f"{filename}: the file has only empty documents", "write the images: block by hand")
        new = _append_images_block(text, None, name, fields)
    else:
        edited = _edit_images(text, docs[0], name, fields, filename)
        if isinstance(edited, dict):  # the entry exists: its fields are ordinary value edits
            return set_values(text, edited, document=0, create=True, filename=filename)
        new = edited
    if new != text:
        _verify_new_image(old_data, new, docs[0].stream_index if docs else 0, name, fields, filename)
    return new


def _edit_images(text: str, doc: _Doc, name: str, fields: dict[str, str], filename: str) -> str | dict[str, str]:
    """The text with a new entry or block, or, when the entry for `name` exists, the edits to make in it."""
    if not isinstance(doc.root, yaml.MappingNode) or doc.root.flow_style:
        raise ReleaseError(f"{filename}: the top level is not a block mapping", "is this a kustomization.yaml?")
    walk = _walk(doc, ("images",), filename)
    _refuse_shared(walk, doc, "images", filename)
    images = walk.node
    if images is None:
        return _append_images_block(text, doc, name, fields)
    if isinstance(images, yaml.ScalarNode) and images.tag == NULL and images.value == "":
        key = walk.steps[-1].key
        assert isinstance(key, yaml.Node)
        offset, content = _sequence_style(doc, text)
        at = _after_line(text, int(images.end_mark.index))
        return _insert_lines(text, at, _entry_lines(name, fields, _key_column(text, key) + offset, content))
    if not isinstance(images, yaml.SequenceNode):
        raise ReleaseError(f"{filename}:{_line(images)}: images is not a list", "make it a list of name/newTag entries")
    index = _entry_index(images, name, filename)
    if index is not None:
        return {f"images[{index}].{key}": value for key, value in fields.items()}
    if images.flow_style:
        return _append_flow_entry(text, images, name, fields)
    dash, content = _item_layout(text, images)
    at = _after_line(text, _subtree_end(images.value[-1]))
    return _insert_lines(text, at, _entry_lines(name, fields, dash, content))


def _entry_index(images: yaml.SequenceNode, name: str, filename: str) -> int | None:
    found = [i for i, item in enumerate(images.value) if _entry_name(_deref(item)) == name]
    for item in images.value:  # `name: !!set redis`: neither clearly this image nor clearly another one
        node = _name_node(_deref(item))
        if node is not None and node.value == name and node.tag not in _KUSTOMIZE_NAME_TAGS:
            raise ReleaseError(
                f"{filename}:{_line(node)}: the images entry named {name!r} has the tag "
                f"{str(node.tag).replace(_CORE, '!!')}, so it is unclear "
                "whether kustomize reads it as that image",
                f"write its name as plain text (name: {name})",
            )
    if len(found) > 1:
        raise ReleaseError(
            f"{filename}: images has {len(found)} entries named {name!r}", "keep one: kustomize applies only the first"
        )
    return found[0] if found else None


# tags a kustomize image name is read under: text, or a null or number that names no image (plus custom tags, text)
_CORE = "tag:yaml.org,2002:"
_KUSTOMIZE_NAME_TAGS = frozenset(_CORE + t for t in ("str", "null", "int", "float", "bool"))


def _name_node(item: yaml.Node) -> yaml.ScalarNode | None:
    if not isinstance(item, yaml.MappingNode):
        return None
    names = [v for k, v in item.value if _is_key(k, "name")]
    if not names or not isinstance(names[0], yaml.ScalarNode):
        return None
    return names[0] if str(names[0].tag).startswith(_CORE) else None  # a custom tag keeps the text: a name


def _entry_name(item: yaml.Node) -> str | None:
    if not isinstance(item, yaml.MappingNode):
        return None
    names = [v for k, v in item.value if _is_key(k, "name")]
    if not names or not isinstance(names[0], yaml.ScalarNode):
        return None
    tag = str(names[0].tag)
    # `name: !!null redis` or `name: 123` is no image name to kustomize (null, a number); a custom tag keeps the text
    core = tag.startswith("tag:yaml.org,2002:")
    return str(names[0].value) if not core or tag == "tag:yaml.org,2002:str" else None


def _entry_lines(name: str, fields: dict[str, str], dash: int, content: int) -> list[str]:
    pairs = [("name", name), *fields.items()]
    lines = [" " * (dash + content) + f"{key}: {_render(value, None, flow=False)}" for key, value in pairs]
    lines[0] = " " * dash + "-" + " " * (content - 1) + lines[0].lstrip(" ")
    return lines


def _append_flow_entry(text: str, images: yaml.SequenceNode, name: str, fields: dict[str, str]) -> str:
    pairs = [("name", name), *fields.items()]
    entry = "{" + ", ".join(f"{key}: {_render(value, None, flow=True)}" for key, value in pairs) + "}"
    if images.value:
        at = int(images.value[-1].end_mark.index)
        return text[:at] + ", " + entry + text[at:]
    close = int(images.end_mark.index) - 1
    return text[:close] + entry + text[close:]


def _append_images_block(text: str, doc: _Doc | None, name: str, fields: dict[str, str]) -> str:
    offset, content = _sequence_style(doc, text) if doc is not None else (0, 2)
    if doc is None or not isinstance(doc.root, yaml.MappingNode) or not doc.root.value:
        return _insert_lines(text, len(text), ["images:", *_entry_lines(name, fields, offset, content)])
    # At the end of this document (its comments included), not of the file: an empty document (`---`) may follow.
    indent = _key_column(text, doc.root.value[0][0])
    at = _after_line(text, int(doc.root.end_mark.index))
    lines = [" " * indent + "images:", *_entry_lines(name, fields, indent + offset, content)]
    return _insert_lines(text, at, lines)


def _item_layout(text: str, seq: yaml.SequenceNode) -> tuple[int, int]:
    """(dash column, item content offset from the dash) of an existing block list."""
    first = seq.value[0]
    start = int(first.start_mark.index)
    dash = text.rfind("-", 0, start)
    if dash < 0 or text.rfind("\n", 0, start) > dash:
        return _column(text, start), 2  # an item on its own line after the dash: rare, keep 2
    return _column(text, dash), start - dash


def _sequence_style(doc: _Doc | None, text: str) -> tuple[int, int]:
    """(dash offset from the parent key, content offset) the file's block lists use; kustomize's own by default."""
    stack = [doc.root] if doc is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode) and not node.flow_style:
            for key, value in node.value:
                if isinstance(value, yaml.SequenceNode) and not value.flow_style and value.value:
                    dash, content = _item_layout(text, value)
                    return max(dash - int(key.start_mark.column), 0), max(content, 2)
        if not isinstance(node, _AliasNode):
            stack.extend(reversed(list(_children(node))))
    return 0, 2


def _verify_new_image(
    old_data: list[Any], new: str, stream_index: int, name: str, fields: dict[str, str], filename: str
) -> None:
    expected = copy.deepcopy(old_data) or [None]
    root = expected[stream_index]
    if root is None:
        root = expected[stream_index] = {}
    if root.get("images") is None:
        root["images"] = []
    root["images"].append({"name": name, **fields})
    try:
        actual = list(yaml.load_all(new, Loader=_Loader))
    except yaml.YAMLError as exc:
        raise EditVerificationError(f"{filename}: the edited text is not YAML any more: {exc}") from None
    if not _same(expected, actual):
        raise EditVerificationError(f"{filename}: adding the image {name} changed something else")


# --------------------------------------------------------------------------------------------- deletions
# What a rollback needs: a key (or an `images:` entry) that a later release added goes again, and with it only its
# own lines. Anything that cannot be cut out cleanly is refused with one line, never approximated.


def delete_value(
    text: str,
    path: str,
    *,
    document: int | None = None,
    match: Mapping[str, str] | None = None,
    only: Sequence[str] | None = None,
    filename: str = "<yaml>",
) -> str:
    """`text` without the mapping key at `path`: the lines of the key and its value go, every other byte stays
    (comments before and after it too). Unchanged when `path` is absent. The only key of a block mapping leaves
    the key above it empty (null): what `image:` held before a key was created under it.

    `only`: the paths the key's value may hold; anything else there (a key someone added since) refuses the
    deletion. Also refused: a key reached through an alias or a merge key, or holding an anchor used elsewhere;
    a key sharing its line with something else (a list item's dash, `? `); the only key of a document."""
    segments = parse_path(path)
    load_all(text, filename)
    docs = _compose(text, filename)
    doc = _choose(docs, [segments], document, match, filename) if docs else None
    walk = _walk(doc, segments, filename) if doc is not None else None
    if doc is None or walk is None or walk.node is None:
        return text
    shown = _show(segments)
    _refuse_shared(walk, doc, shown, filename)
    step = walk.steps[-1]
    if not isinstance(step.holder, yaml.MappingNode):
        raise ReleaseError(f"{filename}: {shown} is a list item; only mapping keys are deleted", "remove it by hand")
    if _walk(doc, segments[:-1], filename).node is not step.holder:
        raise ReleaseError(f"{filename}: {shown} comes from a merge key (<<); it is not deleted", "remove it by hand")
    _refuse_anchors_inside(step.child, doc, shown, filename)
    if only is not None:
        _refuse_more_than(step.child, segments, only, filename)
    index = next(i for i, (key, _) in enumerate(step.holder.value) if key is step.key)
    if step.holder.flow_style:
        new = _cut_flow(text, step.holder, index)
    elif len(step.holder.value) == 1 and len(walk.steps) == 1:
        raise ReleaseError(
            f"{filename}:{_line(step.child)}: {shown} is the only key of the document; it is not deleted",
            "edit the file by hand",
        )
    else:
        new = _cut_block_entry(text, step.holder, index, shown, filename)
    _verify_data(_expected_without(text, doc.stream_index, segments, filename), new, f"deleting {shown}", filename)
    return new


def missing_prefix(
    text: str,
    path: str,
    *,
    document: int | None = None,
    match: Mapping[str, str] | None = None,
    filename: str = "<yaml>",
) -> str | None:
    """The shortest beginning of `path` that `text` lacks (`image` for `image.digest` when there is no `image`),
    or None when the path is there (null included)."""
    segments = parse_path(path)
    load_all(text, filename)
    docs = _compose(text, filename)
    doc = _choose(docs, [segments], document, match, filename) if docs else None
    if doc is None:
        return _show(segments[:1])
    walk = _walk(doc, segments, filename)
    if walk.node is not None:
        return None
    return _show(segments[: len(segments) - len(walk.missing) + 1])


def delete_kustomize_image(text: str, name: str, *, fields: Sequence[str] = (), filename: str = "<yaml>") -> str:
    """kustomization.yaml without the `images:` entry for `name` (its lines only), or, given `fields`, without
    those keys of it; unchanged when there is no such entry.

    A block list left without entries reads as `images:` (null): what the file held before an entry was added
    under an empty `images:`. To remove an `images:` key that a release created, delete `images` itself."""
    if fields:
        docs = _compose(text, filename)
        walk = _walk(docs[0], ("images",), filename) if len(docs) == 1 else None
        index = _entry_index(walk.node, name, filename) if walk and isinstance(walk.node, yaml.SequenceNode) else None
        for key in fields if index is not None else ():
            text = delete_value(text, f"images[{index}].{key}", document=0, filename=filename)
        return text
    old_data = load_all(text, filename)
    docs = _compose(text, filename)
    if len(docs) > 1:
        raise ReleaseError(f"{filename}: {len(docs)} documents; a kustomization has one", "point at kustomization.yaml")
    walk = _walk(docs[0], ("images",), filename) if docs else None
    if walk is None or not isinstance(walk.node, yaml.SequenceNode):
        return text
    _refuse_shared(walk, docs[0], "images", filename)
    images = walk.node
    index = _entry_index(images, name, filename)
    if index is None:
        return text
    what = f"the images entry {name}"
    _refuse_anchors_inside(images.value[index], docs[0], what, filename)
    new = _cut_flow(text, images, index) if images.flow_style else _cut_block_item(text, images, index, what, filename)
    expected = copy.deepcopy(old_data)
    root = expected[docs[0].stream_index]
    del root["images"][index]
    if not root["images"] and not images.flow_style:
        root["images"] = None
    _verify_data(expected, new, f"deleting {what}", filename)
    return new


def _refuse_anchors_inside(node: yaml.Node, doc: _Doc, what: str, filename: str) -> None:
    """An anchor inside what goes, used by an alias: the alias would point at nothing."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, _AliasNode):
            continue
        uses = doc.alias_uses.get(id(current))
        if uses:
            raise ReleaseError(
                f"{filename}:{_line(current)}: {what} holds an anchor used at line {_line(uses[0])}; it is not deleted",
                "remove it by hand",
            )
        stack.extend(_children(current))


def _leaves(node: yaml.Node, prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """The paths of a subtree's values (an empty collection and an alias count as values)."""
    if isinstance(node, yaml.MappingNode) and node.value:
        for key, value in node.value:
            yield from _leaves(value, (*prefix, str(key.value)))
    elif isinstance(node, yaml.SequenceNode) and node.value:
        for i, item in enumerate(node.value):
            yield from _leaves(item, (*prefix, str(i)))
    else:
        yield prefix


def _refuse_more_than(node: yaml.Node, segments: Sequence[Segment], only: Sequence[str], filename: str) -> None:
    allowed = {tuple(str(s) for s in parse_path(p)) for p in only}
    for leaf in _leaves(node, tuple(str(s) for s in segments)):
        if leaf not in allowed:
            raise ReleaseError(
                f"{filename}: {_show(segments)} also holds {_show(leaf)} now; deleting it would remove that too",
                "remove what the release added by hand",
            )


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _cut_lines(text: str, start: int, end: int) -> str:
    """`text` without the whole lines from `start` (a line start) to `end` (the start of the line after)."""
    if end >= len(text) and text and not text.endswith("\n"):
        # the last line, and no final newline: the line break before it goes, so the file still ends without one
        eol = _eol(text)  # the one _insert_lines put there
        start -= len(eol) if text[:start].endswith(eol) else 0
    return text[:start] + text[end:]


def _cut_block_entry(text: str, mapping: yaml.MappingNode, index: int, shown: str, filename: str) -> str:
    key, value = mapping.value[index]
    start = _line_start(text, int(key.start_mark.index))
    if text[start : int(key.start_mark.index)].strip(" \t") or _key_column(text, key) != key.start_mark.column:
        raise ReleaseError(
            f"{filename}:{_line(key)}: {shown} shares its line with something else (a list item's dash, `?`)",
            "put the key on its own line first, or edit by hand",
        )
    return _cut_lines(text, start, _after_line(text, _subtree_end(value)))


def _cut_block_item(text: str, seq: yaml.SequenceNode, index: int, what: str, filename: str) -> str:
    item = seq.value[index]
    begin = int(item.start_mark.index)
    dash = text.rfind("-", 0, begin)
    start = _line_start(text, dash)
    if dash < 0 or text[start:dash].strip(" \t") or text[dash + 1 : begin].strip(" \t\r\n"):
        raise ReleaseError(
            f"{filename}:{_line(item)}: {what} does not start its own line with `-`", "remove it by hand"
        )
    return _cut_lines(text, start, _after_line(text, _subtree_end(item)))


def _cut_flow(text: str, collection: yaml.CollectionNode, index: int) -> str:
    """One entry of a flow mapping or sequence, with the separator on one side of it."""
    entries = collection.value
    if isinstance(collection, yaml.MappingNode):
        begin, end = int(entries[index][0].start_mark.index), int(entries[index][1].end_mark.index)
        starts = [int(k.start_mark.index) for k, _ in entries]
        ends = [int(v.end_mark.index) for _, v in entries]
    else:
        begin, end = int(entries[index].start_mark.index), int(entries[index].end_mark.index)
        starts = [int(item.start_mark.index) for item in entries]
        ends = [int(item.end_mark.index) for item in entries]
    if index + 1 < len(entries):
        return text[:begin] + text[starts[index + 1] :]
    if index > 0:
        return text[: ends[index - 1]] + text[end:]
    return text[:begin] + text[end:]


def _expected_without(old: str, stream_index: int, segments: Sequence[Segment], filename: str) -> list[Any]:
    """The data of `old` with the key at `segments` taken out of the node graph (so key types stay as read)."""
    roots, props = _roots(old)
    doc = _Doc(roots[stream_index], 0, stream_index, props, _alias_uses(roots[stream_index]))
    steps = _walk(doc, segments, filename).steps
    step = steps[-1]
    step.holder.value = [(k, v) for k, v in step.holder.value if k is not step.key]
    if not step.holder.value and not _is_flow(step.holder):  # `image:` with nothing under it reads as null
        outer = steps[-2]
        null = yaml.ScalarNode(NULL, "")
        if isinstance(outer.holder, yaml.SequenceNode):
            outer.holder.value = [null if item is outer.child else item for item in outer.holder.value]
        else:
            outer.holder.value = [(k, null if v is outer.child else v) for k, v in outer.holder.value]
    constructor = _Loader("")
    return [constructor.construct_document(_dealias(root)) for root in roots]


def _verify_data(expected: list[Any], new: str, what: str, filename: str) -> None:
    try:
        actual = list(yaml.load_all(new, Loader=_Loader))
    except yaml.YAMLError as exc:
        raise EditVerificationError(f"{filename}: the edited text is not YAML any more: {exc}") from None
    if not _same(expected, actual):
        raise EditVerificationError(f"{filename}: {what} changed something else")


__all__ = [
    "EditVerificationError",
    "delete_kustomize_image",
    "delete_value",
    "get_value",
    "get_values",
    "missing_prefix",
    "parse_path",
    "set_kustomize_image",
    "set_values",
]
