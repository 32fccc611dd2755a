"""Asana connector: tasks, subtasks, stories, projects and sections of one workspace.

Records landed (the API's own JSON):
  "project", "section"   every run (one request per project for sections);
  "task"                 top-level tasks of the synced projects (with dependencies/dependents);
  "subtask"              subtasks at any depth (kept apart so each type has a complete census);
  "stories"              one record per task or subtask: {"task": gid, "data": [stories]};
  "status_update"        every run: the status updates posted on each synced project.

Incremental design (the cursor is per project):
  * `tasks?project=P&modified_since=W` returns the changed top-level tasks in pages of 100;
  * a cheap census `opt_fields=num_subtasks` gives every live top-level gid (deletions become
    tombstones) and each task's subtask count; a parent whose count differs from the stored
    list gets its subtasks re-listed (subtasks added or deleted);
  * a subtask change does not touch its parent's modified_at, so the project's `/events` feed
    (sync token kept in the cursor) names the tasks and subtasks changed since the last run;
    those not already fetched are read one by one. Events are told apart by
    `resource.resource_type` (the top-level `type` is deprecated). Sync tokens expire after
    24 hours, so a nightly run usually gets 412: it then re-lists the subtasks of that project;
  * the cursor keeps each task's and subtask's `modified_at`: stories are read only for the
    ones whose `modified_at` moved (or that are new), whatever listed them, so an expired
    token costs the subtask listings, never a re-read of every story;
  * the modified-since watermark is the listing's start on Asana's clock (the `Date` of the
    first response) minus `overlap_minutes`: the listing is unsorted, so its largest
    `modified_at` would skip tasks changed while it ran.
The events token is taken before listing, so a change made while a sync runs is seen next time.

First syncs find subtasks through the workspace's task search (`is_subtask=true`, oldest first,
paged by moving `created_at.after`, landed page by page): about one request per 100 subtasks
instead of one per parent. The search is a premium feature and only eventually consistent, so it is a shortcut, not
the source of truth: a parent whose `num_subtasks` differs from what the search returned gets
its subtasks listed as before, and so does every parent on a free plan (402) or when the source
syncs only some projects (the search spans the whole workspace). An incremental sync re-lists a
parent's subtasks only when its subtask count moved, it is new, or the events feed was lost;
changes to existing subtasks arrive through the events.

First syncs read stories only where the history matters: for open tasks and subtasks. A task
already completed when first seen gets no stories record; its `completed_at` stands for its last
status change (the normaliser records one completion at that time, from its current section).
What is then absent for those tasks: earlier section moves, earlier completions and reopenings,
and so the time each spent in its earlier statuses. Should such a task be reopened or otherwise
modified, its `modified_at` moves and the next sync reads its whole history.

Dependencies are a paid-plan feature: a free workspace answers 402 to them, and the sync then
goes on without them (a warning in `stats.warnings` and the log says what is lost).

A task can live in several projects; it is landed once, with all its memberships. Which
membership gives its status is the normaliser's choice (model.normalise.asana).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from connectors.asana.client import AsanaHttp, NotFound, OffsetExpired, PaymentRequired
from connectors.base import Batch, Census, ConnectorError, Cursor, FetchStats, Page, RawRecord
from handoff.config import AsanaSource
from handoff.retry import Clock, RetryPolicy
from handoff.throttle import source_throttle

log = logging.getLogger(__name__)

CURSOR_VERSION = 2
READABLE_CURSORS = {1, 2}  # version 1 has no modified_at map: every listed task counts as moved
PAGE_LIMIT = 100
WORKERS = 8
OFFSET_RESTARTS = 3
TASK_FIELDS = ",".join(
    [
        "name",
        "resource_subtype",
        "approval_status",
        "completed",
        "completed_at",
        "created_at",
        "modified_at",
        "due_on",
        "due_at",
        "start_on",
        "notes",
        "permalink_url",
        "num_subtasks",
        "assignee.name",
        "assignee.email",
        "parent.gid",
        "tags.name",
        "memberships.project.gid",
        "memberships.project.name",
        "memberships.section.gid",
        "memberships.section.name",
        "dependencies.gid",
        "dependents.gid",
        "custom_fields.gid",
        "custom_fields.name",
        "custom_fields.type",
        "custom_fields.display_value",
        "custom_fields.enum_value.name",
        "custom_fields.text_value",
        "custom_fields.number_value",
    ]
)
PREMIUM_FIELDS = ("dependencies.", "dependents.")
FREE_TASK_FIELDS = ",".join(f for f in TASK_FIELDS.split(",") if not f.startswith(PREMIUM_FIELDS))
STORY_FIELDS = ",".join(
    [
        "created_at",
        "resource_subtype",
        "text",
        "created_by.email",
        "created_by.name",
        "old_section.gid",
        "old_section.name",
        "new_section.gid",
        "new_section.name",
        "old_dates.due_on",
        "new_dates.due_on",
        "assignee.email",
        "dependency.gid",
    ]
)
# what a project's owner reports: status, when, by whom, what it says
STATUS_UPDATE_FIELDS = "title,text,status_type,created_at,author.name,parent.name"
T = TypeVar("T")
R = TypeVar("R")
E = TypeVar("E")


@dataclass
class _Run:
    """What one fetch has seen so far."""

    top: set[str] = field(default_factory=set)
    subtasks: dict[str, list[str]] = field(default_factory=dict)  # parent -> subtask gids
    counts: dict[str, int] = field(default_factory=dict)  # parent -> num_subtasks (census)
    fetched: set[str] = field(default_factory=set)  # see `listed`
    changed: set[str] = field(default_factory=set)  # tasks whose stories must be read
    event_gids: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)  # gids the events report deleted
    events_lost: bool = False
    relist: set[str] = field(default_factory=set)  # parents whose subtasks must be listed
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)  # next cursor per project
    modified: dict[str, str] = field(default_factory=dict)  # gid -> modified_at seen this run
    previous_modified: dict[str, str] = field(default_factory=dict)  # from the last cursor
    watermark: str | None = None  # listing start minus the overlap, ISO 8601 UTC
    first: bool = False  # a first (or forced full) sync: no modified_at is known yet

    def forget_listings(self) -> None:
        """Drop what only the listings needed (per-task sets as large as the source), so the
        stories pass and the landing's merge do not hold them too."""
        for listed in (self.fetched, self.changed, self.event_gids, self.deleted, self.relist):
            listed.clear()
        self.counts.clear()

    def cursor(
        self, workspace: str, subtasks: dict[str, list[str]], all_subtasks: set[str]
    ) -> dict[str, Any]:
        """The next cursor; it empties the run's modified_at maps into it as it goes (one
        per-task map in memory at a time, not three)."""
        modified: dict[str, str] = {}
        for gid in sorted(self.top | all_subtasks):
            at = self.modified.pop(gid, None) or self.previous_modified.pop(gid, None)
            if at:
                modified[gid] = at
        self.modified.clear()
        self.previous_modified.clear()
        return {
            "version": CURSOR_VERSION,
            "workspace": workspace,
            "projects": self.projects,
            "subtasks": subtasks,
            "modified": modified,
        }

    def listed(self, gid: str) -> None:
        """Note a task a listing returned, so the events need not read it again. A first sync
        reads no events: it keeps no such set, as large as the source."""
        if not self.first:
            self.fetched.add(gid)

    def saw(self, task: dict[str, Any]) -> bool:
        """Record a listed task's modified_at; True when its stories must be read: it moved
        since the last run, or a first sync meets it open (a completed one's `completed_at`
        is its last status change)."""
        gid = str(task["gid"])
        modified = str(task.get("modified_at") or "")
        self.modified[gid] = modified
        if self.first and task.get("completed") is True:
            return False
        return not modified or self.previous_modified.get(gid) != modified


