"""Jira Cloud / Data Center connector: issues, full status histories, remote links, census.

What a fetch yields (record types in the raw store):
- `issue`: the IssueBean as Jira returns it (only the fields the model needs plus configured
  custom fields), without its `changelog`;
- `changelog`: `{"issueId", "issueKey", "histories": [...]}` holding every status change,
  due-date move and link addition of the issue (histories filtered to those items). The expanded changelog of a search is
  truncated by Jira Cloud to the latest 100 entries; the rest comes from `changelog/bulkfetch`
  (Cloud) or the issue itself (Data Center);
- `remotelink`: `{"issueKey", "links": [...]}` for each issue whose changelog shows a
  `RemoteIssueLink` item (Jira writes one when a link is added or removed): ever, on a full
  sync; since the cursor, on an incremental one. Jira has no bulk remote-link endpoint, so this
  is one request per such issue instead of one per issue. Links an integration writes without
  history are caught by a sweep of every issue each `remote_link_sweep_days` (0 = never);
- `status`: the site's statuses (so categories of past statuses are known), and `meta`
  records: `custom_fields` mapping model names to the resolved field ids, and on Data Center
  `epic_link` naming the Epic Link field (stories reach their epic through it there).

A *Browse projects* account is enough: statuses come from `GET /status`, and reference data an
account may not read (a 403 or 404 from `status` or `field`) becomes a warning, not a failure.

Incremental syncs search `updated >= cursor - overlap`, written in the sync user's time zone
(JQL reads date literals in it). A sync ends with a cheap key census (key and `updated`
only, big pages): it drives deletions (`Census`) and repairs what paging can miss on a live
site (an issue updated between two pages shifts the results). Repairs re-read issues by key:
`POST /issue/bulkfetch` on Cloud (an issue deleted meanwhile is simply absent), `key in (...)`
on Data Center, dropping the keys its 400 names as gone. An incremental sync skips the census
when Jira's count of the scope equals the keys the cursor holds plus the new keys it saw
(nothing deleted), its search was shorter than the overlap (an update while paging falls in the
next window), and the last census is less than `census_days` old. When the count disagrees, one
count per project finds the projects whose count moved, and only their keys are listed (while
the projects are fewer than the census's pages, and the counts add up to the scope's). A
deletion hidden from the count by an issue entering scope unseen (no `updated` change: a
permission or a scope change) is found by the whole census every `census_days`, as before (a
deletion in another project no longer brings that census forward).

Paging overlaps the landing: the next search pages are requested on a pager thread while the
current one lands, and remote links are read beside the paging on a pool of their own (its
threads keep one connection each: over TLS a new connection is a new handshake).
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from jira import JIRA
from jira.exceptions import JIRAError
from jira.resilientsession import raise_on_error

from connectors.base import (
    Batch,
    Census,
    CheckpointLog,
    ConnectorError,
    Cursor,
    FetchStats,
    Page,
    RawRecord,
    Rejection,
)
from connectors.jira.keyset import KeySet, project_of
from connectors.jira.keytimes import KeyTimes
from connectors.jira.lean import LeanGet, Redirected
from connectors.jira.retry import JiraRefused, jira_retrier
from handoff.config import JiraSource
from handoff.retry import Clock, RetryPolicy
from handoff.throttle import source_throttle

if TYPE_CHECKING:
    import requests

FIELDS = [
    "summary", "description", "status", "assignee", "duedate", "created", "updated",
    "resolutiondate", "issuetype", "priority", "project", "parent", "fixVersions", "labels",
    "components", "issuelinks",
]  # fmt: skip
CENSUS_FIELDS = ["updated"]
CENSUS_PAGE = 1000  # Jira serves big pages when few fields are asked for
BULK_ISSUES = 1000  # changelog/bulkfetch's maximum: ids per call
BULK_HISTORIES = 20_000  # histories per bulk changelog call (two response pages at most)
LINK_FIELD = "RemoteIssueLink"  # the changelog item Jira writes when a remote link changes
HISTORY_FIELDS = ["status", LINK_FIELD]  # what the model reads from a changelog
SWEEP_CHUNK = 1000  # issues per landed page of a remote-link sweep
BULK_FETCH = 100  # issue/bulkfetch takes at most 100 ids or keys per request
CHECKPOINT_VERSION = 1  # a checkpoint of another layout is not resumed from
# remote-link reads in flight: one small request per linked issue, whose wait is mostly the
# site's turnaround. On a busy sandbox 4 read a third fewer links/s than 16 and 8 most of the
# gain; on a quiet one the three did not differ. 8 keeps a customer's site from serving one
# sync 16 requests at a time for little
LINK_WORKERS = 8
TIMEOUT = 120  # seconds to connect and between bytes of an answer
AHEAD = 2  # search pages requested while the one before them lands
LAND_BATCH = 3000  # records per landed page: about 1000 issues with histories and links
LAND_HISTORIES = 10_000  # or this many changelog entries, when issues have long histories
EPIC_LINK_TYPE = "com.pyxis.greenhopper.jira:gh-epic-link"  # Jira Software's Epic Link field
UNKNOWN_KEY = re.compile(r"'([A-Z][A-Z0-9_]+-\d+)'")  # how Jira's 400 names a missing key
OPTIONAL = (403, 404)  # reference data the account may not read: warn and go on
CUSTOM_ID = re.compile(r"^customfield_\d+$")
ORDER_BY = re.compile(r"\s+order\s+by\s+.*$", re.IGNORECASE | re.DOTALL)


def _json(client: JIRA, path: str, params: dict[str, Any] | None, *, post: bool = False) -> Any:
    """`JIRA._get_json` with orjson: a search page of 1,000 issues with their histories is
    megabytes of JSON, and the standard decoder was the sync's largest cost. Errors are the
    client's own (`JIRAError`); a truncated body raises ValueError, as before."""
    url = client._get_url(path)
    session = client._session
    response = (
        session.post(url, data=orjson.dumps(params)) if post else session.get(url, params=params)
    )
    raise_on_error(response)
    return orjson.loads(response.content) if response.content else {}


