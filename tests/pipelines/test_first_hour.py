"""A new user's first hour, as the README tells it: in a fresh clone, `make demo-serve` (the
demo, its servers kept up), then every "next step" in a second terminal; each must succeed.

The clone is a `git clone` of this repository into a temporary folder, so only committed,
non-ignored files are there (no data/, no .env, no handoff.yaml from an earlier run). Its
`.venv` is a symlink to this checkout's virtualenv rather than a new install: installing takes
minutes and needs the package index, and the venv's editable install runs this checkout's code
either way. For the same reason `make demo-serve` is run as its recipe (`handoff demo --serve`): make
would see the clone's lock file as newer than the venv and reinstall into the shared venv.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow  # clones the repository, runs the demo and a sync as subprocesses

REPO = Path(__file__).resolve().parents[2]
DEMO_READY = "ready: run the next steps in another terminal"


def readme_next_steps(readme: str) -> list[str]:
    """The commands of the first ```sh block under the README's "Next steps" heading."""
    section = readme.split("### Next steps", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "README: no ```sh block under ### Next steps"
    commands = [line.split("  #")[0].strip() for line in block.group(1).splitlines()]
    return [c for c in commands if c and not c.startswith("#")]


def user_env() -> dict[str, str]:
    """A new user's environment: none of the project's variables set."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HANDOFF_", "DAGSTER_")) and k != "COLUMNS"
    }
    env["DAGSTER_DISABLE_TELEMETRY"] = "1"
    return env


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("fresh") / "handoff"
    subprocess.run(["git", "clone", "-q", str(REPO), str(dest)], check=True, timeout=120)
    (dest / ".venv").symlink_to(REPO / ".venv", target_is_directory=True)
    return dest


def _lines(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


@pytest.fixture(scope="module")
def serving_demo(clone: Path) -> Iterator[tuple[Path, list[str]]]:
    """`make demo-serve` in the clone, running until its servers are up and it says so."""
    makefile = (clone / "Makefile").read_text()
    recipe = makefile.split("\ndemo-serve: venv\n", 1)[1].splitlines()[0]
    assert recipe.strip() == "$(BIN)/handoff demo --serve", recipe
    demo = makefile.split("\ndemo: venv\n", 1)[1].splitlines()[0]
    assert demo.strip() == "$(BIN)/handoff demo", demo  # the set-up command ends by itself
    proc = subprocess.Popen(
        [".venv/bin/handoff", "demo", "--serve"],
        cwd=clone,
        env=user_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, output), daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + 240
    try:
        while not any(DEMO_READY in line for line in seen):
            assert proc.poll() is None, "demo exited early:\n" + "".join(seen)
            assert time.monotonic() < deadline, "demo not ready:\n" + "".join(seen)
            try:
                seen.append(output.get(timeout=1))
            except queue.Empty:
                continue
        yield clone, seen
    finally:
        proc.send_signal(signal.SIGINT)  # the user's Ctrl-C: servers stop, the process ends
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_every_next_step_of_the_readme_succeeds_after_make_demo(
    serving_demo: tuple[Path, list[str]],
) -> None:
    clone, demo_output = serving_demo
    steps = readme_next_steps((clone / "README.md").read_text())
    assert any(" sync" in s for s in steps) and any(" doctor" in s for s in steps)
    for step in steps:
        result = subprocess.run(
            shlex.split(step),
            cwd=clone,
            env=user_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, (
            f"{step} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
        )

    # The demo told the user how to reach the servers from other tools.
    exports = [line.strip() for line in demo_output if line.strip().startswith("export ")]
    assert {e.split("=")[0] for e in exports} >= {
        "export HANDOFF_DEMO_JIRA_TOKEN",
        "export HANDOFF_DEMO_ASANA_TOKEN",
        "export DAGSTER_HOME",
    }


def test_the_demo_leaves_a_private_env_file_and_nothing_for_git(
    serving_demo: tuple[Path, list[str]],
) -> None:
    clone, _ = serving_demo
    env_file = clone / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    assert values["DAGSTER_HOME"] == str(clone / "dagster_home")
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert [line for line in status.splitlines() if not line.endswith(".venv")] == []


def test_the_dagster_ui_sees_the_demo_runs(serving_demo: tuple[Path, list[str]]) -> None:
    """The demo ran on dagster_home/, so `dagster dev` there shows its assets materialised."""
    clone, _ = serving_demo
    runs_db = clone / "dagster_home" / "history" / "runs.db"
    assert runs_db.exists(), sorted(p.name for p in (clone / "dagster_home").iterdir())
    import sqlite3

    with sqlite3.connect(runs_db) as con:
        statuses = [row[0] for row in con.execute("SELECT status FROM runs")]
    assert "SUCCESS" in statuses


def test_the_demo_summary_counts_items_and_explains_planned_and_surprise(
    serving_demo: tuple[Path, list[str]],
) -> None:
    clone, output = serving_demo
    text = "".join(output)
    con = duckdb.connect(str(clone / "data" / "handoff.duckdb"), read_only=True)
    jira_items = con.execute(
        "SELECT count(*) FROM work_items WHERE source = 'it-jira' AND NOT is_deleted"
    ).fetchone()
    con.close()
    assert jira_items is not None
    assert f"it-jira: {jira_items[0]} items (" in text
    assert "planned: a declared contract covers the handoff" in text
    assert "surprise: no contract covers it" in text