class _SearchUnavailable(Exception):
    """The workspace answered 402 to task search (a premium feature)."""


class AsanaConnector:
    """Pulls one Asana source; see the module docstring for the incremental design."""

    def __init__(
        self,
        source: AsanaSource,
        *,
        workers: int = WORKERS,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
    ):
        self.source = source
        self.stats = FetchStats()
        self.workers = workers
        self.task_fields = TASK_FIELDS  # FREE_TASK_FIELDS once the workspace answers 402
        self._fields_lock = threading.Lock()
        self.http = AsanaHttp(
            source_name=source.name,
            url=source.url,
            token=source.token.get_secret_value(),
            ca_bundle=str(source.ca_bundle) if source.ca_bundle else None,
            stats=self.stats,
            pool_size=workers * 2,
            policy=retry or RetryPolicy(deadline=source.max_retry_wait_seconds),
            clock=clock,
            throttle=source_throttle(source, source.url, clock),
        )

    # -- contract ----------------------------------------------------------------------------
    def check(self) -> str:
        me = self.http.call("users/me", self.http.users.get_user, "me", opt_fields="name,email")[
            "data"
        ]
        return f"asana {self.source.url}: authenticated as {me.get('name')} ({me.get('email')})"

    def changed_since(self, cursor: Cursor | None) -> bool | None:
        """Whether any project's event feed has news since the stored sync tokens: one
        `GET /events` per project (a lost token, 412, counts as changed). The tokens are not
        advanced, so the sync that follows still reads every event. None without a cursor.

        Our own write-back stories arrive on the feed too; the run they start is cheap.
        """
        projects = (cursor or {}).get("projects")
        if not isinstance(projects, dict) or not projects:
            return None
        for project, state in sorted(projects.items()):
            token = (state or {}).get("sync") if isinstance(state, dict) else None
            if not token:
                return True  # a project the sync never got a token for: read it
            answer = self.http.call(
                f"events of project {project}", self.http.events.get_events, project, sync=token
            )
            if answer.get("status") == 412 or answer.get("data"):
                return True
        return False

    def fetch(self, cursor: Cursor | None, *, full: bool = False) -> Iterator[Batch]:
        """Yield pages of raw records, the censuses, and finally the next cursor."""
        workspace = self._workspace()
        listing_start = self._server_time()
        previous = dict(cursor or {})
        if (
            full
            or previous.get("version") not in READABLE_CURSORS
            or previous.get("workspace") != workspace
        ):
            previous = {}
        run = _Run(previous_modified=dict(previous.get("modified") or {}), first=not previous)
        run.watermark = _iso(listing_start - timedelta(minutes=self.source.overlap_minutes))
        known_subtasks: dict[str, list[str]] = {
            k: list(v) for k, v in (previous.get("subtasks") or {}).items()
        }
        project_state: dict[str, Any] = previous.get("projects") or {}
        projects = self._projects(workspace)
        yield Page([RawRecord("project", p["gid"], p) for p in projects])
        yield Census("project", {p["gid"] for p in projects})

        def read_project(
            job: tuple[str, dict[str, Any]], emit: Callable[[list[RawRecord]], None]
        ) -> tuple[str, list[RawRecord]]:
            kind, project = job
            if kind == "section":
                return kind, self._project_sections(project)
            if kind == "status_update":
                return kind, self._project_status_updates(project)
            state = project_state.get(project["gid"])
            if state:
                self._changed_in_project(project["gid"], state, run, known_subtasks, emit)
            else:
                self._full_project(project["gid"], run, emit)
            return kind, []

        # per project: its tasks (the longest reads first), sections and status updates, all
        # on the pool at once; task pages land as they arrive, whatever a project's size
        jobs = [(kind, p) for kind in ("task", "section", "status_update") for p in projects]
        listed: dict[str, list[RawRecord]] = {"section": [], "status_update": []}
        tasks: list[RawRecord] = []
        for page, done in _streamed(read_project, jobs, self.workers):
            if done is not None:
                kind, found = done
                if kind != "task":
                    listed[kind] += found
                continue
            tasks += page or []  # an incremental listing brings few tasks a page: land 500 at once
            if len(tasks) >= PAGE_LIMIT * 5:
                yield Page(tasks)
                tasks = []
        yield Page(tasks)
        del tasks
        for kind, found in listed.items():
            yield Page(found)
            yield Census(kind, {r.key for r in found})
        # the census of each project synced incrementally, and meanwhile the stories of the
        # tasks its listing found changed: the pool stays busy while the census pages run
        censused = [p["gid"] for p in projects if project_state.get(p["gid"])]
        read: set[str] = set()
        if censused:
            work = [("census", gid) for gid in censused] + [
                ("stories", g) for g in sorted(run.changed)
            ]

            def census_or_stories(job: tuple[str, str]) -> tuple[str, list[dict[str, Any]] | None]:
                kind, gid = job
                if kind == "census":
                    self._census(gid, run, known_subtasks)
                    return "", None
                return self._task_stories(gid)

            def noted(
                answers: Iterator[tuple[str, list[dict[str, Any]] | None]],
            ) -> Iterator[tuple[str, list[dict[str, Any]] | None]]:
                for gid, stories in answers:
                    if gid:
                        read.add(gid)
                    yield gid, stories

            yield from _story_pages(noted(_unordered(census_or_stories, work, self.workers)))
        # subtasks of new or changed parents (and of parents whose subtask count moved)
        for parent, count in run.counts.items():
            if count != len(known_subtasks.get(parent, [])):
                run.relist.add(parent)
        if run.first and run.relist and not self.source.projects:
            yield from self._searched_subtasks(workspace, run)
        yield from self._subtasks(run, known_subtasks)
        yield from self._event_changes(run, known_subtasks)
        known_subtasks.clear()
        live = run.top | {s for subs in run.subtasks.values() for s in subs}
        subtasks = {p: s for p, s in run.subtasks.items() if p in live and s}
        all_subtasks = {s for subs in subtasks.values() for s in subs}
        stories = sorted((run.changed & live) - read)
        run.forget_listings()  # what remains is the census and the cursor: the rest can go
        read.clear()
        del live
        yield from self._stories(stories)
        del stories
        yield Census("task", run.top)
        yield Census("subtask", all_subtasks)
        yield Census("stories", run.top | all_subtasks)
        yield Page(cursor=run.cursor(workspace, subtasks, all_subtasks))

    def _project_sections(self, project: dict[str, Any]) -> list[RawRecord]:
        return [
            RawRecord("section", s["gid"], {**s, "project": {"gid": project["gid"]}})
            for s in self._list(
                f"sections of project {project['gid']}",
                self.http.sections.get_sections_for_project,
                project["gid"],
                opt_fields="name",
            )
        ]

    def _project_status_updates(self, project: dict[str, Any]) -> list[RawRecord]:
        return [
            RawRecord(
                "status_update",
                u["gid"],
                {**u, "parent": {**(u.get("parent") or {}), "gid": project["gid"]}},
            )
            for u in self._list(
                f"status updates of project {project['gid']}",
                self.http.status_updates.get_statuses_for_object,
                project["gid"],
                opt_fields=STATUS_UPDATE_FIELDS,
            )
        ]

    # -- workspace and projects --------------------------------------------------------------
    def _workspace(self) -> str:
        wanted = self.source.workspace
        found = self._list("workspaces", self.http.workspaces.get_workspaces, opt_fields="name")
        for ws in found:
            if wanted in (None, ws["gid"], ws.get("name")):
                return str(ws["gid"])
        names = ", ".join(str(w.get("name")) for w in found) or "none"
        raise ConnectorError(
            f"asana source '{self.source.name}': workspace {wanted!r} not found "
            f"(the token sees: {names}); fix `workspace` in the config"
        )

    def _server_time(self) -> datetime:
        """Asana's clock at the last response (its `Date` header); ours when it sends none.

        Read right after a call made outside the thread pool, so the SDK's last response is it.
        """
        response = getattr(self.http.client, "last_response", None)
        header = response.getheader("Date") if response is not None else None
        if header:
            try:
                return parsedate_to_datetime(header).astimezone(UTC)
            except (TypeError, ValueError):
                pass
        return datetime.now(UTC)

    def _projects(self, workspace: str) -> list[dict[str, Any]]:
        found = self._list(
            "projects",
            self.http.projects.get_projects,
            workspace=workspace,
            archived=False,
            opt_fields="name,archived,created_at,modified_at,permalink_url",
        )
        wanted = set(self.source.projects)
        if not wanted:
            return found
        order = {key: i for i, key in enumerate(self.source.projects)}
        chosen = sorted(
            (p for p in found if p["gid"] in wanted or p.get("name") in wanted),
            key=lambda p: min(
                order.get(p["gid"], len(order)), order.get(str(p.get("name")), len(order))
            ),
        )
        missing = wanted - {p["gid"] for p in chosen} - {p.get("name") for p in chosen}
        if missing:
            raise ConnectorError(
                f"asana source '{self.source.name}': projects not found in the workspace: "
                f"{', '.join(sorted(missing))}; fix `projects` in the config"
            )
        return chosen

    # -- per project -------------------------------------------------------------------------
    def _full_project(
        self, project: str, run: _Run, emit: Callable[[list[RawRecord]], None]
    ) -> None:
        """Every task of the project, handed to `emit` page by page."""
        token = self._fresh_sync_token(project)
        for page in self._pages(
            f"tasks of project {project}",
            self.http.tasks.get_tasks,
            project=project,
            opt_fields=TASK_FIELDS,
        ):
            for task in page:
                self._saw_task(task, run, changed=run.saw(task))
            emit([RawRecord("task", t["gid"], t) for t in page])
        run.projects[project] = {"modified_since": run.watermark, "sync": token}

    def _changed_in_project(
        self,
        project: str,
        state: dict[str, Any],
        run: _Run,
        known: dict[str, list[str]],
        emit: Callable[[list[RawRecord]], None],
    ) -> None:
        """The project's events and the tasks changed since the last sync, handed to `emit`
        page by page (fetch() then takes its census)."""
        token, lost = self._events(project, state.get("sync"), run)
        if lost:  # the feed is gone: list every known subtask again and read their stories
            run.events_lost = True
            run.relist.update(known)
        for page in self._pages(
            f"changed tasks of project {project}",
            self.http.tasks.get_tasks,
            project=project,
            modified_since=state.get("modified_since") or None,
            opt_fields=TASK_FIELDS,
        ):
            for task in page:
                self._saw_task(task, run, changed=run.saw(task))
            emit([RawRecord("task", t["gid"], t) for t in page])
        run.projects[project] = {"modified_since": run.watermark, "sync": token}

    def _census(self, project: str, run: _Run, known: dict[str, list[str]]) -> None:
        """Every live top-level task of the project (the rest become tombstones) with its
        subtask count (a count that moved gets the parent's subtasks listed again)."""
        for page in self._pages(
            f"task census of project {project}",
            self.http.tasks.get_tasks,
            project=project,
            opt_fields="num_subtasks",
        ):
            for task in page:
                run.top.add(task["gid"])
                if task.get("num_subtasks") or task["gid"] in known:
                    run.counts[task["gid"]] = int(task.get("num_subtasks") or 0)

    def _saw_task(self, task: dict[str, Any], run: _Run, *, changed: bool) -> None:
        run.top.add(task["gid"])
        run.listed(task["gid"])
        if changed:
            run.changed.add(task["gid"])
        if task.get("num_subtasks"):
            # a known parent whose count stands keeps its subtasks (their changes arrive as
            # events); fetch() relists those whose count moved
            if run.first:
                run.relist.add(task["gid"])
            run.counts[task["gid"]] = int(task["num_subtasks"])

    def _fresh_sync_token(self, project: str) -> str | None:
        answer = self.http.call(
            f"events of project {project}", self.http.events.get_events, project
        )
        return answer.get("sync")

    def _events(self, project: str, token: str | None, run: _Run) -> tuple[str | None, bool]:
        """Gids changed since `token`; (next token, whether the feed was lost)."""
        while True:
            answer = self.http.call(
                f"events of project {project}", self.http.events.get_events, project, sync=token
            )
            if answer.get("status") == 412:
                return answer.get("sync"), True
            for event in answer.get("data") or []:
                resource = event.get("resource") or {}
                # stories, sections, attachments... also arrive on a project's feed
                if resource.get("gid") and resource.get("resource_type") == "task":
                    gid = str(resource["gid"])
                    if event.get("action") == "deleted":
                        run.deleted.add(gid)
                    else:
                        run.event_gids.add(gid)
            token = answer.get("sync") or token
            if not answer.get("has_more"):
                return token, False

    # -- subtasks, event changes, stories ----------------------------------------------------
    def _searched_subtasks(self, workspace: str, run: _Run) -> Iterator[Batch]:
        """Land the subtasks the workspace search finds under the parents to be listed, page by
        page (memory stays flat); a parent whose `num_subtasks` the search does not match stays
        in `run.relist` and is listed after this."""
        expected = {parent: run.counts.get(parent, 0) for parent in run.relist}
        placed: dict[str, list[str]] = {}  # parent -> subtasks found under it
        moved: set[str] = set()  # subtasks whose stories must be read
        waiting: dict[str, list[dict[str, Any]]] = {}  # under a parent not seen yet
        records: list[RawRecord] = []

        def place(sub: dict[str, Any], parent: str) -> None:
            gid = str(sub["gid"])
            placed.setdefault(parent, []).append(gid)
            records.append(RawRecord("subtask", gid, sub))
            if run.saw(sub):
                moved.add(gid)
            if sub.get("num_subtasks"):
                expected[gid] = int(sub["num_subtasks"])
            for child in waiting.pop(gid, []):
                place(child, gid)

        try:
            for page in self._search_subtasks(workspace):
                for sub in page:
                    parent = str((sub.get("parent") or {}).get("gid") or "")
                    if parent in expected:
                        place(sub, parent)
                    elif parent:  # older than its parent, or of a task this source skips
                        waiting.setdefault(parent, []).append(sub)
                if len(records) >= PAGE_LIMIT * 5:
                    yield Page(records)
                    records = []
        except _SearchUnavailable as err:
            log.info(
                "asana source '%s': no task search (%s); listing subtasks per parent",
                self.source.name,
                err,
            )
            return
        yield Page(records)
        for parent, count in expected.items():
            subs = placed.get(parent, [])
            if len(subs) != count:
                run.relist.add(parent)
                continue
            run.relist.discard(parent)
            run.subtasks[parent] = subs
            run.changed.update(moved.intersection(subs))

    def _search_subtasks(self, workspace: str) -> Iterator[list[dict[str, Any]]]:
        """Pages of every subtask of the workspace, oldest first (a parent before its own
        subtasks); raises `_SearchUnavailable` when the plan has no search (402).

        Search has no paging: each query asks for what was created after the newest one seen
        (less a millisecond, so ties at the boundary are read again, not skipped) until a page
        brings nothing new.
        """
        seen: set[str] = set()
        after: str | None = None
        largest = 0
        while True:
            opts: dict[str, Any] = {
                "is_subtask": True,
                "sort_by": "created_at",
                "sort_ascending": True,
                "opt_fields": self.task_fields,
            }
            if after:
                opts["created_at.after"] = after
            try:
                answer = self.http.call(
                    "subtask search", self.http.tasks.search_tasks_for_workspace, workspace, **opts
                )
            except PaymentRequired as err:
                raise _SearchUnavailable(str(err)) from None
            page = list(answer.get("data") or [])
            new = [t for t in page if t["gid"] not in seen]
            seen.update(t["gid"] for t in new)
            largest = max(largest, len(page))
            yield new
            if not new or len(page) < largest:
                return
            newest = max(
                datetime.fromisoformat(str(t["created_at"]).replace("Z", "+00:00")) for t in page
            )
            after = _iso(newest - timedelta(milliseconds=1))

    def _subtasks(self, run: _Run, known: dict[str, list[str]]) -> Iterator[Batch]:
        todo = sorted(run.relist)
        while todo:
            nested: list[str] = []
            for parent, subs in _parallel(self._list_subtasks, todo, self.workers):
                if subs is None:
                    continue
                run.subtasks[parent] = [s["gid"] for s in subs]
                yield Page([RawRecord("subtask", s["gid"], s) for s in subs])
                for sub in subs:
                    run.listed(sub["gid"])
                    if run.saw(sub):
                        run.changed.add(sub["gid"])
                    if sub.get("num_subtasks"):
                        nested.append(sub["gid"])
                    elif sub["gid"] in known:
                        run.subtasks[sub["gid"]] = []
            todo = nested
        # parents not re-listed keep the subtasks known from the last run
        for parent, kept in known.items():
            run.subtasks.setdefault(parent, list(kept))

    def _list_subtasks(self, parent: str) -> tuple[str, list[dict[str, Any]] | None]:
        try:
            return parent, self._list(
                f"subtasks of task {parent}",
                self.http.tasks.get_subtasks_for_task,
                parent,
                opt_fields=TASK_FIELDS,
            )
        except NotFound:
            return parent, None

    def _event_changes(self, run: _Run, known: dict[str, list[str]]) -> Iterator[Batch]:
        """Read the tasks the events named that no listing returned (mostly subtasks)."""
        parent_of = {s: p for p, subs in run.subtasks.items() for s in subs}
        for gid in run.deleted - run.fetched:
            parent = parent_of.get(gid)
            if parent in run.subtasks and gid in run.subtasks[parent]:
                run.subtasks[parent].remove(gid)
        wanted = sorted(run.event_gids - run.fetched - run.deleted)
        records = []
        for gid, task in _parallel(self._get_task, wanted, self.workers):
            if task is None:  # deleted: drop it from its parent's list
                parent = parent_of.get(gid)
                if parent in run.subtasks and gid in run.subtasks[parent]:
                    run.subtasks[parent].remove(gid)
                continue
            parent = (task.get("parent") or {}).get("gid")
            moved = run.saw(task)
            if parent is None:
                if gid in run.top:
                    records.append(RawRecord("task", gid, task))
                    if moved:
                        run.changed.add(gid)
                continue
            records.append(RawRecord("subtask", gid, task))
            if moved:
                run.changed.add(gid)
            siblings = run.subtasks.setdefault(parent, [])
            if gid not in siblings:
                siblings.append(gid)
            if len(records) >= PAGE_LIMIT:
                yield Page(records)
                records = []
        yield Page(records)

    def _get_task(self, gid: str) -> tuple[str, dict[str, Any] | None]:
        while True:
            fields = self.task_fields
            try:
                answer = self.http.call(
                    f"task {gid}", self.http.tasks.get_task, gid, opt_fields=fields
                )
            except NotFound:
                return gid, None
            except PaymentRequired as err:
                if self._without_dependencies(str(err), fields):
                    continue
                raise ConnectorError(
                    f"asana source '{self.source.name}': task {gid} needs a paid Asana plan: {err}"
                ) from None
            return gid, answer.get("data")

    def _stories(self, gids: list[str]) -> Iterator[Batch]:
        yield from _story_pages(_parallel(self._task_stories, gids, self.workers))

    def _task_stories(self, gid: str) -> tuple[str, list[dict[str, Any]] | None]:
        try:
            return gid, self._list(
                f"stories of task {gid}",
                self.http.stories.get_stories_for_task,
                gid,
                opt_fields=STORY_FIELDS,
            )
        except NotFound:
            return gid, None

    # -- paging ------------------------------------------------------------------------------
    def _pages(
        self, what: str, method: Callable[..., Any], *args: Any, **opts: Any
    ) -> Iterator[list[dict[str, Any]]]:
        """Every page of a listing; an expired offset restarts it (records are upserts)."""
        opts = {k: v for k, v in opts.items() if v is not None}
        restarts = 0
        while restarts <= OFFSET_RESTARTS:
            offset: str | None = None
            page_opts: dict[str, Any] = {}
            try:
                while True:
                    page_opts = {**self._fields(opts), "limit": PAGE_LIMIT}
                    if offset:
                        page_opts["offset"] = offset
                    answer = self.http.call(what, method, *args, **page_opts)
                    yield list(answer.get("data") or [])
                    offset = (answer.get("next_page") or {}).get("offset")
                    if not offset:
                        return
            except OffsetExpired:
                restarts += 1
            except PaymentRequired as err:
                if not self._without_dependencies(str(err), str(page_opts.get("opt_fields"))):
                    raise ConnectorError(
                        f"asana source '{self.source.name}': {what} needs a paid Asana plan: {err}"
                    ) from None
        raise ConnectorError(
            f"asana source '{self.source.name}': {what}: Asana kept expiring the page offset "
            f"({OFFSET_RESTARTS} restarts); run the sync again"
        )

    def _fields(self, opts: dict[str, Any]) -> dict[str, Any]:
        """Task field lists follow the workspace's plan (no dependencies on a free plan)."""
        if opts.get("opt_fields") == TASK_FIELDS:
            return {**opts, "opt_fields": self.task_fields}
        return opts

    def _without_dependencies(self, message: str, asked: str) -> bool:
        """After a 402, drop the paid-plan fields (warning once); False when the refused
        request `asked` for none of them (then the 402 is about something else)."""
        if not any(f.startswith(PREMIUM_FIELDS) for f in asked.split(",")):
            return False
        with self._fields_lock:
            if self.task_fields == FREE_TASK_FIELDS:
                return True  # another thread dropped them already
            self.task_fields = FREE_TASK_FIELDS
            warning = (
                f"asana source '{self.source.name}': dependencies are an Asana paid-plan "
                "feature; this workspace is on the free plan: cross-task dependencies are not "
                f"synced (Asana said: {message})"
            )
            self.stats.warnings.append(warning)
        log.warning("%s", warning)
        return True

    def _list(
        self, what: str, method: Callable[..., Any], *args: Any, **opts: Any
    ) -> list[dict[str, Any]]:
        return [item for page in self._pages(what, method, *args, **opts) for item in page]


