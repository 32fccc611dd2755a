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


def check(request: Request, deployment: Deployment) -> Checked:
    """Validate one request; `ok` False carries the problem and Jira's answer status."""
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
