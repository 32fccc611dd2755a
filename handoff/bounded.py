"""DuckDB connections bounded by the `model` settings of handoff.yaml."""

from __future__ import annotations

import duckdb

from handoff.config import HandoffConfig


def connect_bounded(database: str, config: HandoffConfig) -> duckdb.DuckDBPyConnection:
    """A connection held to `model.memory_limit`, spilling to `model.temp_directory` (under the
    data dir by default): a million-item build must not take the shared machine's memory."""
    temp = config.model_temp_dir
    temp.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(
        database,
        config={"memory_limit": config.model.memory_limit, "temp_directory": str(temp)},
    )