def _settle_environment(session: requests.Session, url: str) -> None:
    """Read the environment's proxy and CA bundle settings for `url` once, as requests would
    for each request: its per-request look-up scans `os.environ` twice, a sixth of the CPU of
    a small call such as a remote-link read. Every request of the client goes to that site;
    the session's own auth makes requests skip `.netrc` either way. The client passes its own
    `verify` with every request, so a configured CA bundle wins over the environment's."""
    settings = session.merge_environment_settings(url, {}, None, session.verify, None)
    session.proxies = settings["proxies"]
    session.verify = settings["verify"]
    session.trust_env = False


def parse_jira_time(value: str) -> datetime:
    """`2025-01-10T09:15:00.000+0000` -> an aware datetime."""
    return datetime.fromisoformat(value)


class JiraConnector:
    """Pulls one Jira site through the `jira` client's raw JSON calls (no Resource objects)."""

    def __init__(
        self,
        source: JiraSource,
        *,
        retry: RetryPolicy | None = None,
        workers: int = 4,
        link_workers: int = LINK_WORKERS,
        clock: Clock | None = None,
    ):
        self.source = source
        self.cloud = source.deployment == "cloud"
        self.stats = FetchStats()
        self.workers = workers
        self.link_workers = link_workers
        self.throttle = source_throttle(source, source.url, clock)  # shared per host
        self._retrier = jira_retrier(
            source.name,
            self.stats,
            retry or RetryPolicy(deadline=source.max_retry_wait_seconds),
            clock,
            self.throttle,
        )
        self._local = threading.local()
        self._lock = threading.Lock()
        self._lean: LeanGet | bool | None = False  # False: not made yet; None: not usable
        self._field_ids: dict[str, str] = {}
        self._links_since: datetime | None = None  # RemoteIssueLink items from then on count
        self._linked: set[str] = set()  # keys whose remote links this sync has read
        self._link_jobs: deque[tuple[str, Future[list[Any] | None]]] = deque()
        self._history_totals: dict[str, int] = {}  # full history lengths of pending issues
        self._epic_link: str | None = None  # Data Center's Epic Link field id
        if self.cloud and not source.email:
            raise ConnectorError(
                f"source {source.name!r}: Jira Cloud needs `email` with the API token"
            )

    # -- client ------------------------------------------------------------------------------
    def _client(self) -> JIRA:
        """One client per thread (sessions are not shared across threads)."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._new_client()
            self._local.client = client
        return client

    def _new_client(self) -> JIRA:
        token = self.source.token.get_secret_value()
        verify: str | bool = str(self.source.ca_bundle) if self.source.ca_bundle else True
        options = {"rest_api_version": "3" if self.cloud else "2", "verify": verify}
        kwargs: dict[str, Any] = {
            "options": options,
            "max_retries": 0,
            "get_server_info": False,
            "timeout": TIMEOUT,
            "logging": False,
        }
        if self.cloud:
            client = JIRA(self.source.url, basic_auth=(self.source.email or "", token), **kwargs)
        else:
            client = JIRA(self.source.url, token_auth=token, **kwargs)
        client._session.hooks["response"].append(self._count)
        _settle_environment(client._session, self.source.url)
        return client

    def _lean_reader(self, client: JIRA) -> LeanGet | None:
        """One lean reader shared by the link workers, made from the first client's session."""
        with self._lock:
            if self._lean is False:
                self._lean = LeanGet.for_session(
                    client._session,
                    client._get_url("myself"),
                    timeout=TIMEOUT,
                    pool_size=self.link_workers,
                )
            return self._lean if isinstance(self._lean, LeanGet) else None

    def _count(self, response: Any, *args: Any, **kwargs: Any) -> None:
        self._observe(response.status_code, response.headers)

    def _observe(self, status: int, headers: Any) -> None:
        with self._lock:
            self.stats.requests += 1
        self.throttle.observe(status, headers)

    def _endpoint(self, path: str, method: str = "GET") -> str:
        """`GET /rest/api/3/status`: how messages name the endpoint a call went to."""
        version = "3" if self.cloud else "2"
        return f"{method} /rest/api/{version}/{path}"

    def _get(
        self,
        what: str,
        path: str,
        *,
        missing_ok: bool = False,
        params: dict[str, Any] | None = None,
        lean: bool = False,
    ) -> Any:
        """One GET through the retry policy; with `missing_ok` a 404 (deleted meanwhile) is None.
        `lean` (no `params`): through the lean reader, for the many small reads."""
        client = self._client()
        reader = self._lean_reader(client) if lean and params is None else None

        def get() -> Any:
            try:
                if reader is not None:
                    try:
                        return reader.get_json(client._get_url(path), self._observe)
                    except Redirected:
                        pass  # this thread's session follows it
                return _json(client, path, params)
            except JIRAError as err:
                if missing_ok and err.status_code == 404:
                    return None
                raise

        return self._retrier.call(f"{what} ({self._endpoint(path)})", get)

    def _post(self, what: str, path: str, body: dict[str, Any]) -> Any:
        client = self._client()
        return self._retrier.call(
            f"{what} ({self._endpoint(path, 'POST')})",
            lambda: _json(client, path, body, post=True),
        )

    def _optional(self, what: str, path: str, consequence: str) -> Generator[Batch, None, Any]:
        """Reference data the sync can do without: a 403/404 becomes a warning, not a failure."""
        try:
            return self._get(what, path)
        except JiraRefused as err:
            if err.status not in OPTIONAL:
                raise
            yield Rejection(
                f"source {self.source.name!r} {self._endpoint(path)}",
                f"Jira refused {what} (HTTP {err.status}: {err.detail[:200]}); {consequence}",
            )
            return None

    # -- contract ----------------------------------------------------------------------------
    def check(self) -> str:
        """One request (`myself`): proves the URL, the TLS trust and the credentials."""
        me = self._get("checking the credentials", "myself")
        who = me.get("emailAddress") or me.get("displayName") or me.get("name") or "?"
        kind = "Jira Cloud" if self.cloud else "Jira Data Center"
        return f"{kind} at {self.source.url} as {who}"

    def fetch(
        self, cursor: Cursor | None, *, full: bool = False, resume: Cursor | None = None
    ) -> Iterator[Batch]:
        """Yield issues changed since `cursor` (all when `full`), their histories and links;
        with `resume`, a checkpoint of a fetch from the same cursor, only what follows it."""
        yield from _merge_pages(self._fetch(cursor, full=full, resume=resume))

    def _fetch(
        self, cursor: Cursor | None, *, full: bool, resume: Cursor | None
    ) -> Iterator[Batch]:
        cursor = cursor or {}
        scope = self._scope()
        previous = cursor.get("updated") if cursor.get("scope") == scope else None
        full = full or previous is None
        tz = self._timezone()
        yield from self._reference_data()
        extra = set(self._field_ids.values()) | ({self._epic_link} if self._epic_link else set())
        fields = FIELDS + sorted(extra)
        window_start: datetime | None = None
        jql = scope
        if not full and previous:
            window_start = parse_jira_time(previous) - timedelta(
                minutes=self.source.overlap_minutes
            )
            jql = f'{scope} AND updated >= "{_jql_time(window_start, tz)}"'
        self._links_since = window_start
        self._linked = set()
        self._link_jobs = deque()
        self._history_totals = {}
        sweep_at = datetime.now(UTC)
        last_sweep = cursor.get("remote_link_sweep")
        sweep = self._sweep_due(last_sweep, sweep_at)
        progress = SearchProgress.restore(resume)
        resumed = progress != SearchProgress()
        seen, pending = progress.seen, progress.pending
        search_seconds = float("inf")
        keys: KeySet | None = None
        census: KeyTimes | None = None
        self._expect(jql)
        pool = ThreadPoolExecutor(max_workers=self.link_workers, thread_name_prefix="jira-links")
        pager = ThreadPoolExecutor(max_workers=AHEAD, thread_name_prefix="jira-search")
        # counts and census pages: their own threads, so remote links still being read do not
        # hold them up, and one set of them, whose clients keep their connections warm
        counter = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="jira-census")
        try:
            self._read_links_soon(list(progress.links), pool, progress)
            # id order: an issue updated while paging does not shift the pages, and `id > n`
            # resumes the search after a restart (page tokens expire; offsets shift)
            if not progress.searched:
                began = time.monotonic()
                after = "" if progress.after_id is None else f" AND id > {progress.after_id}"
                ordered = f"{jql}{after} ORDER BY id ASC"
                for issues, total in self._search(ordered, fields, changelog=True, pager=pager):
                    if total is not None:
                        self.stats.items_total = total
                    yield from self._page(issues, progress, pool)
                    self.stats.items_done = len(seen)
                    if len(pending) >= BULK_ISSUES:
                        yield from self._full_changelogs(pending, pool, progress)
                    yield from self._landed_links(progress)
                    ids = [int(i["id"]) for i in issues if str(i.get("id", "")).isdigit()]
                    progress.after_id = max([*ids, progress.after_id or 0]) or None
                    yield Page([], checkpoint=progress.checkpoint())
                progress.searched = True
                search_seconds = time.monotonic() - began
                yield Page([], checkpoint=progress.checkpoint())
            known = KeySet.decode(cursor.get("keys")) if not full else None
            added: list[str] = []
            moved: set[str] | None = None  # the projects a narrowed census lists (None: all)
            if (
                known is not None
                and not resumed
                and not sweep
                and search_seconds < 60 * self.source.overlap_minutes
                and not self._census_due(cursor.get("census_at"), sweep_at)
            ):
                added = [k for k in seen if k not in known]
                count = self._count_in_scope(scope)
                if count == len(known) + len(added):
                    keys = known.merged(added)  # nothing was deleted
                elif count is not None:
                    moved = self._moved_projects(scope, known, added, count, counter)
            if keys is None:
                census = self._narrowed_census(scope, moved, pager, counter) if moved else None
                if census is None:  # always whole: cannot be resumed safely
                    moved = None
                    census = self._census(scope, pager, counter)
                missed = census.newer_than(seen, window_start)
                gone: set[str] = set()
                for issues in self._reread(missed, fields, gone):
                    yield from self._page(issues, progress, pool)
                for key in gone:  # deleted since the census: tombstoned now, not next time
                    census.pop(key, None)
                if moved and known is not None:  # the other projects' keys stand as they were
                    kept = [k for k in added if project_of(k) not in moved]
                    keys = known.merged([*census, *kept], replacing=moved)
                else:
                    keys = KeySet.of(census)
            yield from self._full_changelogs(pending, pool, progress)
            if sweep and census is not None:
                yield from self._sweep(sorted(census), pool)
            yield from self._landed_links(progress, wait=True)
        finally:
            pager.shutdown(cancel_futures=True)
            counter.shutdown(cancel_futures=True)
            pool.shutdown(cancel_futures=True)
        if census is not None and keys is not None:
            yield Census("issue", set(census) if moved is None else set(keys))
        times: KeyTimes = seen
        if census is not None and moved is None:
            times = census
        elif census is not None:
            times = KeyTimes({k: t for k, t in seen.items() if project_of(k) not in (moved or ())})
            times.update(census)
        latest = max([t for t in (times.latest(), seen.latest()) if t is not None], default=None)
        newest = latest or parse_jira_time(previous or _epoch())
        since = _probe_since(newest, self.source.overlap_minutes, tz)
        new_cursor: dict[str, Any] = {
            "updated": newest.isoformat(),
            "scope": scope,
            # what `changed_since` compares Jira's count with, and the zone it writes JQL in
            "time_zone": tz.key,
            "probe_count": times.count_since(since),
            # the keys alive after this sync and when the census last listed them all: the
            # next incremental skips the census while Jira's count agrees with them
            "keys": keys.encode() if keys is not None else {},
            "census_at": (
                sweep_at.isoformat()
                if census is not None and moved is None
                else str(cursor.get("census_at"))
            ),
        }
        if self.source.remote_links:  # a first sync starts the clock: its changelogs are whole
            new_cursor["remote_link_sweep"] = (
                sweep_at.isoformat() if sweep or not last_sweep else str(last_sweep)
            )
        yield Page([], cursor=new_cursor)

    def changed_since(self, cursor: Cursor | None) -> bool | None:
        """Whether any issue in scope changed since the sync that wrote `cursor`, in at most two
        requests; None when the cursor cannot tell (no sync yet, another scope).

        Two signals over the window `updated >= cursor - overlap` (minutes, the user's zone):
        the newest issue in it is newer than the cursor (any edit after the sync), or Jira's
        count differs from the count the sync saw in that window (an issue indexed late, or
        deleted). A comment bumps `updated` too, so our own write-back comments count as a
        change; the run they start finds nothing new and costs little.
        """
        cursor = cursor or {}
        if cursor.get("scope") != self._scope() or not isinstance(cursor.get("updated"), str):
            return None
        newest_seen = parse_jira_time(cursor["updated"])
        zone = cursor.get("time_zone")
        tz = _zone(zone) if isinstance(zone, str) else self._timezone()
        since = _probe_since(newest_seen, self.source.overlap_minutes, tz)
        window = f'{self._scope()} AND updated >= "{_jql_time(since, tz)}"'
        issues, total = next(
            self._search(
                f"{window} ORDER BY updated DESC", ["updated"], size=1, what="probing for changes"
            )
        )
        newest = (issues[0].get("fields") or {}).get("updated") if issues else None
        if isinstance(newest, str) and parse_jira_time(newest) > newest_seen:
            return True
        known = cursor.get("probe_count")
        if not isinstance(known, int):
            return False
        if total is None and isinstance(zone, str):  # Cloud: the count is a request of its own
            answer = self._post("probing for changes", "search/approximate-count", {"jql": window})
            count = answer.get("count") if isinstance(answer, dict) else None
            total = count if isinstance(count, int) else None
        return total is not None and total != known

    # -- pieces ------------------------------------------------------------------------------
    def _expect(self, jql: str) -> None:
        """How many issues the search will return, for progress (Cloud: approximate-count;
        Data Center reports `total` with every page). Best effort: no count, no ETA."""
        if not self.cloud:
            return
        try:
            answer = self._post("counting issues", "search/approximate-count", {"jql": jql})
        except ConnectorError:
            return
        count = answer.get("count") if isinstance(answer, dict) else None
        self.stats.items_total = int(count) if isinstance(count, int) else None

    def _sweep_due(self, last_sweep: Any, now: datetime) -> bool:
        """A sweep reads every issue's remote links: due `remote_link_sweep_days` after the
        last one (the first sync only starts the clock, having read every changelog)."""
        days = self.source.remote_link_sweep_days
        if not self.source.remote_links or days <= 0 or not isinstance(last_sweep, str):
            return False
        try:
            return now - datetime.fromisoformat(last_sweep) >= timedelta(days=days)
        except ValueError:
            return True  # an unreadable mark: sweep rather than miss links

    def _sweep(self, keys: list[str], pool: ThreadPoolExecutor) -> Iterator[Batch]:
        """Remote links of every live issue not read yet in this sync, in landed pages."""
        todo = [k for k in keys if k not in self._linked]
        for start in range(0, len(todo), SWEEP_CHUNK):
            yield Page(self._link_records(todo[start : start + SWEEP_CHUNK], pool))

    def _link_records(self, keys: list[str], pool: ThreadPoolExecutor) -> list[RawRecord]:
        records = []
        for key, links in zip(keys, pool.map(self._remote_links, keys), strict=True):
            self._linked.add(key)
            if links is not None:
                records.append(RawRecord("remotelink", key, {"issueKey": key, "links": links}))
        return records

    def _scope(self) -> str:
        if self.source.jql:
            return f"({ORDER_BY.sub('', self.source.jql)})"
        if self.source.projects:
            return "project in (" + ", ".join(f'"{p}"' for p in self.source.projects) + ")"
        return 'created >= "1970-01-01"'  # Cloud refuses unbounded queries

    def _timezone(self) -> ZoneInfo:
        """JQL dates are read in the user's time zone, so windows are written in it."""
        me = self._get("reading the sync user", "myself")
        return _zone(me.get("timeZone") or "UTC")

    def _reference_data(self) -> Iterator[Batch]:
        """Statuses (for the categories of past statuses), resolved custom field ids and, on
        Data Center, the Epic Link field. Browse projects suffices for all of it."""
        records: list[RawRecord] = []
        statuses = yield from self._optional(
            "reading statuses",
            "status",
            "categories of past statuses are taken from the issues' current statuses",
        )
        if isinstance(statuses, list):
            records += [RawRecord("status", str(v["id"]), v) for v in statuses if "id" in v]
        wanted = self.source.custom_fields
        by_id = all(CUSTOM_ID.match(v) for v in wanted.values())
        listing: Any = None
        if not by_id or not self.cloud:
            listing = yield from self._optional(
                "reading fields",
                "field",
                "custom fields named in `custom_fields`"
                + ("" if self.cloud else " and the Epic Link roll-up of stories")
                + " are not synced",
            )
        fields = [f for f in listing if isinstance(f, dict)] if isinstance(listing, list) else []
        resolved: dict[str, str] = {}
        if by_id:
            resolved = dict(wanted)
        elif fields:
            by_name = {}
            for field in fields:
                by_name[str(field.get("name", "")).lower()] = str(field["id"])
                by_name[str(field["id"]).lower()] = str(field["id"])
            for model_name, ref in wanted.items():
                field_id = by_name.get(ref.lower())
                if field_id is None:
                    yield Rejection(
                        f"source {self.source.name!r} custom_fields.{model_name}",
                        f"Jira has no field named or with id {ref!r}; it is not synced",
                    )
                else:
                    resolved[model_name] = field_id
        self._field_ids = resolved
        records.append(RawRecord("meta", "custom_fields", resolved))
        if not self.cloud:  # found by its type: the name is translated and can be renamed
            epic = [f for f in fields if (f.get("schema") or {}).get("custom") == EPIC_LINK_TYPE]
            self._epic_link = str(epic[0]["id"]) if epic else None
            records.append(RawRecord("meta", "epic_link", {"field": self._epic_link}))
        yield Page(records)

    def _search(
        self,
        jql: str,
        fields: list[str],
        *,
        changelog: bool = False,
        size: int | None = None,
        what: str = "searching issues",
        pager: ThreadPoolExecutor | None = None,
    ) -> Iterator[tuple[list[Any], int | None]]:
        """Pages of raw issues (with Jira's total on Data Center): `POST /search/jql` with
        nextPageToken on Cloud, `POST /search` with startAt/total on Data Center.

        With a `pager`, the next pages are requested while the caller works on this one: on
        Cloud the next token's page; on Data Center, whose first page tells the total, up to
        AHEAD pages by offset (re-read in order should a short page shift the offsets)."""
        size = size or self.source.page_size or (100 if self.cloud else 1000)
        path = "search/jql" if self.cloud else "search"

        def request(start: int = 0, token: str | None = None) -> Any:
            body: dict[str, Any] = {"jql": jql, "maxResults": size, "fields": list(fields)}
            if self.cloud:
                if changelog:
                    body["expand"] = "changelog"  # a comma-separated string on Cloud
                if token:
                    body["nextPageToken"] = token
            else:
                body["startAt"] = start
                if changelog:
                    body["expand"] = ["changelog"]  # SearchRequestBean types it as an array
            return self._post(what, path, body)

        if self.cloud:
            result = request()
            while True:
                token = result.get("nextPageToken")
                last = not token or result.get("isLast")
                upcoming = pager.submit(request, 0, token) if pager and not last else None
                yield result.get("issues") or [], None
                if last:
                    return
                result = upcoming.result() if upcoming else request(token=token)
        start, step = 0, size
        ahead: deque[tuple[int, Future[Any]]] = deque()
        while True:
            if ahead and ahead[0][0] == start:
                result = ahead.popleft()[1].result()
            else:  # none asked for, or the offsets shifted: ask again from here
                for _, stale in ahead:
                    stale.cancel()
                ahead.clear()
                result = request(start)
            issues = result.get("issues") or []
            total = int(result.get("total") or 0)
            if start == 0 and issues:
                step = len(issues)  # the page size the server grants
            start += len(issues)
            done = not issues or start >= total
            if not done and pager is not None:
                offset = ahead[-1][0] + step if ahead else start
                while len(ahead) < AHEAD and offset < total:
                    ahead.append((offset, pager.submit(request, offset)))
                    offset += step
            yield issues, total
            if done:
                for _, stale in ahead:
                    stale.cancel()
                return

    def _reread(self, keys: list[str], fields: list[str], gone: set[str]) -> Iterator[list[Any]]:
        """Issues by key, 100 at a time; keys Jira no longer has are added to `gone`."""
        for start in range(0, len(keys), BULK_FETCH):
            batch = keys[start : start + BULK_FETCH]
            if not self.cloud:
                yield from self._reread_by_jql(batch, fields, gone)
                continue
            body = {"issueIdsOrKeys": batch, "fields": fields, "expand": ["changelog"]}
            result = self._post("re-reading issues by key", "issue/bulkfetch", body)
            issues = result.get("issues") or []
            found = {i.get("key") for i in issues if isinstance(i, dict)}
            gone.update(k for k in batch if k not in found)
            yield issues

    def _reread_by_jql(
        self, keys: list[str], fields: list[str], gone: set[str]
    ) -> Iterator[list[Any]]:
        """Data Center has no bulkfetch: `key in (...)`, whose 400 names every unknown key."""
        while keys:
            listed = ", ".join(f'"{k}"' for k in keys)
            jql = f"key in ({listed}) ORDER BY key ASC"
            try:
                pages = list(self._search(jql, fields, changelog=True,
                                          what="re-reading issues by key"))  # fmt: skip
            except JiraRefused as err:
                unknown = set(UNKNOWN_KEY.findall(err.detail)) & set(keys)
                if err.status != 400 or not unknown:
                    raise
                gone.update(unknown)
                keys = [k for k in keys if k not in unknown]
                continue
            for issues, _ in pages:
                yield issues
            return

    def _page(
        self, issues: list[Any], progress: SearchProgress, pool: ThreadPoolExecutor
    ) -> Iterator[Batch]:
        pending = progress.pending
        records: list[RawRecord] = []
        keys: list[str] = []
        for issue in issues:
            key = issue.get("key") if isinstance(issue, dict) else None
            fields = issue.get("fields") if isinstance(issue, dict) else None
            updated = fields.get("updated") if isinstance(fields, dict) else None
            try:
                updated_at = parse_jira_time(updated) if isinstance(updated, str) else None
            except ValueError:
                updated_at = None
            if not key or updated_at is None:
                where = f"issue {key or (issue.get('id') if isinstance(issue, dict) else '?')}"
                yield Rejection(where, "issue without a key or a readable `updated` time", issue)
                continue
            changelog = issue.pop("changelog", None) or {}
            histories = changelog.get("histories") or []
            records.append(RawRecord("issue", key, issue))
            progress.saw(key, str(updated), updated_at)
            total = int(changelog.get("total") or 0)
            if total > len(histories):
                pending[str(issue["id"])] = key  # links decided once the history is whole
                self._history_totals[str(issue["id"])] = total
            else:
                kept, linked = _scan_histories(histories, self._links_since)
                records.append(_changelog_record(str(issue.get("id")), key, kept))
                if linked:
                    keys.append(key)
        if self.source.remote_links and keys:
            self._read_links_soon(keys, pool, progress)
        yield Page(records)

    def _read_links_soon(
        self, keys: list[str], pool: ThreadPoolExecutor, progress: SearchProgress
    ) -> None:
        """Ask for the remote links of `keys` on the pool while paging goes on; they land
        through `_landed_links`, and a checkpoint lists them until they have."""
        for key in keys:
            self._linked.add(key)
            progress.links[key] = None
            self._link_jobs.append((key, pool.submit(self._remote_links, key)))

    def _landed_links(self, progress: SearchProgress, *, wait: bool = False) -> Iterator[Batch]:
        """The remote links read so far, in the order asked (all of them with `wait`)."""
        records: list[RawRecord] = []
        jobs = self._link_jobs
        while jobs and (wait or jobs[0][1].done()):
            key, job = jobs.popleft()
            links = job.result()
            progress.links.pop(key, None)
            if links is not None:
                records.append(RawRecord("remotelink", key, {"issueKey": key, "links": links}))
        if records:
            yield Page(records)

    def _remote_links(self, key: str) -> list[Any] | None:
        links = self._get(f"reading remote links of {key}", f"issue/{key}/remotelink",
                          missing_ok=True, lean=True)  # fmt: skip
        return links if isinstance(links, list) else None

    def _full_changelogs(
        self, pending: dict[str, str], pool: ThreadPoolExecutor, progress: SearchProgress
    ) -> Iterator[Batch]:
        """Complete histories of issues whose expanded changelog was truncated (and the remote
        links of those whose complete history shows a link change)."""
        if not pending:
            return
        if not self.cloud:
            records = []
            linked = []
            for issue_id, key in pending.items():
                issue = self._get(f"reading the history of {key}", f"issue/{key}",
                                  params={"fields": "status", "expand": "changelog"},
                                  missing_ok=True)  # fmt: skip
                histories = ((issue or {}).get("changelog") or {}).get("histories") or []
                kept, links_changed = _scan_histories(histories, self._links_since)
                records.append(_changelog_record(issue_id, key, kept))
                if links_changed:
                    linked.append(key)
            pending.clear()
            if self.source.remote_links and linked:
                self._read_links_soon(linked, pool, progress)
            yield Page(records)
            return
        for batch in self._history_batches(list(pending)):
            # kept histories only, as each response page arrives: the raw pages of a batch
            # of long histories would hold hundreds of megabytes
            collected: dict[str, list[Any]] = {i: [] for i in batch}
            with_links: dict[str, None] = {}  # ids whose history shows a remote link change
            token: str | None = None
            while True:
                body: dict[str, Any] = {
                    "issueIdsOrKeys": batch,
                    "fieldIds": HISTORY_FIELDS,
                    "maxResults": 10000,
                }
                if token:
                    body["nextPageToken"] = token
                result = self._post("reading full changelogs", "changelog/bulkfetch", body)
                for entry in result.get("issueChangeLogs") or []:
                    issue_id = str(entry.get("issueId"))
                    histories = entry.get("changeHistories") or []
                    kept, links_changed = _scan_histories(histories, self._links_since)
                    collected.setdefault(issue_id, []).extend(kept)
                    if issue_id in pending and links_changed:
                        with_links[issue_id] = None
                token = result.get("nextPageToken")
                if not token:
                    break
            records = [
                _changelog_record(i, pending[i], h) for i, h in collected.items() if i in pending
            ]
            collected.clear()
            if self.source.remote_links and with_links:
                self._read_links_soon([pending[i] for i in with_links], pool, progress)
            yield Page(records)
        pending.clear()

    def _history_batches(self, ids: list[str]) -> Iterator[list[str]]:
        """The ids in bulk changelog calls of at most BULK_ISSUES issues and about
        BULK_HISTORIES histories (as the search counted them): memory stays bounded however
        long the histories, and issues with short ones still go 1,000 to a call."""
        batch: list[str] = []
        weight = 0
        for issue_id in ids:
            histories = self._history_totals.pop(issue_id, 0)
            if batch and (len(batch) >= BULK_ISSUES or weight + histories > BULK_HISTORIES):
                yield batch
                batch, weight = [], 0
            batch.append(issue_id)
            weight += histories
        if batch:
            yield batch

    def _census(self, scope: str, pager: ThreadPoolExecutor, pool: ThreadPoolExecutor) -> KeyTimes:
        """Every live key with its `updated` time; repeated once if Jira's total disagrees
        (an issue deleted while Data Center pages by offset would hide a live one)."""
        jql = f"{scope} ORDER BY id ASC"
        census = KeyTimes()
        for _ in range(2):
            if not self.cloud:
                census, whole = self._census_by_offset(jql, pool)
                if whole:
                    break
                continue
            census = KeyTimes()
            total: int | None = None
            pages = self._search(jql, CENSUS_FIELDS, size=CENSUS_PAGE,
                                 what="taking the key census", pager=pager)  # fmt: skip
            for issues, page_total in pages:
                _collect(census, issues)
                total = page_total
            if total is None or total == len(census):
                break
        return census

    def _census_by_offset(self, jql: str, pool: ThreadPoolExecutor) -> tuple[KeyTimes, bool]:
        """Data Center's census, and whether it is whole: the first page tells the exact total,
        so every other page is asked for at once by offset, on `pool` (the census is most of
        an incremental sync's wait). A page shorter than the first (the server granted less)
        leaves a gap: from there the rest is read one page after the other. Whole means every
        page gave the same total and the census holds that many keys: an issue deleted
        meanwhile shifts the later pages' offsets and hides a live one, while the total still
        matches."""

        def page(start: int) -> tuple[list[Any], int]:
            body = {"jql": jql, "maxResults": CENSUS_PAGE, "fields": CENSUS_FIELDS}
            result = self._post("taking the key census", "search", {**body, "startAt": start})
            return result.get("issues") or [], int(result.get("total") or 0)

        census = KeyTimes()
        issues, total = page(0)
        totals = {total}
        _collect(census, issues)
        position, step = len(issues), len(issues)
        offsets = range(step, total, step) if step else range(0)
        ahead = [(start, pool.submit(page, start)) for start in offsets]
        try:
            for start, future in ahead:
                if start != position:
                    break  # a short page before this one: its offsets no longer line up
                issues, page_total = future.result()
                totals.add(page_total)
                _collect(census, issues)
                position += len(issues)
        finally:
            for _, future in ahead:
                future.cancel()  # the pages after a gap, not started yet
        while position < max(totals):
            issues, page_total = page(position)
            totals.add(page_total)
            if not issues:
                break
            _collect(census, issues)
            position += len(issues)
        return census, totals == {len(census)}

    def _moved_projects(
        self, scope: str, known: KeySet, added: list[str], count: int, pool: ThreadPoolExecutor
    ) -> set[str] | None:
        """The projects whose count of issues in scope differs from the keys the cursor holds
        there plus the new keys the search saw: only they can hold a deleted issue, so only
        their keys need a census. None when the counts cannot narrow it down: keys that name no
        project, more projects than the whole census has pages, a project Jira refuses (moved
        or renamed), or counts that do not add up to the scope's (an issue in a project the
        cursor does not know)."""
        projects = known.projects
        pages = -(-count // CENSUS_PAGE)
        if projects is None or any(project_of(k) is None for k in added):
            return None
        expected = {p: known.in_project(p) for p in projects}
        for key in added:
            project = project_of(key) or ""
            expected[project] = expected.get(project, 0) + 1
        if len(expected) >= pages:
            return None  # as many requests as the whole census takes
        names = sorted(expected)
        try:
            counts = list(pool.map(lambda p: self._count_in_scope(_in_project(scope, p)), names))
        except JiraRefused as err:
            if err.status != 400:
                raise
            return None
        if any(c is None for c in counts) or sum(c or 0 for c in counts) != count:
            return None
        return {p for p, c in zip(names, counts, strict=True) if c != expected[p]} or None

    def _narrowed_census(
        self, scope: str, projects: set[str], pager: ThreadPoolExecutor, pool: ThreadPoolExecutor
    ) -> KeyTimes | None:
        """The key census of `projects` alone; None when it lists a key of another project
        (a project whose key was renamed: only the whole census tells which keys went)."""
        census = KeyTimes()
        for project in sorted(projects):
            listed = self._census(_in_project(scope, project), pager, pool)
            if any(project_of(key) != project for key in listed):
                return None
            census.update(listed)
        return census

    def _count_in_scope(self, scope: str) -> int | None:
        """How many issues are in scope now: Data Center's search total (exact), Cloud's
        approximate count (recent changes may show late: a deletion it misses is found by a
        later sync's count or by the periodic census)."""
        if self.cloud:
            answer = self._post("counting issues", "search/approximate-count", {"jql": scope})
            count = answer.get("count") if isinstance(answer, dict) else None
            return count if isinstance(count, int) else None
        _, total = next(self._search(scope, ["updated"], size=1, what="counting issues"))
        return total

    def _census_due(self, last: Any, now: datetime) -> bool:
        """The census is taken whatever the count says every `census_days` (0: every sync)."""
        days = self.source.census_days
        if days <= 0 or not isinstance(last, str):
            return True
        try:
            return now - datetime.fromisoformat(last) >= timedelta(days=days)
        except ValueError:
            return True


@dataclass
class SearchProgress:
    """Where the issue search stands, as a checkpoint: issues up to `after_id` (in id order) are
    landed, `seen` holds their `updated` (so the census repairs only what changed since),
    `pending` the issues whose full history is still to come, `links` the issues whose remote
    links are asked for but not landed yet. `searched` once the search is done (a resumed
    fetch then goes straight to the census, which is always taken whole)."""

    seen: KeyTimes = field(default_factory=KeyTimes)
    # what the next checkpoint saves; not part of where the search stands (`resumed` compares)
    seen_log: CheckpointLog = field(default_factory=CheckpointLog, compare=False)
    pending: dict[str, str] = field(default_factory=dict)
    links: dict[str, None] = field(default_factory=dict)
    after_id: int | None = None
    searched: bool = False

    def saw(self, key: str, text: str, updated: datetime) -> None:
        self.seen[key] = updated
        self.seen_log.add(key, text)

    def checkpoint(self) -> dict[str, Any]:
        """The checkpoint of this moment. `seen` is a log the landing step saves as it
        grows (saving all of it at every checkpoint made a long sync quadratic); it comes
        back as a mapping of key to `updated` text."""
        return {
            "version": CHECKPOINT_VERSION,
            "after_id": self.after_id,
            "searched": self.searched,
            "seen": self.seen_log,
            "pending": dict(self.pending),
            "links": list(self.links),
        }

    @classmethod
    def restore(cls, checkpoint: Cursor | None) -> SearchProgress:
        if not checkpoint or checkpoint.get("version") != CHECKPOINT_VERSION:
            return cls()
        seen = checkpoint.get("seen") or {}
        return cls(
            seen=KeyTimes({str(k): parse_jira_time(str(v)) for k, v in seen.items()}),
            pending={str(k): str(v) for k, v in (checkpoint.get("pending") or {}).items()},
            links=dict.fromkeys(str(k) for k in checkpoint.get("links") or []),
            after_id=checkpoint.get("after_id"),
            searched=bool(checkpoint.get("searched")),
        )


def _merge_pages(
    batches: Iterator[Batch], size: int = LAND_BATCH, histories: int = LAND_HISTORIES
) -> Iterator[Batch]:
    """Join small pages into landing batches of about `size` records or `histories` changelog
    entries, whichever comes first (fewer, larger upserts; memory stays bounded, also when
    issues have long histories). A record seen twice keeps its latest version. A checkpoint
    flushes the buffer first, so it lands after every record it vouches for."""
    buffer: dict[tuple[str, str], RawRecord] = {}
    weight = 0
    for batch in batches:
        if isinstance(batch, Page) and batch.cursor is None and batch.checkpoint is None:
            for record in batch.records:
                buffer[(record.record_type, record.key)] = record
                if record.record_type == "changelog":
                    weight += len(record.payload.get("histories") or [])
            if len(buffer) >= size or weight >= histories:
                yield Page(list(buffer.values()))
                buffer, weight = {}, 0
            continue
        if isinstance(batch, Rejection):
            yield batch
            continue
        if buffer:
            yield Page(list(buffer.values()))
            buffer, weight = {}, 0
        yield batch
    if buffer:
        yield Page(list(buffer.values()))


def _collect(census: KeyTimes, issues: list[Any]) -> None:
    for issue in issues:
        key = issue.get("key")
        updated = (issue.get("fields") or {}).get("updated")
        if key and isinstance(updated, str):
            try:
                census[key] = parse_jira_time(updated)
            except ValueError:
                census[key] = datetime.max.replace(tzinfo=UTC)  # unreadable: fetch it again


KEPT_HISTORY = frozenset({"status", "duedate", "Link"})


def _changelog_record(issue_id: str, key: str, kept: list[Any]) -> RawRecord:
    """The changelog record of an issue from its kept histories (`_scan_histories`)."""
    return RawRecord("changelog", key, {"issueId": issue_id, "issueKey": key, "histories": kept})


def _scan_histories(histories: list[Any], links_since: datetime | None) -> tuple[list[Any], bool]:
    """The history the model reads (status changes, due-date moves and the day each issue
    link was added), and whether a (complete) changelog adds or removes a remote link at or
    after `links_since` (ever, when None). One pass: it runs over every history of a sync."""
    kept = []
    linked = False
    for history in histories:
        items = []
        for item in history.get("items") or []:
            field_id, name = item.get("fieldId"), item.get("field")
            if (field_id or name) in KEPT_HISTORY:
                items.append(item)
            elif not linked and LINK_FIELD in (field_id, name):
                linked = _in_window(history, links_since)
        if items:
            kept.append(
                {"id": history.get("id"), "created": history.get("created"), "items": items}
            )
    return kept, linked


def _in_window(history: dict[str, Any], since: datetime | None) -> bool:
    if since is None:
        return True
    try:
        return parse_jira_time(str(history.get("created"))) >= since
    except ValueError:
        return True  # unreadable time: read the links rather than miss them


def _in_project(scope: str, project: str) -> str:
    return f'{scope} AND project = "{project}"'


def _jql_time(value: datetime, tz: ZoneInfo) -> str:
    """JQL takes minutes in the user's zone; round down so the window never shrinks."""
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _probe_since(newest: datetime, overlap_minutes: int, tz: ZoneInfo) -> datetime:
    """The start of the change probe's window, on a whole minute as JQL writes it."""
    start = (newest - timedelta(minutes=overlap_minutes)).astimezone(tz)
    return start.replace(second=0, microsecond=0)


def _epoch() -> str:
    return "1970-01-01T00:00:00+00:00"
