"""A sync's memory does not grow with the size of a project: its pages land as they arrive."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from sandbox.asana import AsanaSandbox, generate_org
from tests.connectors.test_asana import _live, _sync


def _peak_of_full_sync(tmp_path: Path, size: int) -> int:
    """Peak Python memory of a first sync of an org of `size` tasks in two projects."""
    org = generate_org(size, 41)
    assert len(org.projects) == 2  # the projects grow with `size`, not their number
    with AsanaSandbox(org, check_responses=False) as sb:
        raw = tmp_path / f"{size}.duckdb"
        tracemalloc.start()
        try:
            _sync(sb, raw, full=True)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert _live(raw, "task") | _live(raw, "subtask") == set(org.tasks)
    return peak


def test_peak_memory_of_a_first_sync_stays_flat_in_project_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the landing's and the stories' batches are bounds of their own: scaled to this size, as is
    # the garbage a sync lets build up between collections (its allocations, not its items)
    monkeypatch.setattr("model.landing.STAGE_RECORDS", 100)
    monkeypatch.setattr("model.collection.YOUNG_THRESHOLD", 700)
    monkeypatch.setattr("connectors.asana.connector.STORY_PAGE", 20)
    small = _peak_of_full_sync(tmp_path, 250)
    large = _peak_of_full_sync(tmp_path, 1000)
    assert large <= 1.25 * small, (small, large)
