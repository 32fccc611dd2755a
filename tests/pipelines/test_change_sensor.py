"""The intraday sensor against the real sandboxes: a run only for the sources that changed."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from handoff.config import load_config
from handoff.flow_config import Intraday
from pipelines.definitions import build_definitions
from pipelines.defs.change_sensor import SENSOR_NAME, in_working_hours
from pipelines.resources import HandoffConfigResource
from pipelines.runner import run_sync
from sandbox.asana import AsanaSandbox, generate_org
from sandbox.jira import JiraOrg, JiraSandbox

ALWAYS = {"enabled": True, "window": "00:00-24:00", "weekdays_only": False}


def _jira_org() -> JiraOrg:
    org = JiraOrg.empty(datetime.now(UTC) - timedelta(days=3))
    org.add_project("OPS", "Operations")
    for n in range(1, 6):
        org.add_issue(f"OPS-{n}", f"Task {n}", project="OPS")
    return org


@pytest.fixture(params=["cloud", "data_center"])
def synced(
    request: pytest.FixtureRequest,
    file_org: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Path, JiraSandbox, AsanaSandbox]]:
    """Story files, a Jira site and an Asana workspace, synced once."""
    with (
        JiraSandbox(_jira_org(), deployment=request.param) as jira,
        AsanaSandbox(generate_org(20, 5)) as asana,
    ):
        jira_entry, jira_env = jira.source_entry("it-jira", "JIRA_T")
        asana_entry, asana_env = asana.source_entry("mkt-asana", "ASANA_T")
        for key, value in {**jira_env, **asana_env}.items():
            monkeypatch.setenv(key, value)
        path = file_org(extra_sources=[jira_entry, asana_entry], intraday=ALWAYS)
        assert run_sync(path).success
        yield path, jira, asana


def _tick(path: Path) -> dg.SensorResult | dg.SkipReason:
    defs = build_definitions(load_config(path), str(path))
    sensor = defs.get_sensor_def(SENSOR_NAME)
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance,
            definitions=defs,
            resources={"handoff_config": HandoffConfigResource(path=str(path))},
        )
        return sensor(context)  # type: ignore[no-any-return]


def _requests(*sandboxes: Any) -> list[int]:
    return [s.server.total_requests for s in sandboxes]


def test_nothing_changed_no_run_and_few_requests(
    synced: tuple[Path, JiraSandbox, AsanaSandbox],
) -> None:
    path, jira, asana = synced
    before = _requests(jira, asana)
    result = _tick(path)
    assert isinstance(result, dg.SkipReason), result
    assert "no source changed" in (result.skip_message or "")
    spent = [a - b for a, b in zip(_requests(jira, asana), before, strict=True)]
    assert spent[0] <= 2  # Jira: a search of one issue (+ a count on Cloud)
    asana_projects = len(asana.org.projects)
    assert spent[1] <= asana_projects  # one events call per project


def test_one_jira_issue_changed_runs_that_source_only(
    synced: tuple[Path, JiraSandbox, AsanaSandbox],
) -> None:
    path, jira, _ = synced
    jira.org.touch(["OPS-2"])
    before = _requests(jira)
    result = _tick(path)
    assert _requests(jira)[0] - before[0] <= 2
    assert isinstance(result, dg.SensorResult), result
    [run] = result.run_requests or []
    selected = {k.to_user_string() for k in run.asset_selection or []}
    assert {k for k in selected if k.startswith("raw/")} == {"raw/it-jira"}
    assert {"governance_model", "exceptions", "exception_report"} <= selected
    assert run.run_key and run.tags["handoff/changed_sources"] == "it-jira"
    # the same stored state launches the same run key: a later tick cannot duplicate it
    again = _tick(path)
    assert isinstance(again, dg.SensorResult)
    assert [r.run_key for r in again.run_requests or []] == [run.run_key]
    # the incremental run for that source lands the change; afterwards nothing is pending
    assert run_sync(path, sources=["it-jira"]).success
    assert isinstance(_tick(path), dg.SkipReason)


def test_a_changed_file_and_an_asana_task_select_those_sources(
    synced: tuple[Path, JiraSandbox, AsanaSandbox],
) -> None:
    path, _, asana = synced
    plan = path.parent / "plans" / "it.csv"
    plan.write_text(plan.read_text() + "\n")
    stat = plan.stat()
    os.utime(plan, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    task = next(g for g, t in asana.org.tasks.items() if t.parent is None)
    asana.org.touch([task], asana.org.now + timedelta(minutes=5))
    result = _tick(path)
    assert isinstance(result, dg.SensorResult), result
    [run] = result.run_requests or []
    selected = {k.to_user_string() for k in run.asset_selection or []}
    assert {k for k in selected if k.startswith("raw/")} == {"raw/it-ops", "raw/mkt-asana"}


def test_working_hours_window() -> None:
    office = Intraday(enabled=True, window="08:00-18:00", timezone="Europe/Berlin")
    tuesday_9 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # 09:00 in Berlin
    assert in_working_hours(tuesday_9, office)
    assert not in_working_hours(tuesday_9 + timedelta(hours=10), office)  # 19:00
    assert not in_working_hours(tuesday_9 + timedelta(days=4), office)  # Saturday
    night = Intraday(window="22:00-06:00", timezone="UTC", weekdays_only=False)
    assert in_working_hours(datetime(2026, 12, 5, 23, 30, tzinfo=UTC), night)
    assert not in_working_hours(datetime(2026, 12, 5, 12, 0, tzinfo=UTC), night)
