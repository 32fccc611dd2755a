"""The exception lifecycle, set-based: classify, rank by blast radius, merge with the last run.

The merge touches only what moved: a still-open finding updates its run stamps in place (and its
text or state when they changed), new findings are inserted, missing ones resolved. Rewriting
the whole table each night cost more than the findings themselves at a million items.

`exceptions` holds one row per exception_id by construction, not by a key index (whose build,
upkeep and checkpoint cost a sizeable share of a night at a million findings): this run's
findings are one per id, a row is inserted only for an id without a row (or one just deleted
to be replaced), and the rows carried from the last build were held to the same rule.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pyarrow as pa

from rules.waivers import Waiver

# This run's findings, one per fingerprint, enriched. Rows of one rule with the same subjects are one finding: keep the most severe
# (sorting only the duplicates, which are rare, keeps this cheap).
# Enriched: planned when a contract covers them (the edge between the first two subjects, or the
# rule's own contract column), blast radius of the first subject: open items that transitively
# wait on it through blocks/depends_on edges. The search walks the build's item numbers
# (work_items.item_no, dependencies.upstream_no/downstream_no) rather than item id strings
# (cheaper to join and to deduplicate); only a start that is no item (an unresolved reference)
# is matched by its id.
FINDINGS_SQL = """
duplicated AS (
    SELECT exception_id FROM rule_findings GROUP BY exception_id HAVING count(*) > 1
),
unique_findings AS (
    SELECT * FROM rule_findings WHERE exception_id NOT IN (SELECT exception_id FROM duplicated)
    UNION ALL
    (SELECT DISTINCT ON (exception_id) * FROM rule_findings
     WHERE exception_id IN (SELECT exception_id FROM duplicated)
     ORDER BY exception_id, CASE severity WHEN 'fail' THEN 0 WHEN 'warn' THEN 1 ELSE 2 END)
),
open_items AS MATERIALIZED (
    SELECT item_no FROM work_items
    WHERE NOT is_deleted AND coalesce(status_category, 'todo') <> 'done'
),
waiting AS MATERIALIZED (  -- edges into open items; the upstream's id only where it is no item
    SELECT d.upstream_no, CASE WHEN d.upstream_no IS NULL THEN d.upstream_id END AS unresolved_id,
           d.downstream_no
    FROM dependencies d SEMI JOIN open_items w ON w.item_no = d.downstream_no
    WHERE d.kind <> 'relates'
),
starts AS MATERIALIZED (
    SELECT s.start, row_number() OVER () AS start_no, i.item_no AS start_item
    -- duplicates' subjects too (a superset of what is needed): no second pass over the dedupe
    FROM (SELECT DISTINCT subject_ids[1] AS start FROM rule_findings) AS s
    LEFT JOIN work_items i ON i.item_id = s.start
),
reach(start_no, item_no) AS (
    SELECT * FROM (  -- an item's edges by its number (open or not); others' by their id
        SELECT s.start_no, e.downstream_no FROM starts s
        JOIN waiting e ON e.upstream_no = s.start_item
        UNION ALL
        SELECT s.start_no, e.downstream_no FROM starts s
        JOIN waiting e ON e.unresolved_id = s.start
        WHERE s.start_item IS NULL
    )
    UNION
    -- what is reached is open, so every edge into an open item from it is onward
    SELECT r.start_no, e.downstream_no FROM reach r JOIN waiting e ON e.upstream_no = r.item_no
),
radius AS (
    SELECT s.start,
           count(*) FILTER (WHERE r.item_no IS DISTINCT FROM s.start_item) AS blast_radius
    FROM reach r JOIN starts s USING (start_no)
    GROUP BY s.start
),
current_findings AS (
    SELECT f.*,
           CASE WHEN f.contract_id IS NOT NULL
                  -- a lookup (the few contract edges hashed), not a join that may hash the
                  -- findings' wide rows instead
                  OR {'up': f.subject_ids[1], 'down': f.subject_ids[2]} IN (
                      SELECT {'up': upstream_id, 'down': downstream_id} FROM dependencies
                      WHERE contract_id IS NOT NULL)
                THEN 'planned' ELSE 'surprise' END AS classification,
           coalesce(r.blast_radius, 0)::INTEGER AS blast_radius
    FROM unique_findings AS f
    LEFT JOIN radius r ON r.start = f.subject_ids[1]
)
"""

# This run's findings as rows of `exceptions` would hold them (less the run stamps).
FOUND_CTE = (
    FINDINGS_SQL
    + """,
