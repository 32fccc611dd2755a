"""History across syncs: item versions, observed status changes, and what the last run knew.

The previous published database is attached read-only as `prev`; its history tables are carried
into the new build and extended with what changed since.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

CARRY_TABLES = ("work_item_history", "exceptions", "exception_runs", "sync_runs")


def carry_previous(con: duckdb.DuckDBPyConnection, has_prev: bool) -> None:
    """Copy the tables whose rows accumulate across runs from the previous database."""
    if not has_prev:
        return
    for table in CARRY_TABLES:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM prev.{table}")
    con.execute(
        "INSERT INTO status_changes BY NAME "
        "SELECT * FROM prev.status_changes WHERE source = 'observed'"
    )


def record_status_changes(con: duckdb.DuckDBPyConnection, now: datetime, has_prev: bool) -> None:
    """Tool history as served now, plus changes observed between the last sync and this one."""
    con.execute(
        """
        INSERT INTO status_changes
        SELECT DISTINCT s.* FROM stg_status_changes s JOIN work_items w USING (item_id)
        """
    )
    if not has_prev:
        return
    # An item whose status differs from the last sync, where the tool's own history does not
    # already record the move (sheets have no history; a tool may hide it).
    con.execute(
        """
        INSERT INTO status_changes
        SELECT w.item_id, $now, p.status, w.status, p.status_category, w.status_category, 'observed'
        FROM work_items w
        JOIN prev.work_items p USING (item_id)
        WHERE p.status IS DISTINCT FROM w.status AND NOT w.is_deleted
          AND NOT EXISTS (
              SELECT 1 FROM stg_status_changes s
              WHERE s.item_id = w.item_id AND s.to_status IS NOT DISTINCT FROM w.status
                AND s.changed_at > p.synced_at - INTERVAL 1 DAY)
        """,
        {"now": now},
    )


def record_versions(con: duckdb.DuckDBPyConnection, now: datetime) -> None:
    """Close versions that changed and open a new one for every item that is new or changed."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE changed_items AS
        SELECT w.item_id FROM work_items w
        LEFT JOIN work_item_history h ON h.item_id = w.item_id AND h.valid_to IS NULL
        WHERE h.item_id IS NULL
           OR h.status IS DISTINCT FROM w.status
           OR h.status_category IS DISTINCT FROM w.status_category
           OR h.due_date IS DISTINCT FROM w.due_date
           OR h.owner_id IS DISTINCT FROM w.owner_id
           OR h.department IS DISTINCT FROM w.department
           OR h.is_deleted IS DISTINCT FROM w.is_deleted
        """
    )
    con.execute(
        """
        UPDATE work_item_history SET valid_to = $now
        WHERE valid_to IS NULL AND item_id IN (SELECT item_id FROM changed_items)
        """,
        {"now": now},
    )
    con.execute(
        """
        INSERT INTO work_item_history
        SELECT w.item_id, $now, NULL, w.status, w.status_category, w.due_date, w.owner_id,
               w.department, w.is_deleted
        FROM work_items w JOIN changed_items USING (item_id)
        """,
        {"now": now},
    )
    con.execute("DROP TABLE changed_items")


def fill_status_changed_at(con: duckdb.DuckDBPyConnection) -> None:
    """Items without a tool-reported last change take it from history: the latest known status
    change, else the first sync that saw the item."""
    con.execute(
        """
        UPDATE work_items w SET status_changed_at = coalesce(
            (SELECT max(changed_at) FROM status_changes s WHERE s.item_id = w.item_id),
            (SELECT min(valid_from) FROM work_item_history h WHERE h.item_id = w.item_id),
            w.created_at)
        WHERE w.status_changed_at IS NULL
        """
    )


def carry_dependency_dates(con: duckdb.DuckDBPyConnection, now: datetime, has_prev: bool) -> None:
    """When each edge was asked for (contract notice rules depend on it): the tool's own record
    (Jira Link history, Asana dependency stories) when there is one, else what an earlier build
    knew, else the sync that first saw the edge appear. On a first build an edge no tool dates
    stays unknown (null): it may have existed for months."""
    con.execute(
        """
        UPDATE dependencies d SET created_at = t.created_at, created_from = t.source
        FROM (SELECT upstream_id, downstream_id, min(created_at) AS created_at,
                     arg_min(source, created_at) AS source
              FROM stg_dependency_dates GROUP BY ALL) t
        WHERE t.upstream_id = d.upstream_id AND t.downstream_id = d.downstream_id
        """
    )
    if not has_prev:
        return
    prev_from = (
        "p.created_from"
        if con.execute(
            "SELECT count(*) FROM duckdb_columns() WHERE database_name = 'prev' "
            "AND table_name = 'dependencies' AND column_name = 'created_from'"
        ).fetchone()[0]  # type: ignore[index]
        else "'first_seen'"  # files built before the column existed dated every edge so
    )
    con.execute(
        f"""
        UPDATE dependencies d SET created_at = p.created_at, created_from = {prev_from}
        FROM prev.dependencies p
        WHERE p.upstream_id = d.upstream_id AND p.downstream_id = d.downstream_id
          AND d.created_at IS NULL
        """
    )
    con.execute(
        """
        UPDATE dependencies d SET created_at = $now, created_from = 'first_seen'
        WHERE d.created_at IS NULL AND NOT EXISTS (
            SELECT 1 FROM prev.dependencies p
            WHERE p.upstream_id = d.upstream_id AND p.downstream_id = d.downstream_id)
        """,
        {"now": now},
    )
