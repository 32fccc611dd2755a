"""The sandbox CLI keeps its tokens and keys private and cleans up its key files."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from sandbox.gsheets import SheetsSandbox, generate_book


def test_sheets_sandbox_deletes_its_temporary_key_on_stop() -> None:
    sandbox = SheetsSandbox({"book": generate_book(10, 1)}).start()
    key = sandbox.write_credentials()
    assert key.exists() and stat.S_IMODE(key.stat().st_mode) == 0o600
    sandbox.stop()
    assert not key.exists() and not key.parent.exists()


def test_serve_state_file_is_private_and_stop_removes_key_files(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "sandbox", "serve", "--size", "20"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    state_file = tmp_path / ".handoff-sandbox.json"
    try:
        deadline = time.monotonic() + 90
        while not state_file.exists() or not state_file.read_text():
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "the sandbox did not start"
            time.sleep(0.2)
        assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
        state = json.loads(state_file.read_text())
        keys = [Path(s["credentials_file"]) for s in state["sources"] if "credentials_file" in s]
        assert keys and all(k.exists() for k in keys)

        printed = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "sandbox", "config"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert printed.returncode == 0, printed.stderr
        for name, value in state["env"].items():
            assert value not in printed.stdout + printed.stderr
            assert name in printed.stdout
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert not state_file.exists()
    assert not any(k.exists() for k in keys)