def _iso(moment: datetime) -> str:
    """Asana's timestamp form (UTC, milliseconds, Z)."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


STORY_PAGE = 500  # stories of this many tasks land together


def _story_pages(answers: Iterable[tuple[str, list[dict[str, Any]] | None]]) -> Iterator[Page]:
    """Pages of `stories` records from (task gid, stories) answers; None means nothing to land."""
    records: list[RawRecord] = []
    for gid, stories in answers:
        if stories is not None:
            records.append(RawRecord("stories", gid, {"task": gid, "data": stories}))
        if len(records) >= STORY_PAGE:
            yield Page(records)
            records = []
    yield Page(records)


def _unordered(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """`map` over a thread pool in completion order (a long call holds no other back), with a
    bounded number of calls in flight."""
    pending: set[Future[R]] = set()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asana") as pool:
        try:
            for item in items:
                pending.add(pool.submit(fn, item))
                if len(pending) >= workers * 2:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    yield from (future.result() for future in done)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
        finally:
            for future in pending:
                future.cancel()


class _Closed(Exception):
    """The consumer of `_streamed` went away: the call still running ends early."""


def _streamed(
    fn: Callable[[T, Callable[[E], None]], R], items: Iterable[T], workers: int
) -> Iterator[tuple[E | None, R | None]]:
    """Run `fn(item, emit)` over a thread pool; yield each value a call emits, as (value,
    None), and each call's result when it ends, as (None, result).

    At most `workers * 2` emitted values wait: a call that emits faster than the consumer
    takes waits too, so a long listing holds a few pages, never all of them. An exception in
    a call is raised here."""
    waiting: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=workers * 2)
    closed = threading.Event()

    def put(entry: tuple[str, Any]) -> None:
        while not closed.is_set():
            try:
                waiting.put(entry, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Closed

    def run(item: T) -> None:
        try:
            put(("result", fn(item, lambda value: put(("value", value)))))
        except _Closed:
            pass
        except BaseException as err:  # handed to the consumer, which raises it
            with contextlib.suppress(_Closed):
                put(("error", err))

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asana") as pool:
        calls = [pool.submit(run, item) for item in items]
        try:
            running = len(calls)
            while running:
                tag, value = waiting.get()
                if tag == "error":
                    raise value
                if tag == "value":
                    yield value, None
                else:
                    running -= 1
                    yield None, value
        finally:
            closed.set()
            for call in calls:
                call.cancel()


def _parallel(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """`map` over a thread pool, in order, with a bounded number of calls in flight."""
    pending: deque[Future[R]] = deque()
    source = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asana") as pool:
        try:
            for item in source:
                pending.append(pool.submit(fn, item))
                if len(pending) >= workers * 2:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
