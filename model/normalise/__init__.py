"""Per-tool normalisers: raw records (attached raw store) -> staging tables (see staging.sql).

Each module exposes `normalise(con, source, raw: str, synced_at) -> None`, where `raw` is the
catalog alias of the source's attached raw store (`<raw>.raw_records`) and `source` is its typed
config. Normalisers are SQL over DuckDB's JSON functions: set-based, never a loop per item.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any, Protocol

import duckdb

MODULE_BY_KIND = {
    "csv": "model.normalise.spreadsheet",
    "xlsx": "model.normalise.spreadsheet",
    "gsheets": "model.normalise.spreadsheet",
    "jira": "model.normalise.jira",
    "asana": "model.normalise.asana",
}


class Normaliser(Protocol):
    def __call__(
        self, con: duckdb.DuckDBPyConnection, source: Any, raw: str, synced_at: datetime
    ) -> None: ...


def normaliser_for(kind: str) -> Normaliser:
    module = importlib.import_module(MODULE_BY_KIND[kind])
    return module.normalise  # type: ignore[no-any-return]
