"""Reported status and due-date history: what teams say, and how often their dates moved.

Both tables keep their history across builds: the previous file's rows are carried, tool history
served again is not duplicated, and values without a date of their own (a Jira health field, a
sheet RAG column) are recorded when a sync first sees them change.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

RAG_WORDS = {
    "green": ["on_track", "on track", "green", "g", "ok", "good", "healthy"],
    "amber": ["at_risk", "at risk", "amber", "yellow", "a", "y", "risk"],
    "red": ["off_track", "off track", "red", "r", "late", "blocked"],
    "on_hold": ["on_hold", "on hold", "paused"],
    "complete": ["complete", "completed", "done", "achieved"],
}


def _rag_map() -> tuple[list[str], list[str]]:
    keys = [word for words in RAG_WORDS.values() for word in words]
    values = [rag for rag, words in RAG_WORDS.items() for _ in words]
    return keys, values


def _prev_has(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """A previous file built before this table existed has nothing to carry."""
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'prev' AND table_name = ?",
        [table],
    ).fetchone()
    return bool(row and row[0])


def record_status_reports(con: duckdb.DuckDBPyConnection, now: datetime, has_prev: bool) -> None:
    """Carry the previous reports, add dated reports not seen yet and field values that changed."""
    if has_prev and _prev_has(con, "status_reports"):
        con.execute("INSERT INTO status_reports BY NAME SELECT * FROM prev.status_reports")
    keys, values = _rag_map()
    con.execute(
        """
        INSERT INTO status_reports
        WITH incoming AS (
            SELECT DISTINCT s.subject_id, s.subject_kind, s.source, s.project, s.reported_status,
                   coalesce(s.rag, map_extract(MAP($keys::VARCHAR[], $values::VARCHAR[]),
                                                lower(trim(s.reported_status)))[1]) AS rag,
                   coalesce(s.reported_at, $now) AS reported_at,
                   -- a name the tools also show with an e-mail becomes that person's id
                   coalesce((SELECT min(p.person_id) FROM people p
                             WHERE lower(p.display_name) = lower(s.reporter)), s.reporter)
                       AS reporter,
                   s.text, s.origin,
                   s.reported_at IS NULL AS undated
            FROM stg_status_reports s
            WHERE nullif(trim(s.reported_status), '') IS NOT NULL
        ),
        latest AS (
            SELECT subject_id, origin, arg_max(reported_status, reported_at) AS reported_status
            FROM status_reports GROUP BY subject_id, origin
        )
        SELECT i.subject_id, i.subject_kind, i.source, i.project, i.reported_status, i.rag,
               i.reported_at, i.reporter, i.text, i.origin
        FROM incoming i
        LEFT JOIN latest l USING (subject_id, origin)
        WHERE CASE WHEN i.undated THEN l.reported_status IS DISTINCT FROM i.reported_status
                   ELSE NOT EXISTS (
                       SELECT 1 FROM status_reports r
                       WHERE r.subject_id = i.subject_id AND r.origin = i.origin
                         AND r.reported_at = i.reported_at) END
        """,
        {"keys": keys, "values": values, "now": now},
    )


def record_due_date_changes(con: duckdb.DuckDBPyConnection, now: datetime, has_prev: bool) -> None:
    """Tool history as served now, plus due dates that moved between the last sync and this
    one without the tool recording it (sheets have no history)."""
    if has_prev and _prev_has(con, "due_date_changes"):
        con.execute(
            "INSERT INTO due_date_changes BY NAME "
            "SELECT * FROM prev.due_date_changes WHERE source = 'observed'"
        )
    con.execute(
        """
        INSERT INTO due_date_changes
        SELECT DISTINCT s.* FROM stg_due_date_changes s JOIN work_items w USING (item_id)
        """
    )
    if not has_prev:
        return
    con.execute(
        """
        INSERT INTO due_date_changes
        SELECT w.item_id, $now, p.due_date, w.due_date, 'observed'
        FROM work_items w JOIN prev.work_items p USING (item_id)
        WHERE p.due_date IS DISTINCT FROM w.due_date AND NOT w.is_deleted
          AND NOT EXISTS (
              SELECT 1 FROM stg_due_date_changes s
              WHERE s.item_id = w.item_id AND s.to_due IS NOT DISTINCT FROM w.due_date
                AND s.changed_at > p.synced_at - INTERVAL 1 DAY)
        """,
        {"now": now},
    )
