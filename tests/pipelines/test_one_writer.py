"""One writer whatever starts the run: a scheduled run, a UI "Materialize all" and `handoff sync`
at once on one data directory keep every run's lifecycle; each waits or fails naming the holder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from handoff.config import load_config
from handoff.lock import sync_lock
from model.publish import PublishedChangedError, identity, publish
from pipelines.runner import run_sync

pytestmark = pytest.mark.slow  # three whole-job runs in parallel processes

# A run as Dagster starts it: the schedule's run of nightly_sync (its tags), or the UI's
# "Materialize all", which runs the implicit asset job with no tags at all.
RUN_AS = """
import sys
from pathlib import Path
import dagster as dg
from handoff.config import load_config
from pipelines.definitions import build_definitions
kind, path = sys.argv[1], Path(sys.argv[2])
defs = build_definitions(load_config(path), str(path))
if kind == "scheduled":
    schedule = defs.resolve_schedule_def("nightly_sync_schedule")
    job = defs.resolve_job_def("nightly_sync")
    tags = {**job.tags, "dagster/schedule_name": schedule.name}
else:
    job = defs.resolve_implicit_global_asset_job_def()
    tags = {}
result = job.execute_in_process(
    instance=dg.DagsterInstance.ephemeral(), tags=tags, raise_on_error=False
)
print(job.name, result.run_id, "success" if result.success else "failed", flush=True)
sys.exit(0 if result.success else 1)
"""


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def lifecycles(db: Path) -> dict[str, tuple[Any, ...]]:
    rows = query(db, "SELECT exception_id, first_seen, status, resolved_at FROM exceptions")
    return {row[0]: row[1:] for row in rows}


def openers(path: Path) -> set[int]:
    """Processes other than this one that hold `path` open (Linux): runs waiting for the lock."""
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if any(os.path.realpath(fd) == str(path) for fd in (proc / "fd").iterdir()):
                found.add(int(proc.name))
        except OSError:
            continue
    return found


def change_it_plan(plan: Path) -> None:
    """OPS-104 is done (its findings resolve); OPS-102 is now overdue (new findings appear)."""
    lines = plan.read_text(encoding="utf-8-sig").splitlines()
    past = (datetime.now(UTC) - timedelta(days=3)).strftime("%d.%m.%Y")
    out = []
    for line in lines:
        cells = line.split(";")
        if cells[0] == "OPS-104":
            cells[2] = "Done"
        if cells[0] == "OPS-102":
            cells[4] = past
        out.append(";".join(cells))
    plan.write_text("\n".join(out) + "\n", encoding="utf-8-sig")


def test_scheduled_ui_and_cli_runs_at_once_keep_every_lifecycle(
    file_org: Callable[..., Path],
) -> None:
    config = file_org(sync={"retries": 0, "retry_delay_seconds": 0, "lock_wait_seconds": 300})
    loaded = load_config(config, require_env=False)
    db, data_dir = loaded.database_path, loaded.path(loaded.data_dir)
    before_runs = (datetime.now(UTC) - timedelta(hours=2)).replace(tzinfo=None)
    assert run_sync(config, now=before_runs).success
    before = lifecycles(db)
    change_it_plan(config.parent / "plans" / "it.csv")

    env = {**os.environ, "HANDOFF_CONFIG": str(config)}
    env.pop("DAGSTER_HOME", None)
    commands = {
        "scheduled": [sys.executable, "-c", RUN_AS, "scheduled", str(config)],
        "ui": [sys.executable, "-c", RUN_AS, "ui", str(config)],
        "cli": [sys.executable, "-m", "pipelines.cli", "sync", "--config", str(config)],
    }
    lock = (data_dir / ".sync.lock").resolve()
    with sync_lock(data_dir, doing="holding the model while three runs start"):
        runs = {
            name: subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
            for name, command in commands.items()
        }
        deadline = time.monotonic() + 240
        while len(openers(lock)) < 3:  # all three fetched and now wait for the model
            for name, run in runs.items():
                assert run.poll() is None, (name, run.communicate())
            assert time.monotonic() < deadline, "the three runs never all reached the lock"
            time.sleep(0.2)
    outputs = {name: run.communicate(timeout=600) for name, run in runs.items()}

    published = 0
    for name, run in runs.items():
        _out, err = outputs[name]
        if run.returncode == 0:
            published += 1
            assert "waiting up to 300 s" in err, (name, err[-3000:])  # it waited, and said so
        else:  # failed clearly, naming who held the lock
            assert "another sync is running" in err and " held by pid " in err, (name, err)
    assert published >= 1
    rebuilt = [name for name, (_, err) in outputs.items() if "rebuilding on it" in err]
    print(f"{published} of 3 runs published; rebuilt on a newer publish: {rebuilt or 'none'}")

    after = lifecycles(db)
    runs_in_model = query(db, "SELECT count(DISTINCT run_id) FROM exception_runs")[0][0]
    assert runs_in_model == 1 + published  # every publish carried all earlier ones
    assert query(db, "SELECT count(DISTINCT run_id) FROM sync_runs")[0][0] == 1 + published
    for exception_id, (first_seen, *_) in before.items():
        assert after[exception_id][0] == first_seen  # no first_seen moves
    resolved = [i for i, (_, status, _) in after.items() if status == "resolved" and i in before]
    new = [i for i in after if i not in before]
    assert resolved and new  # the change resolved findings and raised new ones
    counted = query(
        db,
        "SELECT sum(resolved_count), sum(new_count) FROM exception_runs "
        f"WHERE evaluated_at > TIMESTAMP '{before_runs}'",
    )[0]
    assert counted == (len(resolved), len(new))  # nothing resolved (or raised) twice
    first_publish = query(
        db,
        f"SELECT min(evaluated_at) FROM exception_runs WHERE evaluated_at > TIMESTAMP '{before_runs}'",
    )[0][0]
    assert {after[i][2] for i in resolved} <= {
        r[0] for r in query(db, "SELECT evaluated_at FROM exception_runs")
    }
    assert all(after[i][0] >= first_publish for i in new)


def test_a_publish_refuses_to_replace_a_file_its_build_did_not_read(tmp_path: Path) -> None:
    published = tmp_path / "handoff.duckdb"
    duckdb.connect(str(published)).close()
    read = identity(published)
    newer = tmp_path / "newer.duckdb"
    duckdb.connect(str(newer)).execute("CREATE TABLE t AS SELECT 1 AS x").close()
    publish(newer, published, based_on=read)  # nobody published meanwhile: accepted
    assert identity(published) != read
    stale = tmp_path / "stale.duckdb"
    duckdb.connect(str(stale)).close()
    with pytest.raises(PublishedChangedError, match="replaced by another run"):
        publish(stale, published, based_on=read)
    assert stale.exists() and query(published, "SELECT x FROM t") == [(1,)]
