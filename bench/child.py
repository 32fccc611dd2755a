"""What the model-scale benchmarks share: measure in a fresh child process, write the results."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"DuckDB {duckdb.__version__}"
    )


def measure_in_child(module: str, flag: str, db_path: Path) -> dict[str, Any]:
    """Run `python -m module flag db_path` (so peak memory is the child's own) and read the
    JSON object it prints last."""
    child = subprocess.run(
        [sys.executable, "-m", module, flag, str(db_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        sys.exit(child.stderr)
    result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def write_results(out: Path, stem: str, report: dict[str, Any], markdown: str) -> None:
    """`<stem>.json` and `<stem>.md` under `out`, and the Markdown on stdout."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / f"{stem}.md").write_text(markdown)
    print(markdown)