found AS (
    SELECT f.exception_id, f.rule_id, f.severity, f.subject_ids, f.departments, f.owner,
           f.message, f.evidence::JSON AS evidence, f.classification,
           CASE WHEN w.exception_id IS NOT NULL THEN 'waived' ELSE 'open' END AS status,
           f.blast_radius, w.reason AS waiver_reason, w.until AS waived_until,
           w.by AS waived_by, w.at AS waived_at
    FROM current_findings f
    LEFT JOIN active_waivers w ON w.exception_id = f.exception_id
)
"""
)

# Each finding against its previous row (if any): `prev_row` locates it for the updates;
# `reshaped`, `retold` and `changed` say which of its columns move besides the run stamps
# (departments; message or evidence; the others). Text and lists are kept only where a row
# takes them (new, reshaped or retold rows): most rows only move their run stamps.
FOUND_SQL = (
    "CREATE OR REPLACE TEMP TABLE lifecycle_found AS WITH RECURSIVE"
    + FOUND_CTE
    + """,
compared AS (
    SELECT f.*, p.rowid AS prev_row, p.status AS prev_status, p.first_seen AS prev_first_seen,
           p.occurrences AS prev_occurrences,
           p.rowid IS NOT NULL AND p.departments IS DISTINCT FROM f.departments AS reshaped,
           p.rowid IS NOT NULL
               AND (p.message, p.evidence::VARCHAR) IS DISTINCT FROM (f.message, f.evidence::VARCHAR)
               AS retold,
           p.rowid IS NOT NULL AND (
               p.resolved_at IS NOT NULL
               OR (p.severity, p.owner, p.classification, p.status, p.blast_radius,
                   p.waiver_reason, p.waived_until, p.waived_by, p.waived_at)
                  IS DISTINCT FROM
                  (f.severity, f.owner, f.classification, f.status, f.blast_radius,
                   f.waiver_reason, f.waived_until, f.waived_by, f.waived_at)
           ) AS changed
    FROM found f
    LEFT JOIN exceptions p ON p.exception_id = f.exception_id
)
SELECT * REPLACE (
    CASE WHEN prev_row IS NULL OR reshaped OR retold THEN message END AS message,
    CASE WHEN prev_row IS NULL OR reshaped OR retold THEN evidence END AS evidence,
    CASE WHEN prev_row IS NULL OR reshaped THEN subject_ids END AS subject_ids,
    CASE WHEN prev_row IS NULL OR reshaped THEN departments END AS departments
)
FROM compared
"""
)

# With no previous rows every finding is new: inserted straight from the query (a table of
# findings written first would be written twice), as NEW_SQL below would insert it.
FIRST_RUN_SQL = (
    "INSERT INTO exceptions BY NAME WITH RECURSIVE"
    + FOUND_CTE
    + """
SELECT *, $now AS first_seen, $now AS last_seen, NULL AS resolved_at, 1 AS occurrences
FROM found
"""
)

# Rows found before and again: every one is seen once more ...
SEEN_SQL = """
UPDATE exceptions SET last_seen = $now, occurrences = occurrences + 1
FROM lifecycle_found f WHERE exceptions.rowid = f.prev_row AND NOT f.reshaped
"""

# ... those whose text moved (day counts in messages and evidence) take the new text ...
RETOLD_SQL = """
UPDATE exceptions SET message = f.message, evidence = f.evidence
FROM lifecycle_found f WHERE exceptions.rowid = f.prev_row AND f.retold AND NOT f.reshaped
"""

# ... and the few whose severity, status or waiver moved take this run's values. Each update
# names only its columns: the commit rewrites only the columns updated. (A changed list is not
# updated in place: DuckDB rewrites such rows one by one, so those rows are replaced.)
CHANGED_SQL = """
UPDATE exceptions SET severity = f.severity, owner = f.owner,
    classification = f.classification, status = f.status, resolved_at = NULL,
    blast_radius = f.blast_radius, waiver_reason = f.waiver_reason,
    waived_until = f.waived_until, waived_by = f.waived_by, waived_at = f.waived_at
