"""Asana's published OpenAPI document as an executable contract for the sandbox.

Every request the sandbox receives is checked against the document (path, method, query
parameters with their types, enums and ranges, unknown parameters, body), and so is every
response it sends. Results are kept as `Check` rows so a test can assert that a client only
ever sent requests Asana would accept.

`asana_oas.subset.json` is the shared subset of Asana's `defs/asana_oas.yaml` (github.com/
Asana/openapi, commit fc9f8dcf224efa8e06bfc955d91dd95aac7a398d, info.version 1.0) plus the
`/users` and `/stories/{story_gid}` paths from the same commit; `info.x-subset-provenance` says so.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from sandbox.server import Request

SPEC_FILE = Path(__file__).with_name("asana_oas.subset.json")
HOST = "http://asana.sandbox"
API = "/api/1.0"
# https://developers.asana.com/docs/errors lists these for any request
UNKNOWN_ACTION = "no known action: "
ERROR_PAGE_STATUSES = {402, 412, 429, 500, 502, 503, 504}


_SESSION: list[Check] = []  # every check of every sandbox in this process
_SESSION_LOCK = threading.Lock()


def session_checks() -> list[Check]:
    """Every check made by any Asana sandbox in this process (a test session asserts on it)."""
    with _SESSION_LOCK:
        return list(_SESSION)


@dataclass(frozen=True)
class Check:
    """One request (or response) checked against the document; `problem` is empty when ok."""

    method: str
    path: str
    ok: bool
    problem: str = ""
    kind: str = "request"  # request | response


def nullable_all_of(node: Any) -> Any:
    """OpenAPI 3.0 ignores `nullable` inside allOf members; Asana means the value may be null."""
    if isinstance(node, list):
        return [nullable_all_of(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: nullable_all_of(v) for k, v in node.items()}
    members = node.get("allOf")
    if isinstance(members, list) and any(
        isinstance(m, dict) and m.get("nullable") for m in members
    ):
        rest = {k: v for k, v in node.items() if k != "allOf"}
        return {**rest, "anyOf": [{"allOf": members}, {"nullable": True, "enum": [None]}]}
    return node


@cache
def spec_document() -> dict[str, Any]:
    """The document as published (read once per process)."""
    return json.loads(SPEC_FILE.read_text())  # type: ignore[no-any-return]


@cache
def _openapi() -> OpenAPI:
    spec = nullable_all_of(spec_document())
    spec["servers"] = [{"url": HOST + API}]
    return OpenAPI.from_dict(spec)


class _Operations:
    """Path templates of the document with the query parameters each operation declares."""

    def __init__(self, spec: dict[str, Any]):
        self._params = spec.get("components", {}).get("parameters", {})
        self.table: list[tuple[re.Pattern[str], str, dict[str, set[str]]]] = []
        for template, item in spec["paths"].items():
            regex = re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", template) + "$")
            shared = self._names(item.get("parameters", []))
            methods = {
                method.upper(): shared | self._names(op.get("parameters", []))
                for method, op in item.items()
                if method in {"get", "post", "put", "delete", "patch"}
            }
            self.table.append((regex, template, methods))
        # literal paths first so /users/me style routes never shadow a literal
        self.table.sort(key=lambda row: row[1].count("{"))

    def _names(self, params: list[dict[str, Any]]) -> set[str]:
        names = set()
        for param in params:
            if "$ref" in param:
                param = self._params[param["$ref"].rsplit("/", 1)[1]]
            if param.get("in") == "query":
                names.add(param["name"])
        return names

    def find(self, path: str) -> tuple[str, dict[str, set[str]]] | None:
        for regex, template, methods in self.table:
            if regex.match(path):
                return template, methods
        return None


@cache
def _operations() -> _Operations:
    return _Operations(spec_document())


class _Fields:
    """Which `opt_fields` paths an operation accepts.

    The document enumerates the accepted paths one or two levels deep (`assignee.name`,
    `memberships.section.name`). Asana also returns any property of a nested object when it is
    asked for by path (`assignee.email`, `dependencies.gid`), so a path not enumerated is
    accepted when its parent path is enumerated and its last segment is a property of the nested
    object's schema (its compact or full form).
    """

    def __init__(self, spec: dict[str, Any]):
        self._schemas: dict[str, Any] = spec["components"]["schemas"]

    def properties(self, schema: dict[str, Any], widen: bool = True) -> dict[str, Any]:
        """Properties of a schema; a referenced compact form also offers its full form's."""
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            full = re.sub(r"(Compact|Base)$", "Response", name)
            names = [name] + ([full] if widen and full != name and full in self._schemas else [])
            props: dict[str, Any] = {}
            for each in names:
                props.update(self.properties(self._schemas[each], widen=False))
            return props
        if schema.get("type") == "array" and "items" in schema:
            return self.properties(schema["items"], widen)
        props = dict(schema.get("properties", {}))
        for member in schema.get("allOf", []) + schema.get("anyOf", []) + schema.get("oneOf", []):
            props.update(self.properties(member, widen))
        return props

    def problems(self, operation: dict[str, Any], requested: list[str]) -> list[str]:
        enum = set()
        for param in operation.get("parameters", []):
            if param.get("name") == "opt_fields":
                enum = set(param["schema"]["items"].get("enum", []))
        schema = (
            operation.get("responses", {})
            .get("200", {})
            .get("content", {})
            .get("application/json", {})
            .get("schema", {})
        )
        data = self.properties(schema).get("data", {})
        out = []
        for path in requested:
            if path in enum or self._resolves(data, path.split("."), enum):
                continue
            out.append(f"opt_fields: {path!r} is not a field of this resource")
        return out

    def _resolves(self, schema: dict[str, Any], parts: list[str], enum: set[str]) -> bool:
        if len(parts) > 1 and ".".join(parts[:-1]) not in enum and parts[0] not in enum:
            return False
        node = schema
        for part in parts:
            props = self.properties(node)
            if part not in props:
                return False
            node = props[part]
        return True


