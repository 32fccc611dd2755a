"""Production storage that starts: the daemon on PostgreSQL (dagster_home/dagster.postgres.yaml)
runs the schedule, the failure sensor alerts, and `handoff doctor` reads the instance."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from tests.conftest import file_org_config
from tests.postgres_server import PostgresServer, remove, start_postgres

pytestmark = pytest.mark.slow  # a PostgreSQL server, the Dagster daemon and scheduled runs

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "dagster_home" / "dagster.postgres.yaml"
BIN = Path(sys.executable).parent


@dataclass
class Deployment:
    server: PostgresServer
    config: Path
    env: dict[str, str]
    alerts: list[str]
    daemon: subprocess.Popen[bytes]


def postgres_home(root: Path) -> Path:
    """A DAGSTER_HOME holding the documented PostgreSQL example as its dagster.yaml."""
    home = root / "dagster_home"
    home.mkdir()
    shutil.copyfile(EXAMPLE, home / "dagster.yaml")
    return home


def hook_server(alerts: list[str]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            alerts.append(str(body.get("text", "")))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def sql(server: PostgresServer, query: str) -> list[tuple[Any, ...]]:
    con = psycopg2.connect(host="127.0.0.1", port=server.port, user="dagster", dbname="dagster")
    try:
        with con.cursor() as cur:
            cur.execute(query)
            return list(cur.fetchall())
    finally:
        con.close()


def wait_for(what: str, probe: Any, timeout: float, daemon: subprocess.Popen[bytes]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert daemon.poll() is None, "the daemon exited"
        try:
            found = probe()
        except psycopg2.errors.UndefinedTable:  # the daemon has not created its tables yet
            found = None
        if found:
            return found
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("deployment")
    server = start_postgres()
    alerts: list[str] = []
    hook = hook_server(alerts)
    config = file_org_config(
        root,
        schedule={"cron": "* * * * *", "timezone": "UTC"},  # a tick every minute
        sync={"retries": 0, "retry_delay_seconds": 0},
        webhook={"url": f"http://127.0.0.1:{hook.server_address[1]}/hook", "format": "slack"},
    )
    env = {
        **os.environ,
        "DAGSTER_HOME": str(postgres_home(root)),
        "HANDOFF_CONFIG": str(config),
        "DAGSTER_POSTGRES_URL": server.url,
    }
    log = (root / "daemon.log").open("wb")
    daemon = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-m", "pipelines.definitions"],
        env=env,
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its code server and run workers go with it at the end
    )
    try:
        yield Deployment(server, config, env, alerts, daemon)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)
        with contextlib.suppress(ProcessLookupError):  # a code server that outlived the daemon
            os.killpg(daemon.pid, signal.SIGKILL)
        log.close()
        hook.shutdown()
        remove(server)


def test_a_schedule_tick_launches_a_run_that_succeeds_with_its_history_in_postgres(
    deployment: Deployment,
) -> None:
    started = time.monotonic()
    daemon = deployment.daemon
    runs = wait_for(
        "a scheduled nightly_sync run to succeed",
        lambda: sql(
            deployment.server,
            "SELECT r.run_id, r.status FROM runs r JOIN run_tags t ON t.run_id = r.run_id "
            "WHERE r.pipeline_name = 'nightly_sync' AND t.key = 'dagster/schedule_name' "
            "AND t.value = 'nightly_sync_schedule' AND r.status IN ('SUCCESS', 'FAILURE')",
        ),
        240,
        daemon,
    )
    run_id, status = runs[0]
    assert status == "SUCCESS", sql(
        deployment.server, f"SELECT event FROM event_logs WHERE run_id = '{run_id}'"
    )[-5:]
    kinds = {
        row[0]
        for row in sql(
            deployment.server,
            f"SELECT dagster_event_type FROM event_logs WHERE run_id = '{run_id}'",
        )
    }
    assert {"PIPELINE_START", "ASSET_MATERIALIZATION", "PIPELINE_SUCCESS"} <= kinds
    print(f"scheduled run succeeded {time.monotonic() - started:.0f} s after the daemon started")


def test_the_failure_sensor_alerts_on_a_failed_run(deployment: Deployment) -> None:
    (deployment.config.parent / "plans" / "finance.csv").unlink()  # the next run fails
    daemon = deployment.daemon
    alert = wait_for(
        "the failure sensor's alert",
        lambda: [a for a in deployment.alerts if re.search(r"of nightly_sync failed", a)],
        240,
        daemon,
    )
    assert "finance" in alert[0]  # names what failed
    failed = sql(
        deployment.server,
        "SELECT count(*) FROM runs WHERE pipeline_name = 'nightly_sync' AND status = 'FAILURE'",
    )
    assert failed[0][0] >= 1


def test_doctor_reads_the_running_instance(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.doctor_dagster import instance_findings

    for key in ("DAGSTER_HOME", "DAGSTER_POSTGRES_URL"):
        monkeypatch.setenv(key, deployment.env[key])
    findings = {f.check: f for f in instance_findings()}
    assert findings["dagster storage"].ok and "PostgreSQL" in findings["dagster storage"].detail
    assert findings["dagster daemon"].ok, findings["dagster daemon"]
    assert findings["schedule nightly_sync_schedule"].ok
    assert findings["sensor nightly_sync_failed"].ok


def test_doctor_names_a_stopped_database_and_its_fix(tmp_path: Path) -> None:
    server = start_postgres()
    try:
        config = file_org_config(tmp_path)
        env = {
            **os.environ,
            "DAGSTER_HOME": str(postgres_home(tmp_path)),
            "DAGSTER_POSTGRES_URL": server.url,
            "COLUMNS": "300",
        }
        server.stop()
        result = subprocess.run(
            [str(BIN / "handoff"), "doctor", "--config", str(config)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        remove(server)
    assert result.returncode == 1
    line = next(x for x in result.stderr.splitlines() if "dagster storage" in x)
    assert f"PostgreSQL at 127.0.0.1:{server.port} refused the connection" in line
    assert "start it or fix postgres_url" in line and "problem" in line


def test_the_documented_storage_block_is_the_tested_file() -> None:
    import yaml

    page = (REPO / "docs" / "operations.md").read_text()
    documented = re.search(r"```yaml\n(storage:\n.*?)```", page, re.S)
    assert documented is not None
    tested = yaml.safe_load(EXAMPLE.read_text())
    assert yaml.safe_load(documented.group(1)) == {"storage": tested["storage"]}
    assert tested["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_POSTGRES_URL"}
