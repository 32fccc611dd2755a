"""Driving a Singer tap: discover, select streams, run, and read what it wrote.

A tap writes SCHEMA / RECORD / STATE lines on stdout; the benchmark keeps them in a file (no
target: a target's load time would be the target's, not the tap's) and reads the records back
to say what the output contains.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def select_streams(catalog: dict[str, Any], streams: set[str]) -> dict[str, Any]:
    """Mark `streams` (and all their fields) selected in a discovered catalog."""
    for entry in catalog["streams"]:
        chosen = entry["tap_stream_id"] in streams
        for item in entry.get("metadata", []):
            if not item.get("breadcrumb"):
                item["metadata"]["selected"] = chosen
            elif chosen:
                item["metadata"]["selected"] = True
    return catalog


def messages(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as handle:
        for line in handle:
            if line.startswith("{"):
                yield json.loads(line)


def summarise(path: Path) -> dict[str, Any]:
    """Records per stream, the last STATE, and counts of what the issue records carry."""
    counts: Counter[str] = Counter()
    state: Any = None
    links = 0
    status_histories = 0
    for message in messages(path):
        kind = message.get("type")
        if kind == "RECORD":
            counts[message["stream"]] += 1
            record = message["record"]
            fields = record.get("fields") if isinstance(record, dict) else None
            if isinstance(fields, dict):
                links += len(fields.get("issuelinks") or [])
            if message["stream"] == "changelogs" and any(
                item.get("field") == "status" for item in record.get("items") or []
            ):
                status_histories += 1
        elif kind == "STATE":
            state = message["value"]
    return {
        "records": dict(counts),
        "state": state,
        "issue_links": links,
        "status_histories": status_histories,
    }
