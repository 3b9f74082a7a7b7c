"""YAML loaders for files users write.

`SafeLoader` is PyYAML's, made total: a tagged scalar it cannot build (`!!int v2`, `!!bool ''`, `!!timestamp x`)
and an escape that is no character (`"\\UFFFFFFFF"`, `"\\uD800"`) are YAML errors with a line, where PyYAML raises
ValueError, KeyError, AttributeError or OverflowError (or passes a lone surrogate on); and nesting deeper
than MAX_DEPTH levels is a YAML error, where PyYAML's recursive composer runs out of Python stack.

`NoDuplicatesLoader` also refuses duplicate keys: Go's YAML (Helm) silently keeps the last one, so a duplicate in
a file we read for Helm is a mistake to report, not a choice to guess; for the same reason it refuses a key written
before a merge (`<<`) that sets it too (YAML keeps the written one, Go's YAML the merged one).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import yaml

MAX_DEPTH = 100  # far beyond any real values file; well inside Python's recursion limit


class SafeLoader(yaml.SafeLoader):
    _depth = 0

    def scan_flow_scalar(self, style: str) -> Any:
        """A double-quoted escape that is no character (`"\\UFFFFFFFF"`, half a surrogate pair `"\\uD800"`) is a
        YAML error; PyYAML raises OverflowError or ValueError, or returns text no file can hold."""
        start = self.get_mark()
        try:
            token = super().scan_flow_scalar(style)
        except (ValueError, OverflowError):
            token = None
        if token is None or any(0xD800 <= ord(c) <= 0xDFFF for c in token.value):
            problem = "found an escape that is not a Unicode character"
            raise yaml.scanner.ScannerError("while scanning a quoted scalar", start, problem, self.get_mark())
        return token

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self._depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _total(constructor: Callable[[Any, yaml.Node], Any]) -> Callable[[Any, yaml.Node], Any]:
    def construct(loader: Any, node: yaml.Node) -> Any:
        try:
            return constructor(loader, node)
        except (ValueError, KeyError, IndexError, AttributeError, OverflowError):
            kind = str(node.tag).rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a valid {kind}", node.start_mark
            ) from None

    return construct


for _kind in ("bool", "int", "float", "timestamp"):
    _tag = f"tag:yaml.org,2002:{_kind}"
    SafeLoader.add_constructor(_tag, _total(yaml.SafeLoader.yaml_constructors[_tag]))


class NoDuplicatesLoader(SafeLoader):
    pass


def _no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    if not isinstance(node, yaml.MappingNode):  # `!!map [a]`: let PyYAML say what is wrong
        return loader.construct_mapping(node, deep=deep)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, Hashable):
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
    for index, (key_node, value) in enumerate(node.value):
        if key_node.tag != "tag:yaml.org,2002:merge":
            continue
        # `<<: *base` then `key: x` overrides for every reader; `key: x` then `<<: *base` does for PyYAML only.
        merged = _merged_keys(yaml.MappingNode(node.tag, [(key_node, value)]))
        for before, _ in node.value[:index]:
            if isinstance(before, yaml.ScalarNode) and before.value in merged:
                problem = f"{before.value!r} comes before a merge (<<) that sets it too: YAML keeps it, Go (Helm) not"
                raise yaml.constructor.ConstructorError(None, None, problem, before.start_mark)
    return loader.construct_mapping(node, deep=deep)


def _merged_keys(node: yaml.MappingNode, depth: int = 0) -> set[str]:
    """The scalar keys a mapping's merge keys (`<<: *base`, `<<: [*a, *b]`) bring in, their own merges included."""
    keys: set[str] = set()
    for key_node, value in node.value:
        if key_node.tag != "tag:yaml.org,2002:merge" or depth > 16:
            continue
        for source in value.value if isinstance(value, yaml.SequenceNode) else [value]:
            if isinstance(source, yaml.MappingNode):
                keys |= {str(k.value) for k, _ in source.value if isinstance(k, yaml.ScalarNode)}
                keys |= _merged_keys(source, depth + 1)
    return keys


NoDuplicatesLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)
