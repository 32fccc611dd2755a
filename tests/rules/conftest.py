"""Helpers shared by the rules tests: a real model file and configs pointing at rule folders."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

SCHEMA = Path(__file__).resolve().parents[2] / "model" / "schema.sql"


@pytest.fixture
def model_db(tmp_path: Path) -> Path:
    """An empty public model in a DuckDB file."""
    path = tmp_path / "handoff.duckdb"
    con = duckdb.connect(str(path))
    con.execute(SCHEMA.read_text())
    con.close()
    return path
