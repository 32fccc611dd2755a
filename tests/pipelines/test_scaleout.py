"""The nightly job scales out on Dagster's own engines and keeps its state in Dagster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
import yaml

from pipelines.defs.sources import source_key
from pipelines.runner import run_sync
from tests.conftest import file_org_config

NOW = datetime(2026, 11, 20, 2, 0)


@pytest.fixture
def file_org_at() -> Callable[..., Path]:
    """The shared file organisation, written under a folder of the test's choosing."""

    def make(root: Path, **kwargs: Any) -> Path:
        return file_org_config(root, **kwargs)

    return make


STEP_CWD = Path(__file__).parent / "step_cwd"


def published(db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            "work_items": con.execute(
                "SELECT item_id, status, department FROM work_items ORDER BY 1"
            ).fetchall(),
            "dependencies": con.execute(
                "SELECT upstream_id, downstream_id, is_resolved FROM dependencies ORDER BY 1, 2"
            ).fetchall(),
            "exceptions": con.execute(
                "SELECT exception_id, status FROM exceptions ORDER BY 1"
            ).fetchall(),
        }
    finally:
        con.close()


def with_executor(config_path: Path, executor: str) -> Path:
    config = yaml.safe_load(config_path.read_text())
    config["sync"]["executor"] = executor
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return config_path


RUN_FROM_EMPTY_DIR = textwrap.dedent("""\
    import sys
    from datetime import datetime
    from pathlib import Path
    from pipelines.runner import run_sync
    report = run_sync(Path(sys.argv[1]), now=datetime.fromisoformat(sys.argv[2]))
    print("OK" if report.success else report.errors)
    """)


