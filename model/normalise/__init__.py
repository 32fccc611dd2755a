"""Per-tool normalisers: raw records (attached raw store) -> staging tables (see staging.sql).

Each kind (see `handoff.kinds`) names a `normalise(con, source, raw: str, synced_at) -> None`,
where `raw` is the catalog alias of the source's attached raw store (`<raw>.raw_records`) and
`source` is its typed config. Normalisers are SQL over DuckDB's JSON functions: set-based, never
a loop per item.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, cast

import duckdb

from handoff.config import SourceBase
from handoff.kinds import kind_named, resolve


class Normaliser(Protocol):
    def __call__(
        self, con: duckdb.DuckDBPyConnection, source: SourceBase, raw: str, synced_at: datetime
    ) -> None: ...


def normaliser_for(kind: str) -> Normaliser:
    return cast(Normaliser, resolve(kind_named(kind).normaliser))
