"""Reading a config file's YAML without surprises: bounded size, depth and alias expansion,
duplicate keys refused, and every problem a ConfigError that names the file and line.

PyYAML's `safe_load` keeps the last of two equal keys (a second `sources:` silently drops the
first), composes recursively (deep nesting is a RecursionError), and happily expands an alias
bomb that later passes would copy into gigabytes. This loader refuses all three up front.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from handoff.errors import ConfigError

MAX_BYTES = 1_000_000  # a config is a few kilobytes; a megabyte is surely a mistake
MAX_DEPTH = 64  # nesting levels of mappings and lists
MAX_NODES = 200_000  # values after expanding every alias


class _Refused(yaml.YAMLError):
    """A limit this loader enforces; carries a message for the user."""


class ConfigLoader(yaml.SafeLoader):
    """SafeLoader that bounds nesting while composing and refuses duplicate mapping keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:  # type: ignore[override]
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _Refused(f"line {mark.line + 1}: nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` entries may be overridden by design
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:
                raise _Refused(
                    f"line {line}: a key must be a plain value, not a list or mapping"
                ) from None
            if first is not None:
                raise _Refused(
                    f"duplicate key {str(key)!r} on line {first} and line {line}; keep one"
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def _expanded_size(root: Node) -> int:
    """How many values the document holds once every alias is expanded (memoised per node)."""
    sizes: dict[int, int] = {}
    # iterative post-order walk: aliases share nodes, so the graph may be tiny but huge expanded
    stack: list[tuple[Node, bool]] = [(root, False)]
    in_progress: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        if children_done or isinstance(node, ScalarNode):
            in_progress.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > MAX_NODES:
                raise _Refused(
                    f"line {node.start_mark.line + 1}: more than {MAX_NODES:,} values once "
                    "aliases are expanded; write the values out instead of nesting aliases"
                )
            continue
        if key in in_progress:
            raise _Refused(f"line {node.start_mark.line + 1}: an alias refers to itself")
        in_progress.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in in_progress:
                raise _Refused(f"line {child.start_mark.line + 1}: an alias refers to itself")
            stack.append((child, False))
    return sizes[id(root)]


def decode_config_bytes(raw: bytes, origin: str) -> str:
    """The file's text; UTF-8 only (with or without BOM), named clearly when it is not."""
    if len(raw) > MAX_BYTES:
        raise ConfigError(
            f"{origin}: the file is {len(raw):,} bytes; a config may be at most {MAX_BYTES:,}"
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(raw) > 1 and b"\x00" in raw[:200]):
        raise ConfigError(f"{origin}: the file is UTF-16 (or binary); save it as UTF-8")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ConfigError(
            f"{origin}: line {line}: byte 0x{raw[err.start]:02x} is not UTF-8; "
            "save the file as UTF-8 (it may be Latin-1 or Windows-1252)"
        ) from None


def load_yaml(text: str, origin: str) -> Any:
    """Parse config text into plain Python values, or raise a ConfigError naming the problem."""
    if len(text) > MAX_BYTES:
        raise ConfigError(f"{origin}: the text is longer than {MAX_BYTES:,} characters")
    try:
        loader = ConfigLoader(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{origin}: not valid YAML: {err}") from None
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _expanded_size(root)
        return loader.construct_document(root)  # type: ignore[no-untyped-call]
    except _Refused as err:
        raise ConfigError(f"{origin}: {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{origin}: not valid YAML: {err}") from None
    except RecursionError:
        raise ConfigError(f"{origin}: nested too deeply") from None
    finally:
        loader.dispose()
