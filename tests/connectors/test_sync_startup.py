"""A sync process loads only what a sync uses: start-up is a large share of an incremental sync.

An incremental Jira sync after a 1% change takes well under a second in the process; loading
the config file stack (PyYAML, croniter), the orchestrator (Dagster), the CLI (Typer, Rich) or
the report stack (Jinja2) on top of it would double what a user waits for. The sync step runs
here as the job and the benchmark run it: a fresh interpreter, a source's model, the connector
and the raw landing, against the sandbox, and the test reads what that process imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox.jira import JiraSandbox, generate_org

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)

# Modules a sync has no use for; each was, or could easily become, an import of the sync path.
NOT_FOR_A_SYNC = {
    "yaml": "config files are parsed before a sync, not by it",
    "croniter": "only the schedule's validation reads cron expressions",
    "dagster": "the orchestrator runs the sync step; the step does not need it",
    "jinja2": "reports are rendered after the model build",
    "rules": "rules, write-back and reports run after the model build",
    "pipelines": "the job and the command line call the sync step, not the other way round",
    "typer": "the command line is not part of a sync",
    "rich": "the command line is not part of a sync",
    "pandas": "the landing writes Arrow tables, not data frames",
    "openpyxl": "spreadsheets are another source kind",
    "asana": "another source kind",
    "dateutil": "Arrow infers a column type with it; the landing names its types",
    "pyarrow.compute": "Arrow casts with it; the landing reads its UTF-8 bytes as strings",
}

SYNC = """
import importlib.util, json, os, sys, sysconfig
from pathlib import Path
from connectors.jira import JiraConnector
from handoff.config import JiraSource
from model.landing import land, read_cursor

entry = json.loads(sys.argv[1])
source = JiraSource.model_validate({**entry, "token": os.environ["STARTUP_JIRA_TOKEN"]})
raw = Path(sys.argv[2])
landed = []
for full in (True, False):
    connector = JiraConnector(source)
    result = land(raw, connector.fetch(read_cursor(raw), full=full), full=full)
    landed.append(result.record_counts.get("issue", 0))
built = [
    name for name in ("HandoffConfig", "AsanaSource", "GoogleSheetsSource", "CsvSource")
    if getattr(sys.modules["handoff.config"], name).__pydantic_complete__
]
site = sysconfig.get_paths()["purelib"]
uncompiled = sorted(
    name for name, module in list(sys.modules.items())
    if (getattr(module, "__file__", None) or "").startswith(site)
    and module.__file__.endswith(".py")
    and not os.path.exists(importlib.util.cache_from_source(module.__file__))
)
print(json.dumps({
    "uncompiled": uncompiled,
    "issues": landed,
    "modules": sorted({name.split(".")[0] for name in sys.modules} | set(sys.modules)),
    "built": built,
}))
"""


@pytest.mark.parametrize("deployment", ["cloud", "data_center"])
def test_a_sync_process_imports_nothing_a_sync_does_not_use(
    tmp_path: Path, deployment: str
) -> None:
    org = generate_org(60, seed=5, now=NOW)
    with JiraSandbox(org, deployment=deployment) as sandbox:  # type: ignore[arg-type]
        entry, env = sandbox.source_entry("it-jira", "STARTUP_JIRA_TOKEN")
        done = subprocess.run(
            [sys.executable, "-c", SYNC, json.dumps(entry), str(tmp_path / "raw.duckdb")],
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["issues"][0] == len(org.issues)  # the process really synced
    loaded = {name: why for name, why in NOT_FOR_A_SYNC.items() if name in report["modules"]}
    assert loaded == {}, f"a sync process imported modules it never uses: {loaded}"
    # the models of the other source kinds and of the whole file are not even built
    assert report["built"] == []
    # the installed libraries come with their bytecode: compiling them from source costs a
    # sync process about a second of CPU, every start when bytecode may not be written
    assert report["uncompiled"] == [], f"installed without bytecode: {report['uncompiled'][:10]}"


FIRST_USE_IN_THREADS = """
import sys, threading
from handoff.config import JiraSource, load_config

barrier = threading.Barrier(8)
results, errors = [], []

def first_use():
    barrier.wait()
    try:
        config = load_config(sys.argv[1])
        results.append((config.model_dump_json(), config.sources[0].writeback.max_writes_per_run))
    except Exception as err:
        errors.append(repr(err))

threads = [threading.Thread(target=first_use) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(len(set(results)), len(results), errors)
"""


def test_models_built_on_first_use_are_built_once_when_threads_load_the_config_together(
    tmp_path: Path,
) -> None:
    """Models are built when first used; eight threads of a fresh process loading the same
    config at once all get the same, complete config (no half-built model, no error)."""
    config = tmp_path / "handoff.yaml"
    config.write_text(
        "schedule: {cron: '0 3 * * *'}\n"
        "sources:\n"
        "  - {name: jira, kind: jira, url: 'https://jira.example.com', deployment: data_center,"
        " token: '${STARTUP_JIRA_TOKEN}', writeback: {max_writes_per_run: 7}}\n"
        "  - {name: plan, kind: csv, path: plan.csv}\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", FIRST_USE_IN_THREADS, str(config)],
        env={**os.environ, "STARTUP_JIRA_TOKEN": "t0ken-for-threads", "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "8", "[]"]  # one config, eight loads, no error
