"""DuckDB connections that cannot leave the model: no files, no network, no setting changes.

Rules and `handoff sql` run user-written SQL. Two layers keep it inside the model:

- the connection is opened with external access off and the configuration locked, so no
  statement can read or write a file, attach a database, load an extension or undo the lock;
- before running, the statement is parsed by DuckDB itself (`json_serialize_sql`) and refused
  when it calls a table function outside a short allow-list (`query`, `read_text`, `glob`, ...
  take dynamic SQL or paths) or names a file as a table, so the refusal names the reason.

Every statement also runs under a time limit: a timer thread interrupts it.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb

T = TypeVar("T")

# DuckDB settings of every connection that runs user SQL; the database file is opened first,
# then nothing else can be.
LOCKED_SETTINGS: dict[str, Any] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}

# Table functions that only compute (no paths, no SQL in strings, no settings).
COMPUTE_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})

# Catalog functions an analyst uses to explore the model (read-only, no paths).
CATALOG_TABLE_FUNCTIONS = frozenset(
    {
        "duckdb_columns",
        "duckdb_constraints",
        "duckdb_databases",
        "duckdb_functions",
        "duckdb_indexes",
        "duckdb_keywords",
        "duckdb_schemas",
        "duckdb_tables",
        "duckdb_types",
        "duckdb_views",
        "pragma_table_info",
    }
)

# A table name DuckDB would read as a file (replacement scan): a path or a file extension.
_FILE_LIKE = re.compile(r"[/\\:]|\.[A-Za-z0-9]+$")


class SqlTimedOut(Exception):
    """The statement ran longer than its time limit and was interrupted."""


def connect_locked(database: Path | None = None) -> duckdb.DuckDBPyConnection:
    """The database opened read-only (or an in-memory one), then locked as LOCKED_SETTINGS."""
    if database is None:
        return duckdb.connect(config=dict(LOCKED_SETTINGS))
    return duckdb.connect(str(database), read_only=True, config=dict(LOCKED_SETTINGS))


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def refusals(
    con: duckdb.DuckDBPyConnection, sql: str, allowed: frozenset[str] = COMPUTE_TABLE_FUNCTIONS
) -> list[str]:
    """Why a SELECT may not run: table functions outside `allowed`, tables named like files.

    Parsed by DuckDB (the same parser that runs it), so quoting or comments cannot hide a call.
    """
    raw = con.execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchall()[0][0]
    tree = json.loads(raw)
    if tree.get("error"):
        return [f"cannot be checked: {tree.get('error_message', 'not a SELECT statement')}"]
    reasons: list[str] = []
    for node in _walk(tree):
        if node.get("type") == "TABLE_FUNCTION":
            name = str((node.get("function") or {}).get("function_name", "")).lower()
            if name not in allowed:
                reasons.append(
                    f"calls the table function {name}(), which may read files or run SQL "
                    f"built from strings; allowed: {', '.join(sorted(allowed))}"
                )
        elif node.get("type") == "BASE_TABLE" and _FILE_LIKE.search(
            str(node.get("table_name", ""))
        ):
            reasons.append(f"reads {node['table_name']!r} as a file; only model tables are allowed")
    return list(dict.fromkeys(reasons))


@dataclass
class _Deadline:
    """Interrupts a connection's running statement after `seconds`, unless finished first."""

    con: duckdb.DuckDBPyConnection
    seconds: float
    fired: bool = False
    done: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._timer = threading.Timer(self.seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        with self._lock:
            if not self.done:
                self.fired = True
                self.con.interrupt()

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.done = True
        self._timer.cancel()


def run_timed(con: duckdb.DuckDBPyConnection, seconds: float, run: Callable[[], T]) -> T:
    """Call `run` (which executes and fetches on `con`), interrupting `con` after `seconds`.

    Raises SqlTimedOut when the time limit stopped it, duckdb.Error for any other failure.
    """
    deadline = _Deadline(con, seconds)
    with deadline:
        try:
            return run()
        except duckdb.InterruptException:
            if deadline.fired:
                raise SqlTimedOut(f"stopped at its time limit of {seconds:g} s") from None
            raise
