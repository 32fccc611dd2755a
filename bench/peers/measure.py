"""Run one tool as a child process and measure it; talk to a sandbox host process.

Peak memory is the child's own `ru_maxrss` as `os.wait4` reports it for that one child (the
largest process of its tree), so figures of consecutive runs never mix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Measured:
    """What one child run cost: wall time, peak RSS, exit status, and its stdout/stderr tail."""

    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0  # user + system CPU of the child (and children it waited for)


def run_measured(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    stdout: TextIO | None = None,
    cwd: Path | None = None,
    timeout: float = 3600,
    rss_limit_mb: float | None = None,
) -> Measured:
    """Run `args`, wait for it with `wait4` and return its wall time and peak memory.

    With `stdout` given, the child's output goes there (a Singer stream to a file) and the
    returned `stdout` is empty. stderr is kept (its last 4,000 characters) for error notes.
    With `rss_limit_mb`, a child whose resident memory passes it is killed (the machine is
    shared: one tool must not push the others out of memory); the note says so.
    """
    started = time.perf_counter()
    err_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-peer-{os.getpid()}-{started}.err"
    with err_path.open("w+") as err:
        child = subprocess.Popen(
            args,
            env={**os.environ, **(env or {})},
            stdout=stdout if stdout is not None else subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=cwd or ROOT,
        )
        out_chunks: list[str] = []
        reader = None
        if stdout is None and child.stdout is not None:
            import threading

            pipe = child.stdout  # drained alongside: a full pipe would block the child
            reader = threading.Thread(target=lambda: out_chunks.append(pipe.read()), daemon=True)
            reader.start()
        deadline = started + timeout
        killed = ""
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                killed = f"killed after the {timeout:.0f} s time limit"
                child.kill()
            elif rss_limit_mb and _rss_mb(child.pid) > rss_limit_mb:
                killed = f"killed at {rss_limit_mb:.0f} MB resident memory (limit)"
                child.kill()
            time.sleep(0.05)
        if reader is not None:
            reader.join(timeout=30)
        out = "".join(out_chunks)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read()[-4000:] + (f"\n{killed}" if killed else "")
    err_path.unlink(missing_ok=True)
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(
        round(seconds, 2),
        round(usage.ru_maxrss / 1024, 1),
        child.returncode,
        out,
        tail,
        round(cpu, 2),
    )


def _rss_mb(pid: int) -> float:
    """Resident memory of a running process, from /proc (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return 0.0
    return 0.0


class Host:
    """A sandbox in its own process (`bench.peers.host`), driven line by line over stdin."""

    def __init__(
        self, system: str, size: int, *, deployment: str = "cloud", tls: Path | None = None
    ):
        args = [sys.executable, "-m", "bench.peers.host", system, "--size", str(size)]
        args += ["--deployment", deployment]
        if tls is not None:
            args += ["--tls", str(tls)]
        self.process = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {system} sandbox host did not start")
        self.info: dict[str, Any] = json.loads(line)
        self.cpu_mark = self.cpu_seconds()

    def cpu_seconds(self) -> float:
        """CPU the sandbox process has used so far: what serving a tool cost the other side
        of the connection (on a shared machine, it competes with the tool for the cores)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def ask(self, command: str) -> Any:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def requests(self) -> dict[str, Any]:
        return self.ask("requests")  # type: ignore[no-any-return]

    def reset(self) -> None:
        self.ask("reset")
        self.cpu_mark = self.cpu_seconds()

    def close(self) -> None:
        if self.process.stdin:
            try:
                self.process.stdin.write("quit\n")
                self.process.stdin.close()
            except BrokenPipeError:
                pass
        self.process.wait(timeout=60)

    def __enter__(self) -> Host:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def result_row(
    tool: str, full: bool, measured: Measured, host: Host, **extra: Any
) -> dict[str, Any]:
    """One table row for a tool's run: its measurement plus the requests the sandbox counted
    (the counter is reset for the next run)."""
    requests = host.requests()
    server_cpu = host.cpu_seconds() - host.cpu_mark
    host.reset()
    row = {
        "tool": tool,
        "run": "full" if full else "incremental",
        "ok": measured.returncode == 0,
        "seconds": measured.seconds,
        "peak_rss_mb": measured.peak_rss_mb,
        "client_cpu_s": measured.cpu_seconds,
        "sandbox_cpu_s": round(server_cpu, 2),
        "requests": requests["total"],
        "routes": requests["routes"],
        **extra,
    }
    if measured.returncode != 0:
        row["error"] = measured.stderr[-800:]
    return row