FROM lifecycle_found f WHERE exceptions.rowid = f.prev_row AND f.changed AND NOT f.reshaped
"""

# Open rows of evaluated rules that were not found are resolved; rows of rules that were not
# evaluated (invalid this run) are left untouched.
RESOLVE_SQL = """
UPDATE exceptions SET status = 'resolved', resolved_at = $now
WHERE status <> 'resolved' AND list_contains($evaluated, rule_id)
  AND rowid NOT IN (SELECT prev_row FROM lifecycle_found WHERE prev_row IS NOT NULL)
"""

RESHAPED_SQL = """
DELETE FROM exceptions WHERE rowid IN (SELECT prev_row FROM lifecycle_found WHERE reshaped)
"""

# New rows, and the replaced ones with their history.
NEW_SQL = """
INSERT INTO exceptions BY NAME
SELECT exception_id, rule_id, severity, subject_ids, departments, owner, message, evidence,
       classification, status, coalesce(prev_first_seen, $now) AS first_seen, $now AS last_seen,
       NULL AS resolved_at, (coalesce(prev_occurrences, 0) + 1)::INTEGER AS occurrences,
       blast_radius, waiver_reason, waived_until, waived_by, waived_at
FROM lifecycle_found WHERE prev_row IS NULL OR reshaped
"""

CHANGES_SQL = """
SELECT count(*) FILTER (WHERE prev_row IS NULL),
       count(*) FILTER (WHERE prev_status = 'resolved')
FROM lifecycle_found
"""
OPEN_SQL = """
SELECT count(*) FILTER (WHERE status = 'open' AND severity = 'fail'),
       count(*) FILTER (WHERE status = 'open' AND severity = 'warn'),
       count(*) FILTER (WHERE status = 'open' AND severity = 'info'),
       count(*) FILTER (WHERE status = 'waived' AND last_seen = $now)
