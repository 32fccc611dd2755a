"""Where a key path sits in a YAML text, so every validation error can point into the file."""

from __future__ import annotations

from typing import Any

import yaml


def line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest part of `loc` (keys and list indexes) found in `text`."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == part), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
