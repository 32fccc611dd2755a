"""The Asana sandbox: serves an `AsanaOrg` under /api/1.0 following Asana's REST contract.

Paging uses opaque offset tokens (`next_page` only when `limit` is passed), `opt_fields` select
nested fields, `modified_since` / `completed_since` filter task lists, and `/events` hands out
sync tokens (412 with a fresh one when missing, unknown or older than 24 hours on the sandbox's
clock). Faults come from `Faults`, plus `expire_offset_every` (every Nth offset presented is
answered 400, as an expired token is).

What Asana's documents say and the sandbox enforces (each switchable per instance):
- `strict`: every request is checked against Asana's OpenAPI document (`contract.py`); one Asana
  would refuse is answered 400 in Asana's error envelope. Every check is kept in
  `contract.checks`, and with `check_responses` every response is checked too.
- a free-plan workspace (`org.plan == "free"`) answers 402 Payment Required to reads of
  dependencies and to task search, premium features.
- task search (`/workspaces/{gid}/tasks/search`) has no paging: at most `SEARCH_PAGE` results
  sorted by `sort_by` (default `modified_at`, newest first); a client pages by narrowing
  `created_at.before`. It filters on `is_subtask`, `completed`, `created_at.*` and
  `modified_at.*` and refuses the filters it does not implement (400), so no client is served
  results a filter it believes applied did not narrow. `search_unindexed` holds tasks the index
  has not caught up with (Asana's search is eventually consistent).
- `quota`: requests per minute per token (150 free, 1,500 paid), 429 with `Retry-After` in
  seconds (`quota_retry_after` fixes it); `quota_window` shortens the "minute" for tests; `concurrent_reads` caps parallel GETs
  per token (Asana: 50).
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sandbox.asana.comments import AsanaComments
from sandbox.asana.contract import UNKNOWN_ACTION, Contract
from sandbox.asana.org import AsanaOrg, Task
from sandbox.asana.render import (
    STATUS_UPDATE_COMPACT,
    STORY_COMPACT,
    TASK_COMPACT,
    event_json,
    field_tree,
    project_json,
    section_json,
    select,
    status_update_json,
    story_json,
    task_json,
    user_json,
    workspace_json,
)
from sandbox.clock import Quota, SandboxClock
from sandbox.server import Faults, HttpError, Request, Response, SandboxServer, ServedSandbox

API = "/api/1.0"
EVENTS_PER_RESPONSE = 100
SYNC_TOKEN_LIFETIME = timedelta(hours=24)  # "Sync tokens always expire after 24 hours"
REQUESTS_PER_MINUTE = {"free": 150, "paid": 1500}
ERRORS_HELP = (
    "For more information on API status codes and how to handle them, read the docs on "
    "errors: https://developers.asana.com/docs/errors"
)
PREMIUM_FIELDS = ("dependencies", "dependents")
SEARCH_PAGE = 100  # Asana: "Page sizes are limited to a maximum of 100 items"
SEARCH_FILTERS = {
    "is_subtask",
    "completed",
    "created_at.before",
    "created_at.after",
    "modified_at.before",
    "modified_at.after",
}
PAYMENT_REQUIRED = (
    "Task dependencies are not available for free workspaces. The request was valid, but the "
    "queried object is above your current premium level."
)
SYNC_EXPIRED = (
    "Sync token invalid or too old. If you are attempting to keep resources "
    "in sync, you must fetch the full dataset for this query now and use the "
    "new sync token for the next sync."
)


def error_body(message: str) -> dict[str, Any]:
    """Asana's error envelope."""
    return {"errors": [{"message": message, "help": ERRORS_HELP}]}


def asana_error(status: int, message: str, headers: dict[str, str] | None = None) -> HttpError:
    """An error in Asana's envelope."""
    return HttpError(status, error_body(message), headers)


def _error_body(status: int) -> dict[str, Any]:
    messages = {
        500: "Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
        404: "Not Found",
    }
    return {"errors": [{"message": messages.get(status, f"Error {status}")}]}