@pytest.mark.slow  # three whole runs, two of them with a process per step
@pytest.mark.timeout(900)
def test_every_executor_publishes_the_same_model(
    tmp_path: Path, file_org_at: Callable[..., Path]
) -> None:
    results = {}
    for executor in ("in_process", "multiprocess"):
        config = with_executor(file_org_at(tmp_path / executor), executor)
        report = run_sync(config, now=NOW)
        assert report.success, report.errors
        results[executor] = published(config.parent / "data" / "handoff.duckdb")

    # Each process (the run's and every step's) starts in a new empty folder; the config path is
    # absolute, so the config, the data dir and DAGSTER_HOME are all the steps have in common.
    config = with_executor(file_org_at(tmp_path / "isolated"), "multiprocess")
    log = tmp_path / "step-dirs.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(STEP_CWD), os.environ.get("PYTHONPATH", "")]),
        "HANDOFF_TEST_CWD_LOG": str(log),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    (tmp_path / "dagster_home").mkdir()
    result = subprocess.run(
        [sys.executable, "-c", RUN_FROM_EMPTY_DIR, str(config), NOW.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.stdout.strip().endswith("OK"), result.stdout + result.stderr
    dirs = [Path(line.split()[1]) for line in log.read_text().splitlines()]
    sources = 4
    assert len(set(dirs)) >= sources + 1  # the run's process and at least one per source step
    assert all(not any(d.iterdir()) for d in dirs)  # nothing was written relative to a cwd
    results["isolated"] = published(config.parent / "data" / "handoff.duckdb")

    assert results["in_process"]["work_items"]
    assert results["in_process"]["exceptions"]
    assert results["multiprocess"] == results["in_process"]
    assert results["isolated"] == results["in_process"]


# Importing Dagster is paid once per process whatever the config; the measure starts after it.
# It counts the process's CPU time, not the wall clock: the cost is the work done, which other
# processes sharing the machine (a parallel test run) do not change.
MEASURE = textwrap.dedent("""\
    import json, sys, time
    from pathlib import Path
    from handoff.config import load_config
    from pipelines.definitions import build_definitions
    start = time.process_time()
    config = load_config(Path(sys.argv[1]), require_env=False)
    defs = build_definitions(config, sys.argv[1])
    job = defs.resolve_job_def("nightly_sync")
    defs.resolve_asset_graph()
    seconds = time.process_time() - start
    from dagster._core.execution.api import create_execution_plan
    plan = create_execution_plan(job)
    print(json.dumps({"seconds": seconds, "steps": len(plan.step_keys_to_execute)}))
    """)


@pytest.mark.slow  # a subprocess importing Dagster, for a clean measurement
def test_two_hundred_sources_load_fast_with_a_step_each(tmp_path: Path) -> None:
    sources = []
    for i in range(200):
        plan = tmp_path / "plans" / f"team-{i}.csv"
        plan.parent.mkdir(parents=True, exist_ok=True)
        plan.write_text(f"ID,Task,Status\nT{i}-1,Task,To Do\n")
        sources.append({"name": f"team-{i}", "kind": "csv", "path": f"plans/team-{i}.csv"})
    config = tmp_path / "handoff.yaml"
    config.write_text(yaml.safe_dump({"sources": sources}))
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["steps"] <= len(sources) + 5
    assert measured["seconds"] < 3.0, measured


@pytest.mark.slow  # runs the whole job
def test_a_failed_source_emits_no_materialization(
    tmp_path: Path, file_org_at: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    config = file_org_at(
        tmp_path / "org",
        extra_sources=[{"name": "gone", "kind": "csv", "path": "plans/missing.csv"}],
    )
    report = run_sync(config, now=NOW)
    assert not report.success
    assert report.outcomes["gone"].status == "failed"
    assert report.published  # the others' data was published all the same
    assert any("gone" in e for e in report.errors), report.errors

    with dg.DagsterInstance.get() as instance:
        assert instance.get_latest_materialization_event(source_key("gone")) is None
        assert instance.get_latest_materialization_event(source_key("it-ops")) is not None
        observed = instance.fetch_observations(source_key("gone"), limit=5).records
        assert len(observed) == 1
    counts = published(config.parent / "data" / "handoff.duckdb")["work_items"]
    assert {item_id.split(":")[0] for item_id, _, _ in counts} == {
        "it-ops",
        "marketing",
        "finance",
        "store-ops",
    }


DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def doc_yaml(marker: str) -> dict[str, Any]:
    """The YAML block that follows `<!-- marker -->` in docs/operations.md."""
    text = DOC.read_text()
    after = text.split(f"<!-- {marker} -->", 1)[1]
    block = after.split("```yaml\n", 1)[1].split("```", 1)[0]
    loaded: dict[str, Any] = yaml.safe_load(block)
    return loaded


def test_the_documented_run_config_is_valid_for_the_job(
    tmp_path: Path, file_org_at: Callable[..., Path]
) -> None:
    from handoff.config import load_config
    from pipelines.definitions import build_definitions

    config_path = file_org_at(tmp_path)
    defs = build_definitions(load_config(config_path), str(config_path))
    job = defs.resolve_job_def("nightly_sync")
    run_config = doc_yaml("run-config-example")
    dg.validate_run_config(job, run_config)  # raises naming the bad key
    with pytest.raises(dg.DagsterInvalidConfigError):
        dg.validate_run_config(job, {"execution": {"config": {"threads": {}}}})


def test_the_documented_helm_values_share_data_and_secrets_with_run_pods() -> None:
    values = doc_yaml("helm-values-example")
    deployment = values["dagster-user-deployments"]["deployments"][0]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "pipelines.definitions"]
    # The run pods mount the very volumes and secrets of the code location, at the same paths.
    assert launcher["volumes"] == deployment["volumes"]
    assert launcher["volumeMounts"] == deployment["volumeMounts"]
    assert launcher["envSecrets"] == deployment["envSecrets"]
    mounts = {m["name"]: m["mountPath"] for m in deployment["volumeMounts"]}
    assert mounts["data"] == "/data"
