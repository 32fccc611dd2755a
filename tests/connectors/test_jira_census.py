"""Data Center's key census: its pages are asked for together once the first tells the total,
and what that costs in ordering never costs an issue (shifted offsets, short pages).

The census (keys and `updated` only) turns deleted issues into tombstones; on an incremental
sync after a deletion it is most of what the user waits for, one request per page. The sites
here grant 200 issues a page (a Data Center admin can lower the search maximum) and answer
each census page after a delay, as a real site does."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

import duckdb

from sandbox.jira import JiraOrg, JiraSandbox, generate_org
from sandbox.server import Request
from tests.connectors.test_jira_sync import NOW, source_for, sync

PAGE = 200


class CensusSite(JiraSandbox):
    """Data Center granting `PAGE` issues a census page after `latency` seconds; counts the
    census requests answered at the same time. `delete_after_first` is deleted once the first
    census page is answered (the later pages' offsets shift); `short_at` is an offset whose
    page comes back with half the issues once (what a server may grant)."""

    def __init__(self, org: JiraOrg, *, latency: float = 0.0, **options: Any) -> None:
        self._guard_lock = threading.Lock()  # set before the routes are guarded
        self.latency = latency
        self.delete_after_first: list[str] = []
        self.short_at: int | None = None
        self.census_requests = 0
        self.in_flight = 0
        self.most_in_flight = 0
        super().__init__(org, deployment="data_center", **options)

    def _is_census(self, request: Request) -> bool:
        params = self._params(request)
        asks = list(params.get("fields") or []) == ["updated"]
        return asks and int(params.get("maxResults") or 0) > 1  # not the count's search

    def _guard(self, handler: Any) -> Any:
        """A real site answers requests side by side: the delay is spent outside the
        sandbox's lock, and the census requests waiting in it are counted."""
        guarded = super()._guard(handler)
        if getattr(handler, "__name__", "") != "search_legacy":
            return guarded

        def answer(request: Request) -> Any:
            if not self._is_census(request):
                return guarded(request)
            with self._guard_lock:
                self.census_requests += 1
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                time.sleep(self.latency)
                return guarded(request)
            finally:
                with self._guard_lock:
                    self.in_flight -= 1

        return answer

    def search_legacy(self, request: Request) -> dict[str, Any]:
        result: dict[str, Any] = super().search_legacy(request)
        if not self._is_census(request):
            return result
        grant = PAGE
        if result["startAt"] == self.short_at:
            self.short_at, grant = None, PAGE // 2
        result["issues"], result["maxResults"] = result["issues"][:grant], grant
        if result["startAt"] == 0 and self.delete_after_first:
            self.org.delete(self.delete_after_first)
            self.delete_after_first = []
        return result


def by_id(org: JiraOrg) -> list[str]:
    return sorted(org.issues, key=lambda key: int(org.issues[key].id))


def held(raw: Path) -> tuple[list[str], list[str]]:
    """Live and tombstoned issue keys of a raw store."""
    con = duckdb.connect(str(raw), read_only=True)
    rows = con.execute(
        "SELECT record_key, is_deleted FROM raw_records WHERE record_type = 'issue'"
    ).fetchall()
    con.close()
    return sorted(k for k, d in rows if not d), sorted(k for k, d in rows if d)


def test_census_pages_are_asked_for_together_once_the_first_tells_the_total(
    tmp_path: Path,
) -> None:
    org = generate_org(1000, seed=41, now=NOW)
    with CensusSite(org, latency=0.3) as sandbox:
        source = source_for(sandbox, remote_links=False)
        raw = tmp_path / "raw.duckdb"
        sync(source, raw, full=True)
        deleted = by_id(org)[500]
        org.delete([deleted])  # Jira's count disagrees with the known keys: census taken
        sandbox.census_requests = sandbox.most_in_flight = 0
        sync(source, raw)
    pages = math.ceil(len(org.issues) / PAGE)
    assert sandbox.census_requests == pages  # no page asked for twice
    # the first page alone, then the other four together (the connector's four workers):
    # 0.6 s of waiting where one page after the other made it 1.5 s
    assert sandbox.most_in_flight == pages - 1 == 4
    live, tombstones = held(raw)
    assert tombstones == [deleted]
    assert live == sorted(org.issues)


def test_census_lists_every_live_key_when_a_deletion_shifts_the_offsets(
    tmp_path: Path,
) -> None:
    """Two issues of the first page are deleted once it is answered: the pages asked for after
    it by offset each start two issues late, so two live issues fall between pages while the
    keys listed (the deleted two among them) still number the last page's total. The first
    page's total tells the change: the census is taken again, and only the deleted two are
    tombstoned."""
    org = generate_org(1000, seed=42, now=NOW)
    with CensusSite(org) as sandbox:
        source = source_for(sandbox, remote_links=False)
        raw = tmp_path / "raw.duckdb"
        sync(source, raw, full=True)
        deleted = by_id(org)[10:12]
        sandbox.delete_after_first = deleted
        sync(source, raw, full=True)
    live, tombstones = held(raw)
    assert tombstones == sorted(deleted)
    assert live == sorted(org.issues)


def test_census_reads_on_after_a_short_page(tmp_path: Path) -> None:
    """A page that comes back with fewer issues than the first leaves a gap before the pages
    already asked for: the census reads on one page at a time from the gap, and no live issue
    is taken for deleted."""
    org = generate_org(1000, seed=43, now=NOW)
    with CensusSite(org) as sandbox:
        source = source_for(sandbox, remote_links=False)
        raw = tmp_path / "raw.duckdb"
        sandbox.short_at = PAGE
        sync(source, raw, full=True)
        assert sandbox.census_requests < 2 * len(org.issues) // PAGE  # taken once
    live, tombstones = held(raw)
    assert tombstones == []
    assert live == sorted(org.issues)