class _AsanaServer(SandboxServer):
    """The shared server with Asana's gate in front: contract, plan, quotas."""

    gate: Callable[[Request], Response | None] | None = None
    after: Callable[[Request, Response], None] | None = None

    def _respond(self, request: Request) -> Response:
        early = self.gate(request) if self.gate else None
        response = early if early is not None else super()._respond(request)
        if self.after:
            self.after(request, response)
        return response


class AsanaSandbox(ServedSandbox):
    """A running Asana stand-in for one org; `url` ends in /api/1.0."""

    def __init__(
        self,
        org: AsanaOrg,
        *,
        faults: Faults | None = None,
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        token: str | None = None,
        strict: bool = True,
        check_responses: bool = True,
        clock: SandboxClock | None = None,
        quota: bool = False,
        quota_window: float = 60.0,
        quota_retry_after: int | None = None,
        concurrent_reads: int | None = None,
        event_type_field: bool = True,
    ):
        self.org = org
        self.comments = AsanaComments(self)
        self.token = token or "asana-sandbox-" + secrets.token_hex(8)
        self.expire_offset_every = 0
        # gids the search index has not caught up with yet (Asana indexes within 10-60 s)
        self.search_unindexed: set[str] = set()
        self.sync_generation = 0  # bumped by expire_sync_tokens: older tokens answer 412
        self.strict = strict
        self.check_responses = check_responses
        self.contract = Contract()
        self.clock = clock or SandboxClock(org.now)
        self.quota = (
            Quota(REQUESTS_PER_MINUTE[org.plan], quota_window, self.clock) if quota else None
        )
        self.quota_retry_after = quota_retry_after  # a fixed Retry-After on quota 429s
        self.concurrent_reads = concurrent_reads
        # events still carry the deprecated `type`; False serves only resource.resource_type
        self.event_type_field = event_type_field
        self._in_flight: dict[str, int] = {}
        self._reading: set[int] = set()  # requests counted in _in_flight
        self._sync_issued: dict[str, datetime] = {}
        self._offsets_seen = 0
        self._lock = threading.Lock()
        self._cache_version = -1
        self._task_cache: dict[str, dict[str, Any]] = {}
        self._list_cache: dict[tuple[Any, ...], list[str]] = {}
        self._members_version = -1
        self._members: dict[str, list[Task]] = {}
        self.server = _AsanaServer(
            "asana",
            auth=self._authorized,
            unauthorized_body=error_body("Not Authorized"),
            rate_limit_body=lambda: error_body(
                "You have made too many requests recently. Please, be chill."
            ),
            error_body=_error_body,
            faults=faults,
            port=port,
            tls=tls,
        )
        self.server.gate = self._gate
        self.server.after = self._after
        self.server.clock_now = self.clock.now  # Asana's `Date` header follows its clock
        self._routes()

    # -- where it listens and what users are handed --------------------------------------
    @property
    def url(self) -> str:
        return self.server.url + API

    def banner(self) -> str:
        return f"asana {self.url} token={self.token}"

    def source_entry(self, name: str, token_env: str) -> tuple[dict[str, Any], dict[str, str]]:
        """A handoff.yaml source mapping for this sandbox and the env vars it needs."""
        entry = {
            "name": name,
            "kind": "asana",
            "url": self.url,
            "token": f"${{{token_env}}}",
            "workspace": self.org.workspace_gid,
        }
        return entry, {token_env: self.token}

    def expire_sync_tokens(self) -> None:
        """Every sync token handed out so far is now too old (the next events call gets 412)."""
        self.sync_generation += 1

    # -- Asana's gate: contract, plan and quotas ------------------------------------------
    def _gate(self, request: Request) -> Response | None:
        """Answer here what Asana answers before serving: 400 (not in the contract), 429, 402."""
        problem = self.contract.check_request(request)
        if not self._authorized(request):
            return None  # the server answers 401
        if self.quota is not None:
            wait = self.quota.take(self.token)
            if wait is not None:
                return Response(
                    429,
                    error_body("You have made too many requests recently. Please, be chill."),
                    {"Retry-After": str(self.quota_retry_after or wait)},
                )
        if problem and self.strict:
            # "404: the request method and path supplied do not specify a known action"
            unknown = problem.startswith(UNKNOWN_ACTION)
            return Response(404 if unknown else 400, error_body(problem))
        if self.org.plan == "free" and _asks_for_premium(request):
            return Response(402, error_body(PAYMENT_REQUIRED))
        if self.concurrent_reads and request.method == "GET":
            with self._lock:
                running = self._in_flight.get(self.token, 0)
                if running >= self.concurrent_reads:
                    return Response(
                        429,
                        error_body("You have too many concurrent requests. Please, be chill."),
                        {"Retry-After": "1"},
                    )
                self._in_flight[self.token] = running + 1
                self._reading.add(id(request))
        return None

    def _after(self, request: Request, response: Response) -> None:
        with self._lock:
            if id(request) in self._reading:
                self._reading.discard(id(request))
                self._in_flight[self.token] -= 1
        if self.check_responses and response.raw is None:
            payload = json.dumps(response.body, separators=(",", ":")).encode()
            self.contract.check_response(request, response.status, payload, response.headers)

    # -- helpers -----------------------------------------------------------------------------
    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def _full_task(self, task: Task) -> dict[str, Any]:
        with self._lock:
            if self._cache_version != self.org.version:
                self._task_cache.clear()
                self._list_cache.clear()
                self._cache_version = self.org.version
            cached = self._task_cache.get(task.gid)
        if cached is None:
            cached = task_json(self.org, task)
            with self._lock:
                self._task_cache[task.gid] = cached
        return cached

    def _task(self, gid: str) -> Task:
        task = self.org.tasks.get(gid)
        if task is None:
            raise asana_error(404, f"task: Unknown object: {gid}")
        return task

    def _page(
        self,
        request: Request,
        key: tuple[Any, ...],
        items: Callable[[], list[Any]],
        render: Callable[[Any], dict[str, Any]],
    ) -> dict[str, Any]:
        """Asana paging: `limit` 1-100 and offset tokens; without `limit`, everything at once."""
        limit_arg = request.arg("limit")
        offset_arg = request.arg("offset")
        with self._lock:
            if self._cache_version != self.org.version:
                self._task_cache.clear()
                self._list_cache.clear()
                self._cache_version = self.org.version
            listing = self._list_cache.get(key)
        if listing is None:
            listing = items()
            with self._lock:
                self._list_cache[key] = listing
        start = 0
        if offset_arg:
            start = self._read_offset(offset_arg, key)
        if limit_arg is None:
            return {"data": [render(x) for x in listing[start:]]}
        try:
            limit = int(limit_arg)
        except ValueError:
            raise asana_error(400, "limit: Value is not an integer") from None
        if not 1 <= limit <= 100:
            raise asana_error(400, "limit: Must be between 1 and 100")
        chunk = listing[start : start + limit]
        data = [render(x) for x in chunk]
        end = start + limit
        if end >= len(listing):
            return {"data": data, "next_page": None}
        token = base64.urlsafe_b64encode(f"{hash(key) & 0xFFFFFFFF}:{end}".encode()).decode()
        query = "&".join(f"{k}={v[0]}" for k, v in request.query.items() if k != "offset")
        path = request.path.removeprefix(API) + f"?{query}&offset={token}"
        return {
            "data": data,
            "next_page": {"offset": token, "path": path, "uri": self.server.url + API + path},
        }

    def _read_offset(self, token: str, key: tuple[Any, ...]) -> int:
        with self._lock:
            self._offsets_seen += 1
            expire = self.expire_offset_every and self._offsets_seen % self.expire_offset_every == 0
        if expire:
            raise asana_error(400, "offset: Your pagination token has expired.")
        try:
            tag, _, position = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
            if int(tag) != hash(key) & 0xFFFFFFFF:
                raise ValueError
            return int(position)
        except ValueError:
            raise asana_error(400, "offset: Your pagination token is invalid.") from None

    def _tasks_listing(self, project: str, request: Request) -> list[str]:
        if project not in self.org.projects:
            raise asana_error(404, f"project: Unknown object: {project}")
        modified = _parse_time(request.arg("modified_since"), "modified_since")
        completed = _parse_time(request.arg("completed_since"), "completed_since")
        out = []
        for task in self._project_members(project):
            if modified and task.modified_at < modified:
                continue
            if completed and task.completed and task.completed_at and task.completed_at < completed:
                continue
            out.append(task.gid)
        return out

    def _project_members(self, project: str) -> list[Task]:
        """`org.project_tasks(project)`, from one pass over the org per version: listing every
        project must not cost a scan of every task per project."""
        with self._lock:
            if self._members_version != self.org.version:
                members: dict[str, list[Task]] = {}
                for task in self.org.tasks.values():
                    for gid in dict.fromkeys(p for p, _ in task.memberships):
                        members.setdefault(gid, []).append(task)
                self._members, self._members_version = members, self.org.version
            return self._members.get(project, [])

    def _task_page(
        self, request: Request, key: tuple[Any, ...], items: Callable[[], list[str]]
    ) -> dict[str, Any]:
        tree = field_tree(request.args("opt_fields"))
        if tree == {"num_subtasks": {}}:  # a census page: no need to render whole tasks
            return self._page(
                request,
                key,
                items,
                lambda gid: {"gid": gid, "num_subtasks": len(self.org.tasks[gid].subtasks)},
            )
        return self._page(
            request,
            key,
            items,
            lambda gid: select(self._full_task(self.org.tasks[gid]), tree, TASK_COMPACT),
        )

    # -- routes ------------------------------------------------------------------------------
    def _routes(self) -> None:
        route = self.server.route
        org = self.org

        @route("GET", API + "/workspaces")
        def workspaces(request: Request) -> Any:
            tree = field_tree(request.args("opt_fields"))
            ws = {**workspace_json(org), "is_organization": True, "email_domains": ["acme.example"]}
            return {"data": [select(ws, tree, ("gid", "resource_type", "name"))]}

        @route("GET", API + "/users/me")
        def me(request: Request) -> Any:
            first = next(iter(org.users), None)
            user = user_json(org, first) or {"gid": "0", "resource_type": "user", "name": "Sandbox"}
            return {"data": {**user, "workspaces": [workspace_json(org)]}}

        def users_page(request: Request) -> Any:
            tree = field_tree(request.args("opt_fields"))
            return self._page(
                request,
                ("users",),
                lambda: sorted(org.users),
                lambda g: select(user_json(org, g) or {}, tree, ("gid", "resource_type", "name")),
            )

        route("GET", API + "/users")(users_page)
        route("GET", API + "/workspaces/{workspace_gid}/users")(users_page)

        @route("GET", API + "/users/{user_gid}")
        def user(request: Request) -> Any:
            found = user_json(org, request.params["user_gid"])
            if found is None:
                raise asana_error(404, f"user: Unknown object: {request.params['user_gid']}")
            return {"data": found}

        def projects_page(request: Request) -> Any:
            tree = field_tree(request.args("opt_fields"))
            return self._page(
                request,
                ("projects",),
                lambda: list(org.projects),
                lambda g: select(project_json(org, g), tree, ("gid", "resource_type", "name")),
            )

        route("GET", API + "/projects")(projects_page)
        route("GET", API + "/workspaces/{workspace_gid}/projects")(projects_page)

        @route("GET", API + "/projects/{project_gid}")
        def project(request: Request) -> Any:
            gid = request.params["project_gid"]
            if gid not in org.projects:
                raise asana_error(404, f"project: Unknown object: {gid}")
            tree = field_tree(request.args("opt_fields"))
            full = project_json(org, gid)
            return {"data": select(full, tree, tuple(full)) if tree else full}

        @route("GET", API + "/projects/{project_gid}/sections")
        def sections(request: Request) -> Any:
            gid = request.params["project_gid"]
            if gid not in org.projects:
                raise asana_error(404, f"project: Unknown object: {gid}")
            tree = field_tree(request.args("opt_fields"))
            return self._page(
                request,
                ("sections", gid),
                lambda: list(org.projects[gid].section_gids),
                lambda s: select(section_json(org, s), tree, ("gid", "resource_type", "name")),
            )

        @route("GET", API + "/projects/{project_gid}/tasks")
        def project_tasks(request: Request) -> Any:
            gid = request.params["project_gid"]
            key = ("tasks", gid, request.arg("modified_since"), request.arg("completed_since"))
            return self._task_page(request, key, lambda: self._tasks_listing(gid, request))

        @route("GET", API + "/tasks")
        def tasks(request: Request) -> Any:
            gid = request.arg("project") or request.arg("section")
            if not gid:
                raise asana_error(
                    400,
                    "project: Must specify exactly one of project, tag, "
                    "section, user task list, or assignee + workspace",
                )
            if request.arg("section"):
                section = org.sections.get(gid)
                if section is None:
                    raise asana_error(404, f"section: Unknown object: {gid}")
                key: tuple[Any, ...] = ("section", gid, request.arg("modified_since"))
                return self._task_page(
                    request,
                    key,
                    lambda: [
                        g
                        for g in self._tasks_listing(section.project_gid, request)
                        if any(s == gid for _, s in org.tasks[g].memberships)
                    ],
                )
            key = ("tasks", gid, request.arg("modified_since"), request.arg("completed_since"))
            return self._task_page(request, key, lambda: self._tasks_listing(gid, request))

        @route("GET", API + "/tasks/{task_gid}")
        def task(request: Request) -> Any:
            found = self._task(request.params["task_gid"])
            tree = field_tree(request.args("opt_fields"))
            full = self._full_task(found)
            return {"data": select(full, tree, tuple(full)) if tree else full}

        @route("GET", API + "/tasks/{task_gid}/subtasks")
        def subtasks(request: Request) -> Any:
            gid = request.params["task_gid"]
            parent = self._task(gid)
            return self._task_page(request, ("subtasks", gid), lambda: list(parent.subtasks))

        def links(attr: str) -> Callable[[Request], Any]:
            def handler(request: Request) -> Any:
                gid = request.params["task_gid"]
                found = self._task(gid)
                return self._task_page(request, (attr, gid), lambda: list(getattr(found, attr)))

            return handler

        route("GET", API + "/tasks/{task_gid}/dependencies")(links("dependencies"))
        route("GET", API + "/tasks/{task_gid}/dependents")(links("dependents"))

        @route("GET", API + "/tasks/{task_gid}/stories")
        def stories(request: Request) -> Any:
            gid = request.params["task_gid"]
            found = self._task(gid)
            tree = field_tree(request.args("opt_fields"))
            return self._page(
                request,
                ("stories", gid),
                lambda: list(found.story_gids),
                lambda s: select(story_json(org, org.stories[s]), tree, STORY_COMPACT),
            )

        @route("GET", API + "/status_updates")
        def status_updates(request: Request) -> Any:
            parent = request.arg("parent")
            if not parent:
                raise asana_error(400, "parent: Missing input")
            if parent not in org.projects:
                raise asana_error(404, f"parent: Unknown object: {parent}")
            tree = field_tree(request.args("opt_fields"))
            return self._page(
                request,
                ("status_updates", parent),
                lambda: sorted(
                    (u.gid for u in org.status_updates.values() if u.parent_gid == parent),
                    key=lambda g: org.status_updates[g].created_at,
                    reverse=True,  # newest first, as Asana lists them
                ),
                lambda g: select(status_update_json(org, g), tree, STATUS_UPDATE_COMPACT),
            )

        @route("GET", API + "/workspaces/{workspace_gid}/tasks/search")
        def search(request: Request) -> Any:
            if request.params["workspace_gid"] != org.workspace_gid:
                raise asana_error(
                    404, f"workspace: Unknown object: {request.params['workspace_gid']}"
                )
            return self._search(request)

        @route("GET", API + "/events")
        def events(request: Request) -> Any:
            return self._events(request)

        route("POST", API + "/tasks/{task_gid}/stories")(self.comments.create)
        route("PUT", API + "/stories/{story_gid}")(self.comments.update)
        route("DELETE", API + "/stories/{story_gid}")(self.comments.delete)

    def _search(self, request: Request) -> dict[str, Any]:
        """One page of task search: the filters the sandbox implements, sorted, no paging."""
        unknown = sorted(
            k
            for k in request.query
            if k not in SEARCH_FILTERS | {"opt_fields", "opt_pretty", "sort_by", "sort_ascending"}
        )
        if unknown:
            raise asana_error(400, f"{unknown[0]}: the sandbox's search does not implement it")
        sort_by = request.arg("sort_by") or "modified_at"
        if sort_by not in {"created_at", "modified_at"}:
            raise asana_error(400, "sort_by: the sandbox sorts by created_at or modified_at only")
        ascending = (request.arg("sort_ascending") or "false").lower() == "true"
        flags = {
            k: (request.arg(k) or "").lower() == "true"
            for k in ("is_subtask", "completed")
            if request.arg(k) is not None
        }
        bounds = {
            k: _parse_time(request.arg(k), k)
            for k in SEARCH_FILTERS - {"is_subtask", "completed"}
            if request.arg(k) is not None
        }

        def matches(task: Task) -> bool:
            if "is_subtask" in flags and (task.parent is not None) != flags["is_subtask"]:
                return False
            if "completed" in flags and task.completed != flags["completed"]:
                return False
            for name, bound in bounds.items():
                field, _, side = name.partition(".")
                value = task.created_at if field == "created_at" else task.modified_at
                if bound is not None and (value >= bound if side == "before" else value <= bound):
                    return False
            return True

        found = sorted(
            (
                t
                for t in self.org.tasks.values()
                if t.gid not in self.search_unindexed and matches(t)
            ),
            key=lambda t: (getattr(t, sort_by), t.gid),
            reverse=not ascending,
        )[:SEARCH_PAGE]
        tree = field_tree(request.args("opt_fields"))
        return {"data": [select(self._full_task(t), tree, TASK_COMPACT) for t in found]}

    def _sync_token(self, seq: int) -> str:
        token = f"{seq}-{self.sync_generation}-{secrets.token_hex(6)}"
        with self._lock:
            self._sync_issued[token] = self.clock.now()
        return token

    def _sync_expired(self, token: str) -> bool:
        with self._lock:
            issued = self._sync_issued.get(token)
        return issued is None or self.clock.now() - issued > SYNC_TOKEN_LIFETIME

    def _events(self, request: Request) -> Any:
        resource = request.arg("resource")
        if not resource:
            raise asana_error(400, "resource: Missing input")
        if resource not in self.org.projects and resource not in self.org.tasks:
            raise asana_error(404, f"resource: Unknown object: {resource}")
        sync = request.arg("sync")
        current = len(self.org.events)
        fresh = self._sync_token(current)
        seq = _sync_seq(sync)
        if (
            seq is None
            or (sync or "").split("-")[1:2] != [str(self.sync_generation)]
            or seq > current
            or self._sync_expired(sync or "")
        ):
            raise HttpError(412, {**error_body(SYNC_EXPIRED), "sync": fresh})
        matched = []
        last = seq
        for event in self.org.events[seq:]:
            last = event.seq
            if (
                resource in event.project_gids
                or resource == event.resource_gid
                or (
                    event.resource_gid in self.org.tasks
                    and self.org.root_of(event.resource_gid).gid == resource
                )
            ):
                matched.append(event)
                if len(matched) == EVENTS_PER_RESPONSE:
                    break
        has_more = (
            any(resource in e.project_gids for e in self.org.events[last:])
            if len(matched) == EVENTS_PER_RESPONSE
            else False
        )
        return {
            "data": [event_json(self.org, e, self.event_type_field) for e in matched],
            "sync": self._sync_token(last if has_more else current),
            "has_more": has_more,
        }


def _asks_for_premium(request: Request) -> bool:
    """Dependencies (by their endpoints or as fields of a task) and task search."""
    if request.path.endswith(("/dependencies", "/dependents", "/tasks/search")):
        return True
    return any(f.split(".")[0] in PREMIUM_FIELDS for f in request.args("opt_fields"))


def _sync_seq(token: str | None) -> int | None:
    if not token:
        return None
    head, _, _ = token.partition("-")
    return int(head) if head.isdigit() else None


def _parse_time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise asana_error(400, f"{name}: Not a valid datetime: {value}") from None
    if parsed.tzinfo is None:
        raise asana_error(400, f"{name}: Time zone required: {value}")
    return parsed