@cache
def _fields() -> _Fields:
    return _Fields(spec_document())


def _operation(template: str, method: str) -> dict[str, Any]:
    return spec_document()["paths"][template][method.lower()]  # type: ignore[no-any-return]


class _OpenAPIRequest:
    """The sandbox's Request seen through openapi-core's Request protocol."""

    def __init__(self, request: Request, *, skip: tuple[str, ...] = ()):
        self.host_url = HOST
        self.path = request.path
        self.method = request.method.lower()
        pairs = [(k, v) for k, values in request.query.items() for v in values if k not in skip]
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(pairs),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )
        self.content_type = request.headers.get("content-type", "application/json").lower()
        self.body = request.body or None


class _OpenAPIResponse:
    def __init__(self, status: int, body: bytes, headers: dict[str, str]):
        self.status_code = status
        self.data = body
        self.content_type = "application/json"
        self.headers = Headers(list(headers.items()))


def _describe(error: Exception) -> str:
    """The innermost schema errors, which name the parameter and the rule it broke."""
    parts = [str(error)]
    cause: BaseException | None = error.__cause__
    while cause is not None:
        inner = getattr(cause, "schema_errors", None)
        if inner:
            parts.append("; ".join(e.message for e in inner))
            break
        parts.append(str(cause))
        cause = cause.__cause__
    return ": ".join(dict.fromkeys(p for p in parts if p))


def _error_envelope_problem(status: int, body: bytes) -> str:
    """Statuses the operations leave out but Asana's errors page documents for every call:
    the body must still be Asana's error envelope."""
    try:
        errors = json.loads(body)["errors"]
        if errors and all(isinstance(e.get("message"), str) for e in errors):
            return ""
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return f"{status}: body is not Asana's error envelope"


def _datetime_zone_problems(request: Request) -> list[str]:
    """Asana's date-time parameters (ISO 8601 with a zone); the schema validator skips formats."""
    problems = []
    for name in ("modified_since", "completed_since", "modified_at.after", "modified_at.before"):
        for value in request.query.get(name, []):
            if name == "completed_since" and value == "now":
                continue
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                problems.append(f"{name}: not an ISO 8601 date-time: {value!r}")
                continue
            if parsed.tzinfo is None:
                problems.append(f"{name}: date-time without a time zone: {value!r}")
    return problems


class Contract:
    """Checks requests and responses against Asana's document and remembers every result."""

    def __init__(self) -> None:
        self.checks: list[Check] = []
        self._lock = threading.Lock()

    def check_request(self, request: Request) -> str:
        """Empty when the request is one Asana documents; otherwise what is wrong with it."""
        problems: list[str] = []
        found = _operations().find(request.path.removeprefix(API))
        if not request.path.startswith(API + "/") or found is None:
            problems.append(f"{UNKNOWN_ACTION}no such path in Asana's API: {request.path}")
        else:
            template, methods = found
            allowed = methods.get(request.method)
            if allowed is None:
                problems.append(
                    f"{UNKNOWN_ACTION}{request.method} is not an operation of {template}"
                )
            else:
                unknown = sorted(set(request.query) - allowed)
                if unknown:
                    problems.append(
                        f"{', '.join(unknown)}: not a parameter of {request.method} {template}"
                        f" (documented: {', '.join(sorted(allowed))})"
                    )
                problems += _datetime_zone_problems(request)
                problems += _fields().problems(
                    _operation(template, request.method), request.args("opt_fields")
                )
                try:
                    # opt_fields were checked above, with nested paths the enum leaves out
                    _openapi().validate_request(_OpenAPIRequest(request, skip=("opt_fields",)))
                except Exception as err:  # openapi-core raises a family of validation errors
                    problems.append(_describe(err))
        problem = "; ".join(problems)
        self._record(Check(request.method, request.path, not problem, problem))
        return problem

    def check_response(
        self, request: Request, status: int, body: bytes, headers: dict[str, str]
    ) -> str:
        """Empty when the response has a documented status and shape (paths the document does
        not have are not checked: their requests already failed)."""
        if _operations().find(request.path.removeprefix(API)) is None:
            return ""
        try:
            _openapi().validate_response(
                _OpenAPIRequest(request), _OpenAPIResponse(status, body, headers)
            )
            problem = ""
        except Exception as err:
            problem = f"{status}: {_describe(err)}"
            if status in ERROR_PAGE_STATUSES and "Unknown response http status" in problem:
                problem = _error_envelope_problem(status, body)
        self._record(Check(request.method, request.path, not problem, problem, "response"))
        return problem

    def _record(self, check: Check) -> None:
        with self._lock:
            self.checks.append(check)
        with _SESSION_LOCK:
            _SESSION.append(check)

    def requests_checked(self) -> list[Check]:
        with self._lock:
            return [c for c in self.checks if c.kind == "request"]

    def failures(self, kind: str | None = None) -> list[Check]:
        with self._lock:
            return [c for c in self.checks if not c.ok and (kind is None or c.kind == kind)]
