"""Trim Atlassian's published OpenAPI documents to the paths the Jira sandbox serves.

Run once per vendor update: `python -m sandbox.specs.build_subsets CLOUD.json DC.json`.
Paths keep every method and every component they reference, byte-for-byte unchanged, so a
subset validates exactly as the full document would for those paths.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
CLOUD_PATHS = [
    "/rest/api/3/search/jql",
    "/rest/api/3/search/approximate-count",
    "/rest/api/3/search",
    "/rest/api/3/issue/{issueIdOrKey}",
    "/rest/api/3/issue/{issueIdOrKey}/changelog",
    "/rest/api/3/issue/bulkfetch",
    "/rest/api/3/changelog/bulkfetch",
    "/rest/api/3/issue/{issueIdOrKey}/remotelink",
    "/rest/api/3/issue/{issueIdOrKey}/comment",
    "/rest/api/3/issue/{issueIdOrKey}/comment/{id}",
    "/rest/api/3/serverInfo",
    "/rest/api/3/field",
    "/rest/api/3/issueLinkType",
    "/rest/api/3/myself",
    "/rest/api/3/mypermissions",
    "/rest/api/3/project/search",
    "/rest/api/3/status",
    "/rest/api/3/statuses/search",
]
DC_PATHS = [
    "/api/2/search",
    "/api/2/issue/{issueIdOrKey}",
    "/api/2/issue/{issueIdOrKey}/remotelink",
    "/api/2/issue/{issueIdOrKey}/comment",
    "/api/2/issue/{issueIdOrKey}/comment/{id}",
    "/api/2/serverInfo",
    "/api/2/field",
    "/api/2/issueLinkType",
    "/api/2/myself",
    "/api/2/mypermissions",
    "/api/2/project",
    "/api/2/status",
]


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        out = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            out |= _refs(value)
        return out
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


def subset(document: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """The document with only `paths` and the components they reach."""
    missing = [p for p in paths if p not in document["paths"]]
    if missing:
        raise SystemExit(f"paths absent from the document: {missing}")
    kept_paths = {p: document["paths"][p] for p in paths}
    components: dict[str, dict[str, Any]] = {}
    todo = list(_refs(kept_paths))
    seen: set[str] = set()
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, _, kind, name = ref.split("/", 3)
        value = document["components"][kind][name]
        components.setdefault(kind, {})[name] = value
        todo.extend(_refs(value))
    if "securitySchemes" in document.get("components", {}):
        components["securitySchemes"] = document["components"]["securitySchemes"]
    out = {k: v for k, v in document.items() if k not in ("paths", "components", "tags")}
    out["paths"] = kept_paths
    out["components"] = {k: dict(sorted(v.items())) for k, v in sorted(components.items())}
    return out


def main(cloud: str, data_center: str) -> None:
    for source, paths, name in [
        (cloud, CLOUD_PATHS, "jira-cloud-platform-v3.subset.json"),
        (data_center, DC_PATHS, "jira-software-dc-10.3.subset.json"),
    ]:
        document = json.loads(Path(source).read_text())
        (HERE / name).write_text(json.dumps(subset(document, paths), indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
