"""A throwaway PostgreSQL server for tests: Debian's binaries, initdb + pg_ctl on a free port.

initdb refuses to run as root, so as root the cluster belongs to the `postgres` user (runuser).
Without the binaries the tests skip, unless HANDOFF_REQUIRE_POSTGRES is set (CI sets it).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest


def _bin_dir() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _unavailable(reason: str) -> None:
    if os.environ.get("HANDOFF_REQUIRE_POSTGRES"):
        pytest.fail(f"PostgreSQL is required here but {reason}")
    pytest.skip(f"{reason} (apt-get install postgresql; .ci/run does)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    bin_dir: Path
    data: Path
    port: int
    as_user: list[str]  # prefix that runs a command as the cluster's owner

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://dagster@127.0.0.1:{self.port}/dagster"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        log = str(self.data / "server.log")
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data / "db"),
            "-o",
            options,
            "-l",
            log,
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data / "db"), "-m", "fast", "-w", "stop"
        )


def start_postgres() -> PostgresServer:
    bin_dir = _bin_dir()
    if bin_dir is None:
        _unavailable("PostgreSQL's initdb/pg_ctl are not installed")
        raise AssertionError("unreachable")
    as_user: list[str] = []
    data = Path(tempfile.mkdtemp(prefix="handoff-pg-"))
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            _unavailable("running as root without runuser to drop to the postgres user")
        as_user = [str(runuser), "-u", "postgres", "--"]
        shutil.chown(data, user="postgres")
    server = PostgresServer(bin_dir, data, free_port(), as_user)
    server._run(str(bin_dir / "initdb"), "-D", str(data / "db"), "-U", "dagster", "-A", "trust")
    server.start()
    server._run(
        str(bin_dir / "createdb"),
        "-h",
        "127.0.0.1",
        "-p",
        str(server.port),
        "-U",
        "dagster",
        "dagster",
    )
    return server


def remove(server: PostgresServer) -> None:
    with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
        server.stop()
    shutil.rmtree(server.data, ignore_errors=True)
