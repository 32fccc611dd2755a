"""A Jira Cloud / Data Center stand-in that serves a `JiraOrg` over real HTTP.

Follows Atlassian's contract (sandbox/specs/jira-cloud-platform-v3.subset.json): enhanced search
with `nextPageToken`, the 410 of the removed `search` on Cloud, `startAt`/`total` paging on Data
Center, changelogs truncated on search as Cloud does, bulk changelogs, remote links, and the
auth of each deployment. Paging re-evaluates the query like a live server, so an issue updated
between two pages shifts the result (`update_while_paging` provokes exactly that).
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import threading
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sandbox.jira.access import (
    ADMINISTER,
    ADMINISTER_PROJECTS,
    BROWSE,
    JiraAccount,
    Quota,
    make_account,
)
from sandbox.jira.comments import Comments
from sandbox.jira.contract import Checked, check
from sandbox.jira.jql import JqlError, evaluate, parse
from sandbox.jira.org import CUSTOM_FIELDS, LINK_TYPES, Issue, JiraOrg
from sandbox.jira.render import (
    ALL_FIELDS,
    EPIC_LINK_FIELD,
    EPIC_LINK_TYPE,
    SYSTEM_FIELDS,
    Renderer,
    jira_time,
    wanted_fields,
)
from sandbox.server import Faults, HttpError, Request, Response, SandboxServer, ServedSandbox

GONE = {
    "errorMessages": [
        "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
        "A full migration guideline is available at "
        "https://developer.atlassian.com/changelog/#CHANGE-2046"
    ],
    "errors": {},
}
CUSTOM_TYPE = "com.atlassian.jira.plugin.system.customfieldtypes:"
LIGHT_FIELDS = {"id", "key", "updated", "created", "status"}
NOT_ADMIN = "You are not authorized to perform this action. Administrator privileges are required."


def _error(status: int, message: str, messages: list[str] | None = None) -> HttpError:
    return HttpError(status, {"errorMessages": messages or [message], "errors": {}})


def _token(offset: int, query_id: str) -> str:
    raw = json.dumps({"o": offset, "q": query_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _untoken(token: str) -> dict[str, Any]:
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))  # type: ignore[no-any-return]
    except ValueError:
        raise _error(400, "The provided next page token is invalid or expired.") from None


class JiraSandbox(ServedSandbox):
    """Serves `org` as Jira Cloud (`deployment="cloud"`) or Data Center (`"data_center"`).

    Vendor-faithful by default: every request is checked against Atlassian's OpenAPI document
    (`strict`; results in `contract_log`), the account (`email`/`token`) holds *Browse
    projects* only (`permissions="admin"` grants *Administer Jira*), its time zone is
    `time_zone`, and `rate_limit` requests per `rate_window_seconds` (off unless set). It may
    comment only in `comment_projects` (None: every project; empty, the default: none). Data
    Center speaks its own dialect (wiki markup, Epic Link, no hierarchy) unless `dc_shapes` is
    False. A second
    account, `admin` (`admin_email`/`admin_token`), always administers the site.
    """

    def __init__(
        self,
        org: JiraOrg,
        *,
        deployment: Literal["cloud", "data_center"] = "cloud",
        faults: Faults | None = None,
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        email: str = "sync-bot@example.com",
        token: str | None = None,
        ca_bundle: str | None = None,
        update_while_paging: bool = False,
        changelog_expand_limit: int | None = None,
        strict: bool = True,
        permissions: Literal["browse", "admin"] = "browse",
        browse_projects: Collection[str] | None = None,
        time_zone: str = "America/New_York",
        rate_limit: int | None = None,
        rate_window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        denied_status: int = 403,
        dc_shapes: bool = True,
        check_requests: bool = True,
        comment_projects: Collection[str] | None = (),
    ):
        self.org = org
        self.strict = strict
        # projects where the sync account holds Add comments (None: all); Browse-only by default
        self.comment_projects = None if comment_projects is None else set(comment_projects)
        self.comments = Comments(self)
        # benchmarks measure the sync, not the checker: they may switch request checks off
        self.check_requests = check_requests
        self.time_zone = time_zone
        self.denied_status = denied_status
        self.dc_shapes = dc_shapes
        self.contract_log: list[Checked] = []  # every request, checked against the document
        self.quota = Quota(rate_limit, rate_window_seconds, clock) if rate_limit else None
        self.deployment = deployment
        self.cloud = deployment == "cloud"
        self.email = email
        self.token = token or f"sbx-{secrets.token_urlsafe(18)}"
        self.ca_bundle = ca_bundle
        self.account = make_account(
            "sync-bot",
            email,
            self.token,
            role=permissions,
            projects=browse_projects,
            time_zone=time_zone,
        )
        self.admin = make_account(
            "jira-admin",
            "admin@example.com",
            f"sbx-{secrets.token_urlsafe(18)}",
            role="admin",
            time_zone=time_zone,
        )
        self._caller = self.account
        self.update_while_paging = update_while_paging
        self.paging_updates: list[str] = []  # keys touched by update_while_paging
        # Cloud keeps the latest 100 histories on search; Data Center returns them all.
        self.changelog_expand_limit = changelog_expand_limit or (100 if self.cloud else None)
        self.lock = threading.RLock()
        self._cache: dict[str, tuple[int, list[Issue]]] = {}
        self._ids: tuple[int, dict[str, str]] = (-1, {})
        self.server = SandboxServer(
            "jira",
            auth=self._authorised,
            unauthorized_body={
                "errorMessages": [
                    "You are not authenticated. Authentication required to perform this operation."
                ],
                "errors": {},
            },
            rate_limit_body=lambda: {"errorMessages": ["Rate limit exceeded."], "errors": {}},
            error_body=lambda status: {
                "errorMessages": [f"Internal server error ({status})."],
                "errors": {},
            },
            faults=faults,
            check=self._check_contract,
            port=port,
            tls=tls,
        )
        self._routes()

    # -- where it listens and what users are handed --------------------------------------
    def banner(self) -> str:
        if self.cloud:
            return f"jira {self.url} email={self.email} token={self.token}"
        return f"jira {self.url} deployment=data_center token={self.token}"

    def source_entry(self, name: str, token_env: str) -> tuple[dict[str, Any], dict[str, str]]:
        """A `handoff.yaml` source mapping for this server and the env vars it needs."""
        entry: dict[str, Any] = {
            "name": name,
            "kind": "jira",
            "url": self.url,
            "deployment": self.deployment,
            "token": f"${{{token_env}}}",
            "projects": sorted(self.org.projects),
            "custom_fields": {"department": "Department", "story_points": "customfield_10020"},
        }
        if self.cloud:
            entry["email"] = self.email
        if self.ca_bundle:
            entry["ca_bundle"] = self.ca_bundle
        return entry, {token_env: self.token}

    # -- auth --------------------------------------------------------------------------------
    def credentials(self, account: JiraAccount) -> str:
        """The Authorization header an account sends (Cloud: Basic e-mail:token; DC: PAT)."""
        if self.cloud:
            pair = base64.b64encode(f"{account.email}:{account.token}".encode()).decode()
            return f"Basic {pair}"
        return f"Bearer {account.token}"

    def _who(self, request: Request) -> JiraAccount | None:
        header = request.headers.get("authorization", "")
        for account in (self.account, self.admin):
            if header == self.credentials(account):
                return account
        return None

    def _authorised(self, request: Request) -> bool:
        return self._who(request) is not None

    @property
    def invalid_requests(self) -> list[Checked]:
        return [c for c in self.contract_log if not c.ok]

    def _check_contract(self, request: Request) -> Response | None:
        """Check a request against the vendor document; in strict mode refuse it as Jira does."""
        if not self.check_requests:
            return None
        checked = check(request, self.deployment)
        with self.lock:
            self.contract_log.append(checked)
        if checked.ok or not self.strict:
            return None
        if checked.status == 404:
            return Response(404, {"errorMessages": ["null for uri"], "errors": {}})
        if checked.status == 405:
            return Response(405, {"errorMessages": ["Method Not Allowed"], "errors": {}})
        return Response(400, {"errorMessages": [checked.problem or "Bad request"], "errors": {}})

    # -- routes ------------------------------------------------------------------------------
    def _routes(self) -> None:
        s = self.server
        api = r"/rest/api/{version}"
        for method, path, handler in [
            ("GET", "/serverInfo", self.server_info),
            ("GET", "/field", self.fields),
            ("GET", "/myself", self.myself),
            ("GET", "/search/jql", self.search_jql),
            ("POST", "/search/jql", self.search_jql),
            ("POST", "/search/approximate-count", self.approximate_count),
            ("GET", "/search", self.search_legacy),
            ("POST", "/search", self.search_legacy),
            ("GET", "/issue/{key}", self.issue),
            ("GET", "/issue/{key}/changelog", self.issue_changelog),
            ("POST", "/changelog/bulkfetch", self.bulk_changelog),
            ("GET", "/issue/{key}/remotelink", self.remote_links),
            ("GET", "/issueLinkType", self.link_types),
            ("GET", "/statuses/search", self.statuses_search),
            ("GET", "/status", self.statuses_list),
            ("GET", "/project/search", self.projects),
            ("GET", "/project", self.project_list),
            ("GET", "/mypermissions", self.my_permissions),
            ("POST", "/issue/bulkfetch", self.bulk_issues),
            ("GET", "/issue/{key}/comment", self.comments.list),
            ("POST", "/issue/{key}/comment", self.comments.create),
            ("GET", "/issue/{key}/comment/{id}", self.comments.get),
            ("PUT", "/issue/{key}/comment/{id}", self.comments.update),
            ("DELETE", "/issue/{key}/comment/{id}", self.comments.delete),
        ]:
            s.route(method, api + path)(self._guard(handler))

    def _guard(self, handler: Any) -> Any:
        def wrapped(request: Request) -> Any:
            version = request.params.get("version")
            allowed = ("2", "3", "latest") if self.cloud else ("2", "latest")
            if version not in allowed:
                raise _error(404, "null for uri")
            caller = self._who(request) or self.account
            headers: dict[str, str] = {}
            if self.quota is not None:
                allowed_now, headers = self.quota.take(caller.name)
                if not allowed_now:
                    return Response(429, self.server.rate_limit_body(), headers)
            with self.lock:
                self._caller = caller
                result = handler(request)
            if isinstance(result, Response):
                result.headers.update(headers)
                return result
            return Response(200, result, headers)

        return wrapped

    def renderer(self, request: Request) -> Renderer:
        api = "3" if request.params.get("version") == "3" else "2"
        return Renderer(self.org, self.url, api, self.cloud, self._caller.time_zone, self.dc_shapes)

    def _visible(self, project: str) -> bool:
        return self._caller.can_browse(project)

    def _deny(self) -> HttpError:
        return _error(self.denied_status, NOT_ADMIN)

    # -- simple resources --------------------------------------------------------------------
    def server_info(self, request: Request) -> dict[str, Any]:
        version = [1001, 0, 0] if self.cloud else [10, 3, 5]
        return {
            "baseUrl": self.url,
            "displayUrl": self.url,
            "version": ".".join(map(str, version)) + ("-SNAPSHOT" if self.cloud else ""),
            "versionNumbers": version,
            "deploymentType": "Cloud" if self.cloud else "Server",
            "buildNumber": 100300,
            "buildDate": "2025-05-01T00:00:00.000+0000",
            "serverTime": jira_time(datetime.now(UTC)),
            "scmInfo": "sandbox",
            "serverTitle": "Jira",
        }

    def fields(self, request: Request) -> list[dict[str, Any]]:
        out = [
            {
                "id": name,
                "key": name,
                "name": name[:1].upper() + name[1:],
                "custom": False,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": [name],
                "schema": {"type": "string", "system": name},
            }
            for name in SYSTEM_FIELDS
        ]
        for field_id, (name, kind) in CUSTOM_FIELDS.items():
            number = int(field_id.rsplit("_", 1)[1])
            out.append(
                {
                    "id": field_id,
                    "key": field_id,
                    "name": name,
                    "custom": True,
                    "orderable": True,
                    "navigable": True,
                    "searchable": True,
                    "clauseNames": [f"cf[{number}]", name],
                    "schema": {
                        "type": kind,
                        "custom": CUSTOM_TYPE + ("select" if kind == "option" else "float"),
                        "customId": number,
                    },
                }
            )
        if not self.cloud:
            number = int(EPIC_LINK_FIELD.rsplit("_", 1)[1])
            out.append(
                {
                    "id": EPIC_LINK_FIELD,
                    "name": "Epic Link",
                    "custom": True,
                    "orderable": True,
                    "navigable": True,
                    "searchable": True,
                    "clauseNames": [f"cf[{number}]", "Epic Link"],
                    "schema": {"type": "any", "custom": EPIC_LINK_TYPE, "customId": number},
                }
            )
        return out

    def myself(self, request: Request) -> dict[str, Any]:
        me = self._caller
        out: dict[str, Any] = {
            "self": self.renderer(request).url("myself"),
            "displayName": me.display_name,
            "emailAddress": me.email,
            "active": True,
            "timeZone": me.time_zone,
            "locale": "en_US",
        }
        if self.cloud:
            out.update(accountId=me.account_id, accountType="atlassian")
        else:
            out.update(name=me.name, key=me.name)
        return out

    def my_permissions(self, request: Request) -> dict[str, Any]:
        """`GET /mypermissions`; Cloud has required `permissions` since February 2019."""
        wanted = request.args("permissions")
        if self.cloud and not wanted:
            raise _error(400, "The permissions query parameter is required.")
        project = request.arg("projectKey")
        names = wanted or [BROWSE, ADMINISTER_PROJECTS, ADMINISTER]
        return {
            "permissions": {
                name: {
                    "id": str(i),
                    "key": name,
                    "name": name.replace("_", " ").title(),
                    "type": "GLOBAL" if name == ADMINISTER else "PROJECT",
                    "description": "",
                    "havePermission": self._caller.has(name, project),
                }
                for i, name in enumerate(names, start=1)
            }
        }

    def link_types(self, request: Request) -> dict[str, Any]:
        render = self.renderer(request)
        return {
            "issueLinkTypes": [
                {
                    "id": tid,
                    "name": name,
                    "inward": inward,
                    "outward": outward,
                    "self": render.url(f"issueLinkType/{tid}"),
                }
                for name, (tid, inward, outward) in LINK_TYPES.items()
            ]
        }

    def statuses_search(self, request: Request) -> dict[str, Any]:
        if not self._caller.has(ADMINISTER_PROJECTS):
            raise self._deny()
        start = int(request.arg("startAt", "0") or 0)
        size = min(int(request.arg("maxResults", "200") or 200), 200)
        names = {"new": "TODO", "indeterminate": "IN_PROGRESS", "done": "DONE"}
        values = [
            {
                "id": s.id,
                "name": s.name,
                "description": "",
                "statusCategory": names[s.category],
                "scope": {"type": "GLOBAL"},
            }
            for s in self.org.statuses.values()
        ]
        page = values[start : start + size]
        return {
            "self": self.renderer(request).url("statuses/search"),
            "startAt": start,
            "maxResults": size,
            "total": len(values),
            "isLast": start + size >= len(values),
            "values": page,
        }

    def statuses_list(self, request: Request) -> list[dict[str, Any]]:
        render = self.renderer(request)
        return [render.status(s) for s in self.org.statuses]

    def projects(self, request: Request) -> dict[str, Any]:
        start = int(request.arg("startAt", "0") or 0)
        size = min(int(request.arg("maxResults", "50") or 50), 100)
        render = self.renderer(request)
        values = [render.project(key) for key in sorted(self.org.projects) if self._visible(key)]
        return {
            "self": render.url("project/search"),
            "startAt": start,
            "maxResults": size,
            "total": len(values),
            "isLast": start + size >= len(values),
            "values": values[start : start + size],
        }

    def project_list(self, request: Request) -> list[dict[str, Any]]:
        """`GET /project`: every project the caller may browse (Data Center's listing)."""
        render = self.renderer(request)
        return [render.project(key) for key in sorted(self.org.projects) if self._visible(key)]

    # -- search ------------------------------------------------------------------------------
    def _params(self, request: Request) -> dict[str, Any]:
        if request.method == "POST":
            body = request.json()
            fields = body.get("fields") or []
            if isinstance(fields, str):
                fields = fields.split(",")
            return {**body, "fields": [f for f in fields if f]}
        return {
            "jql": request.arg("jql", "") or "",
            "nextPageToken": request.arg("nextPageToken"),
            "startAt": request.arg("startAt"),
            "maxResults": request.arg("maxResults"),
            "fields": request.args("fields"),
            "expand": ",".join(request.args("expand")),
            "validateQuery": request.arg("validateQuery"),
        }

    def _matches(self, jql: str, validate: object = True) -> tuple[str, list[Issue]]:
        """Evaluated results of `jql`, cached until the org changes (a live re-evaluation)."""
        strict_query = validate not in (False, "false", "warn", "none")
        try:
            query = parse(
                jql,
                self.org,
                ZoneInfo(self._caller.time_zone),
                require_bounded=self.cloud,
                visible=self._visible,
                validate=strict_query,
            )
        except JqlError as err:
            raise _error(400, str(err), err.messages) from None
        cache_key = f"{self._caller.name}|{jql}"
        cached = self._cache.get(cache_key)
        if cached and cached[0] == self.org.version:
            return jql, cached[1]
        issues = evaluate(query, self.org, self._visible)
        if len(self._cache) > 32:
            self._cache.clear()
        self._cache[cache_key] = (self.org.version, issues)
        return jql, issues

    def _page_cap(self, fields: list[str], expand: str) -> int:
        light = [f for f in fields if f not in ("id", "key")]
        if "changelog" in expand or any(f not in LIGHT_FIELDS for f in light):
            return 100
        return 5000 if not light else 1000 if len(light) <= 2 else 100

    def _maybe_update_while_paging(self, issues: list[Issue], offset: int) -> None:
        if self.update_while_paging and offset > 0 and issues:
            key = issues[0].key
            self.org.touch([key], datetime.now(UTC))
            self.paging_updates.append(key)

    def search_jql(self, request: Request) -> dict[str, Any]:
        if not self.cloud:
            raise _error(404, "null for uri")
        params = self._params(request)
        jql = params.get("jql") or ""
        query_id, issues = self._matches(jql)
        offset = 0
        if params.get("nextPageToken"):
            offset = int(_untoken(params["nextPageToken"]).get("o", 0))
            self._maybe_update_while_paging(issues, offset)
            query_id, issues = self._matches(jql)
        fields = wanted_fields(list(params.get("fields") or []), default=[])
        expand = str(params.get("expand") or "")
        cap = self._page_cap(list(params.get("fields") or []), expand)
        size = max(1, min(int(params.get("maxResults") or 50), cap))
        page = issues[offset : offset + size]
        render = self.renderer(request)
        out: dict[str, Any] = {
            "issues": [
                render.issue(
                    i,
                    fields,
                    changelog="changelog" in expand,
                    changelog_limit=self.changelog_expand_limit,
                )
                for i in page
            ],
            "isLast": offset + size >= len(issues),
        }
        if not out["isLast"]:
            out["nextPageToken"] = _token(offset + size, query_id)
        return out

    def approximate_count(self, request: Request) -> dict[str, Any]:
        if not self.cloud:
            raise _error(404, "null for uri")
        _, issues = self._matches(str(request.json().get("jql") or ""))
        return {"count": len(issues)}

    def search_legacy(self, request: Request) -> dict[str, Any]:
        if self.cloud:
            raise HttpError(410, GONE)
        params = self._params(request)
        jql = params.get("jql") or ""
        start = int(params.get("startAt") or 0)
        validate = params.get("validateQuery", True)
        _, issues = self._matches(jql, validate)
        self._maybe_update_while_paging(issues, start)
        _, issues = self._matches(jql, validate)
        requested = list(params.get("fields") or [])
        fields = wanted_fields(requested, default=["*navigable"], extra=self._extra_fields())
        raw_expand = params.get("expand") or ""
        expand = ",".join(raw_expand) if isinstance(raw_expand, list) else str(raw_expand)
        size = max(1, min(int(params.get("maxResults") or 50), 1000))
        page = issues[start : start + size]
        render = self.renderer(request)
        return {
            "expand": "schema,names",
            "startAt": start,
            "maxResults": size,
            "total": len(issues),
            "issues": [
                render.issue(
                    i,
                    fields,
                    changelog="changelog" in expand,
                    changelog_limit=self.changelog_expand_limit,
                )
                for i in page
            ],
        }

    def _extra_fields(self) -> tuple[str, ...]:
        return () if self.cloud else (EPIC_LINK_FIELD,)

    # -- one issue ---------------------------------------------------------------------------
    def _by_id(self, ref: str) -> Issue | None:
        issue = self.org.issues.get(ref)
        if issue is not None:
            return issue
        if self._ids[0] != self.org.version or len(self._ids[1]) != len(self.org.issues):
            self._ids = (self.org.version, {i.id: i.key for i in self.org.issues.values()})
        key = self._ids[1].get(ref)
        return self.org.issues.get(key) if key else None

    def _issue(self, key: str) -> Issue:
        issue = self._by_id(key)
        if issue is None or not self._visible(issue.project):
            raise _error(404, "Issue does not exist or you do not have permission to see it.")
        return issue

    def issue(self, request: Request) -> dict[str, Any]:
        issue = self._issue(request.params["key"])
        fields = wanted_fields(request.args("fields"), default=["*all"], extra=self._extra_fields())
        expand = ",".join(request.args("expand"))
        # Data Center returns the whole history on a single issue; Cloud truncates it too.
        limit = self.changelog_expand_limit if self.cloud else None
        return self.renderer(request).issue(
            issue, fields, changelog="changelog" in expand, changelog_limit=limit
        )

    def issue_changelog(self, request: Request) -> dict[str, Any]:
        issue = self._issue(request.params["key"])
        start = int(request.arg("startAt", "0") or 0)
        size = max(1, min(int(request.arg("maxResults", "100") or 100), 100))
        render = self.renderer(request)
        histories = issue.histories[start : start + size]
        is_last = start + size >= len(issue.histories)
        out: dict[str, Any] = {
            "self": render.url(f"issue/{issue.key}/changelog?startAt={start}&maxResults={size}"),
            "startAt": start,
            "maxResults": size,
            "total": len(issue.histories),
            "isLast": is_last,
            "values": [render.history(h) for h in histories],
        }
        if not is_last:
            out["nextPage"] = render.url(
                f"issue/{issue.key}/changelog?startAt={start + size}&maxResults={size}"
            )
        return out

    def bulk_changelog(self, request: Request) -> dict[str, Any]:
        if not self.cloud:
            raise _error(404, "null for uri")
        body = request.json()
        ids = body.get("issueIdsOrKeys") or []
        field_ids = body.get("fieldIds") or []
        if not ids or len(ids) > 1000:
            raise _error(400, "issueIdsOrKeys must contain between 1 and 1000 items.")
        if len(field_ids) > 10:
            raise _error(400, "fieldIds must contain at most 10 items.")
        size = int(body.get("maxResults") or 1000)
        if not 1 <= size <= 10000:
            raise _error(400, "maxResults must be between 1 and 10000.")
        offset = (
            int(_untoken(body["nextPageToken"]).get("o", 0)) if body.get("nextPageToken") else 0
        )
        wanted = set(field_ids) or None
        render = self.renderer(request)
        flat: list[tuple[Issue, Any]] = []
        for ref in ids:
            issue = self._by_id(ref)
            if issue is None or not self._visible(issue.project):
                continue
            for history in issue.histories:
                if wanted is None or any(item[0] in wanted for item in history.items):
                    flat.append((issue, history))
        page = flat[offset : offset + size]
        groups: list[dict[str, Any]] = []
        for issue, history in page:
            if not groups or groups[-1]["issueId"] != issue.id:
                groups.append({"issueId": issue.id, "changeHistories": []})
            groups[-1]["changeHistories"].append(render.history(history, field_ids=wanted))
        out: dict[str, Any] = {"issueChangeLogs": groups}
        if offset + size < len(flat):
            out["nextPageToken"] = _token(offset + size, "bulk")
        return out

    def bulk_issues(self, request: Request) -> dict[str, Any]:
        """`POST /issue/bulkfetch` (Cloud): up to 100 ids or keys, ascending id order.

        The document says issues that are missing or not visible are left out of both `issues`
        and `issueErrors`; callers find them by comparing what they asked for.
        """
        if not self.cloud:
            raise _error(404, "null for uri")
        body = request.json()
        refs = [str(r) for r in body.get("issueIdsOrKeys") or []]
        if not refs or len(refs) > 100:
            raise _error(400, "issueIdsOrKeys must contain between 1 and 100 items.")
        found: dict[str, Issue] = {}
        for ref in refs:
            issue = self._by_id(ref)
            if issue is not None and self._visible(issue.project):
                found[issue.id] = issue
        fields = wanted_fields(list(body.get("fields") or []), default=["*navigable"])
        changelog = "changelog" in (body.get("expand") or [])
        render = self.renderer(request)
        ordered = sorted(found.values(), key=lambda i: int(i.id))
        return {
            "issues": [
                render.issue(i, fields, changelog=changelog, changelog_limit=40) for i in ordered
            ],
            "issueErrors": [],
        }

    def remote_links(self, request: Request) -> list[dict[str, Any]]:
        issue = self._issue(request.params["key"])
        render = self.renderer(request)
        return [render.remote_link(link) for link in self.org.remote_links.get(issue.key, [])]


__all__ = ["ALL_FIELDS", "JiraSandbox"]
