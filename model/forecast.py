"""Forecast finish dates along the dependency chain (the SQL lives in `forecast.sql`).

The statements are shared with the rule harness, which runs them on a case's rows, so a rule
reading `forecasts` is tested against the same computation the build publishes.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

FORECAST_SQL = (Path(__file__).parent / "forecast.sql").read_text()
DEFAULT_CYCLE_DAYS = 10


def build_forecasts(
    con: duckdb.DuckDBPyConnection, now: datetime, cycle_days: int = DEFAULT_CYCLE_DAYS
) -> None:
    """Replace `forecasts` with the forecast of every open item as of `now`."""
    con.execute(FORECAST_SQL, {"now": now, "cycle_days": cycle_days})
