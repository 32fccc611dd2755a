"""Every request the Jira sandbox receives, checked against Atlassian's OpenAPI document.

Cloud requests are checked against the Jira Cloud platform v3 document (Cloud serves the same
operations under `/rest/api/2` and `/latest`, so those are checked as their v3 twins); Data
Center requests against the Jira Software Data Center 10.3 document. The subsets in
`sandbox/specs/` are unchanged vendor text; `_errata` patches, in memory and in the open,
the few places where Atlassian's generated documents contradict the servers they describe.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import (
    OperationNotFound,
    PathNotFound,
    ServerNotFound,
)
from openapi_core.validation.request.exceptions import (
    InvalidParameter,
    InvalidRequestBody,
    MissingRequiredParameter,
    MissingRequiredRequestBody,
)
from werkzeug.datastructures import Headers, ImmutableMultiDict

from sandbox.server import Request

SPECS = Path(__file__).resolve().parent.parent / "specs"
CLOUD_DOCUMENT = "jira-cloud-platform-v3.subset.json"
DC_DOCUMENT = "jira-software-dc-10.3.subset.json"
Deployment = Literal["cloud", "data_center"]


@dataclass(frozen=True)
class Checked:
    """One request and what the vendor document says about it."""

    method: str
    path: str
    ok: bool
    problem: str | None
    status: int = 200  # the status Jira answers an invalid request with


def _errata(document: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
    """Known defects of the generated documents, patched so valid requests pass.

    - Auth is the sandbox's own check (401 before anything else), so `security` is dropped.
    - DC: the query parameters `expand` (GET search) and `fields` are typed `StringList`, an
      empty object (or an array of them), while Jira reads them as comma-separated strings.
    - DC: boolean query parameters (`validateQuery`) are read by JAX-RS with `Boolean.valueOf`:
      any text other than `true` is false, never a 400 (tap-jira sends `validateQuery=strict`,
      the Cloud spelling, and Data Center accepts it).
    - DC: the server URL is `http://{baseurl}/rest`; requests are matched on `/rest` alone.
    """
    document = copy.deepcopy(document)
    document.pop("security", None)
    for item in document["paths"].values():
        for op in item.values():
            if isinstance(op, dict):
                op.pop("security", None)
                for param in op.get("parameters", []):
                    schema = param.get("schema", {})
                    text = json.dumps(schema)
                    if param.get("in") == "query" and "StringList" in text:
                        param["schema"] = {"type": "string"}
                    lenient = deployment == "data_center" and schema.get("type") == "boolean"
                    if param.get("in") == "query" and lenient:
                        param["schema"] = {"type": "string"}
    base = "http://jira.sandbox" + ("" if deployment == "cloud" else "/rest")
    document["servers"] = [{"url": base}]
    return document


@cache
def document(deployment: Deployment) -> dict[str, Any]:
    """The vendor subset for a deployment, as published (no errata)."""
    name = CLOUD_DOCUMENT if deployment == "cloud" else DC_DOCUMENT
    return json.loads((SPECS / name).read_text())  # type: ignore[no-any-return]


@cache
def _openapi(deployment: Deployment) -> OpenAPI:
    return OpenAPI.from_dict(_errata(document(deployment), deployment))


class _SandboxRequest:
    """Adapts the sandbox's Request to openapi-core's request protocol."""

    host_url = "http://jira.sandbox"

    def __init__(self, request: Request, path: str):
        self.path = path
        self.method = request.method.lower()
        self.body = request.body or None
        self.content_type = request.headers.get("content-type", "application/json").lower()
        pairs = [(k, v) for k, values in request.query.items() for v in values]
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(pairs), header=Headers(list(request.headers.items()))
        )


def _documented_path(path: str, deployment: Deployment) -> str:
    """The path as the document spells it (`latest` and Cloud's v2 twin mapped)."""
    if deployment == "cloud":
        return re.sub(r"^/rest/api/(2|latest)/", "/rest/api/3/", path)
    return re.sub(r"^/rest/api/latest/", "/rest/api/2/", path)


def _jackson_message(error: Exception, body: bytes | None) -> str:
    """Jira's JSON binding (Jackson) wording for a body of the wrong type."""
    cause = getattr(error, "__cause__", None)
    details = [str(e.message) for e in getattr(cause, "schema_errors", [])]
    text = " ".join(details) or str(cause or error)
    if "is not of type 'array'" in text:
        return "Can not deserialize instance of java.util.ArrayList out of VALUE_STRING token"
    if "Additional properties are not allowed" in text:
        found = re.findall(r"'([^']+)' was unexpected", text)
        name = found[0] if found else "?"
        return f'Unrecognized field "{name}" (class is not marked as ignorable)'
    if body and not _is_json(body):
        return "Unexpected character: the request body is not valid JSON."
    return f"The request body is not valid: {text}"


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def validate(request: Request, deployment: Deployment) -> Checked:
    """Validate one request with openapi-core, every step of it (no memo)."""
    path = _documented_path(request.path, deployment)
    wrapped = _SandboxRequest(request, path)
    try:
        _openapi(deployment).validate_request(wrapped)
    except (PathNotFound, ServerNotFound):
        return Checked(request.method, request.path, False, "no such path in the document", 404)
    except OperationNotFound:
        return Checked(request.method, request.path, False, "method not in the document", 405)
    except (InvalidRequestBody, MissingRequiredRequestBody) as err:
        problem = _jackson_message(err, request.body)
        return Checked(request.method, request.path, False, problem, 400)
    except (InvalidParameter, MissingRequiredParameter) as err:
        cause = getattr(err, "__cause__", None)
        problem = f"{err}: {cause}" if cause else str(err)
        return Checked(request.method, request.path, False, problem, 400)
    except Exception as err:  # any other validation finding is still a finding
        return Checked(request.method, request.path, False, f"{type(err).__name__}: {err}", 400)
    return Checked(request.method, request.path, True, None)


ANY_SEGMENT = "\x00"  # stands for a path segment whose value the document cannot tell apart
FREE_PATH_SCHEMA = {"type", "example", "description"}  # annotations only: any string is valid
VALID_MEMO_SIZE = 8192


@cache
def _literal_segments(deployment: Deployment) -> frozenset[str] | None:
    """Every path segment the document spells literally (templates and the server URL), or
    None when some segment of a request could matter by its value and must never be masked.

    openapi-core matches a template against the end of the URL, segment by segment (literal
    parts start with `/`, variables are `[^/]*`), and the server by the text before the match.
    So a segment that equals no literal anywhere can only ever land in a template variable, and
    when every path variable is declared a plain string, its value cannot change the verdict.
    """
    doc = _errata(document(deployment), deployment)
    literals: set[str] = set()
    servers = [s["url"] for s in doc.get("servers", [])]
    for url in servers:
        if "{" in url:
            return None
        literals.update(url.split("/"))
    for template, item in doc["paths"].items():
        if not template.startswith("/") or "servers" in item:
            return None
        for segment in template.split("/"):
            if "{" in segment or "}" in segment:
                if not re.fullmatch(r"\{[^{}/]+\}", segment):
                    return None
            else:
                literals.add(segment)
        operations = [op for op in item.values() if isinstance(op, dict)]
        for param in item.get("parameters", []) + [
            p for op in operations for p in op.get("parameters", [])
        ]:
            if "$ref" in param:
                return None
            if param.get("in") == "path":
                schema = param.get("schema") or {}
                if schema.get("type") != "string" or not set(schema) <= FREE_PATH_SCHEMA:
                    return None
        if any("servers" in op for op in operations):
            return None
    return frozenset(literals)


def _shape(request: Request, deployment: Deployment) -> tuple[object, ...]:
    """What the verdict on a request depends on: everything but the values of path segments
    that only a plain-string template variable can take (see `_literal_segments`)."""
    literals = _literal_segments(deployment)
    path = _documented_path(request.path, deployment)
    if literals is not None:
        path = "/".join(s if not s or s in literals else ANY_SEGMENT for s in path.split("/"))
    return (
        deployment,
        request.method,
        path,
        tuple((k, tuple(v)) for k, v in request.query.items()),
        tuple(request.headers.items()),
        request.body,
    )


class _ValidShapes:
    """Shapes of requests found valid, most recent last (bounded): a valid request's twin is
    valid too, so it is not validated again. Invalid requests are always validated in full,
    so their problem text is always their own."""

    def __init__(self, size: int):
        self.size = size
        self._shapes: OrderedDict[tuple[object, ...], None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, shape: tuple[object, ...]) -> bool:
        with self._lock:
            if shape not in self._shapes:
                return False
            self._shapes.move_to_end(shape)
            return True

    def add(self, shape: tuple[object, ...]) -> None:
        with self._lock:
            self._shapes[shape] = None
            while len(self._shapes) > self.size:
                self._shapes.popitem(last=False)


_valid = _ValidShapes(VALID_MEMO_SIZE)


def check(request: Request, deployment: Deployment) -> Checked:
    """Validate one request; `ok` False carries the problem and Jira's answer status.

    The same verdict as `validate`, which costs about a millisecond of CPU per request: a
    request shaped like one already found valid (a remote-link read of another issue) is
    valid without walking the document again.
    """
    shape = _shape(request, deployment)
    if shape in _valid:
        return Checked(request.method, request.path, True, None)
    checked = validate(request, deployment)
    if checked.ok:
        _valid.add(shape)
    return checked