FROM exceptions
"""


@dataclass(frozen=True)
class LifecycleCounts:
    open_fail: int
    open_warn: int
    open_info: int
    new: int
    resolved: int
    waived: int
    reopened: int
    # wall seconds of each step (merge, subjects, commit): where a slow evaluation spends them
    step_seconds: dict[str, float] = field(default_factory=dict, compare=False)


def _waiver_table(waivers: list[Waiver], today: object) -> pa.Table:
    active = [w for w in waivers if w.active(today)]  # type: ignore[arg-type]
    return pa.table(
        {
            "exception_id": pa.array([w.exception_id for w in active], pa.string()),
            "reason": pa.array([w.reason for w in active], pa.string()),
            "until": pa.array([w.until for w in active], pa.date32()),
            "by": pa.array([w.by for w in active], pa.string()),
            "at": pa.array([w.at for w in active], pa.timestamp("us")),
        }
    )


def apply_lifecycle(
    con: duckdb.DuckDBPyConnection,
    findings: pa.Table,
    *,
    evaluated: list[str],
    waivers: list[Waiver],
    now: datetime,
    run_id: str,
) -> LifecycleCounts:
    """Merge this run's findings into `exceptions` (one row per exception_id), bring
    `exception_subjects` up to date and record the run, in one transaction."""
    for column, kind in (("waived_by", "VARCHAR"), ("waived_at", "TIMESTAMP")):
        # `handoff check` re-evaluates a model published before the waiver audit columns
        con.execute(f"ALTER TABLE exceptions ADD COLUMN IF NOT EXISTS {column} {kind}")
    con.register("rule_findings", findings)
    con.register("active_waivers", _waiver_table(waivers, now.date()))
    steps: dict[str, float] = {}
    started = time.perf_counter()

    def step(name: str) -> None:
        nonlocal started
        steps[name] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()

    con.execute("BEGIN TRANSACTION")
    try:
        if not _first_run(con):
            new, resolved, reopened = _merge(con, now, evaluated, step)
        else:
            new, resolved, reopened = _count(con.execute(FIRST_RUN_SQL, {"now": now})), 0, 0
            step("findings")
            step("merge")
            con.execute(SUBJECTS_TABLE_SQL)
            con.execute("DELETE FROM exception_subjects")  # none, unless left by hand
        publish_subjects(con)
        step("subjects")
        open_now = con.execute(OPEN_SQL, {"now": now}).fetchone()
        assert open_now is not None
        fail, warn, info, waived = (int(v) for v in open_now)
        counts = LifecycleCounts(fail, warn, info, new, resolved, waived, reopened, steps)
        con.execute(
            "INSERT INTO exception_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                now,
                counts.open_fail,
                counts.open_warn,
                counts.open_info,
                counts.new,
                counts.resolved,
                counts.waived,
            ],
        )
        con.execute("COMMIT")
        step("commit")
    except BaseException:
        with contextlib.suppress(duckdb.TransactionException):  # a failed COMMIT ended it
            con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("rule_findings")
        con.unregister("active_waivers")
        con.execute("DROP TABLE IF EXISTS lifecycle_found")
    return counts


def _merge(
    con: duckdb.DuckDBPyConnection,
    now: datetime,
    evaluated: list[str],
    step: Callable[[str], None],
) -> tuple[int, int, int]:
    """Merge this run's findings with the previous rows: new, resolved and reopened counts."""
    con.execute(FOUND_SQL)
    changes = con.execute(CHANGES_SQL).fetchone()
    assert changes is not None
    new, reopened = (int(v) for v in changes)
    step("findings")
    resolved = _count(con.execute(RESOLVE_SQL, {"now": now, "evaluated": evaluated}))
    con.execute(SEEN_SQL, {"now": now})
    con.execute(RETOLD_SQL)
    con.execute(CHANGED_SQL)
    con.execute(RESHAPED_SQL)
    con.execute(NEW_SQL, {"now": now})
    step("merge")
    return new, resolved, reopened


def _first_run(con: duckdb.DuckDBPyConnection) -> bool:
    """No previous rows to merge with: every finding is inserted as new."""
    return not _has_rows(con, "exceptions")


def _has_rows(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = con.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()
    return bool(row and row[0])


def _count(cursor: duckdb.DuckDBPyConnection) -> int:
    """Rows a DML statement touched."""
    row = cursor.fetchone()
    return int(row[0]) if row else 0


# No primary key: (exception_id, position) is unique by construction (an exception's rows are
# added once, when it is new, from its own list), and a key's index cost more than the rest of
# the bridge to build and to checkpoint at a million findings.
SUBJECTS_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS exception_subjects (
    exception_id VARCHAR NOT NULL, item_id VARCHAR NOT NULL, role VARCHAR NOT NULL,
    position INTEGER NOT NULL
)
"""

SUBJECTS_SQL = """
SELECT exception_id, item_id,
       CASE WHEN n = 1 THEN 'subject' WHEN i = 1 THEN 'upstream'
            WHEN i = n THEN 'downstream' ELSE 'member' END AS role,
       i::INTEGER AS position
FROM (
    SELECT exception_id, len(subject_ids) AS n, unnest(subject_ids) AS item_id,
           unnest(generate_series(1, len(subject_ids))) AS i
    FROM {rows}
)
"""


def publish_subjects(con: duckdb.DuckDBPyConnection) -> None:
    """The `exception_subjects` bridge for BI tools (inside the caller's transaction).

    An exception's subjects never change (its id is their fingerprint), so a bridge kept by the
    last evaluation only gains this run's new rows; an empty one (a fresh build, whose carried
    exceptions have none yet) is filled from every row.
    """
    con.execute(SUBJECTS_TABLE_SQL)
    if _has_rows(con, "exception_subjects"):
        rows = "(SELECT exception_id, subject_ids FROM lifecycle_found WHERE prev_row IS NULL)"
    else:
        rows = "exceptions"
    con.execute(f"INSERT INTO exception_subjects BY NAME {SUBJECTS_SQL.format(rows=rows)}")
