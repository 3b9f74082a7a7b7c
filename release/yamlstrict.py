"""YAML loaders for files users write.

`SafeLoader` is PyYAML's, made total: a tagged scalar it cannot build (`!!int v2`, `!!bool ''`, `!!timestamp x`)
is a YAML error with a line, where PyYAML raises ValueError, KeyError or AttributeError; and nesting deeper
than MAX_DEPTH levels is a YAML error, where PyYAML's recursive composer runs out of Python stack.

`NoDuplicatesLoader` also refuses duplicate keys: Go's YAML (Helm) silently keeps the last one, so a duplicate in
a file we read for Helm is a mistake to report, not a choice to guess.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import yaml

MAX_DEPTH = 100  # far beyond any real values file; well inside Python's recursion limit


class SafeLoader(yaml.SafeLoader):
    _depth = 0

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
    return loader.construct_mapping(node, deep=deep)


NoDuplicatesLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)
