"""The exception lifecycle, set-based: classify, rank by blast radius, merge with the last run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa

from rules.waivers import Waiver

# Findings of this run, enriched: planned when a contract covers them, blast radius of the first
# subject (open items that transitively wait on it, through blocks/depends_on edges).
# Rows of one rule with the same subjects are one finding: keep the most severe (sorting only the
# duplicates, which are rare, keeps this cheap).
DEDUPE_SQL = """
CREATE TEMP TABLE unique_findings AS
WITH duplicated AS (
    SELECT exception_id FROM rule_findings GROUP BY exception_id HAVING count(*) > 1
)
SELECT * FROM rule_findings WHERE exception_id NOT IN (SELECT exception_id FROM duplicated)
UNION ALL
(SELECT DISTINCT ON (exception_id) * FROM rule_findings
 WHERE exception_id IN (SELECT exception_id FROM duplicated)
 ORDER BY exception_id, CASE severity WHEN 'fail' THEN 0 WHEN 'warn' THEN 1 ELSE 2 END)
"""

# Findings of this run, enriched: planned when a contract covers them, blast radius of the first
# subject (open items that transitively wait on it, through blocks/depends_on edges).
ENRICH_SQL = """
CREATE TEMP TABLE current_findings AS
WITH RECURSIVE
starts AS (SELECT DISTINCT subject_ids[1] AS start FROM unique_findings),
waiting AS MATERIALIZED (
    SELECT d.upstream_id, d.downstream_id
    FROM dependencies d JOIN work_items w ON w.item_id = d.downstream_id
    WHERE d.kind <> 'relates' AND NOT w.is_deleted AND coalesce(w.status_category, 'todo') <> 'done'
),
reach(start, item_id) AS (
    SELECT s.start, e.downstream_id FROM starts s JOIN waiting e ON e.upstream_id = s.start
    UNION
    SELECT r.start, e.downstream_id FROM reach r JOIN waiting e ON e.upstream_id = r.item_id
),
radius AS (
    SELECT start, count(*) FILTER (WHERE item_id <> start) AS blast_radius FROM reach GROUP BY start
)
SELECT f.*,
       CASE WHEN f.contract_id IS NOT NULL OR d.contract_id IS NOT NULL THEN 'planned'
            ELSE 'surprise' END AS classification,
       coalesce(r.blast_radius, 0)::INTEGER AS blast_radius
FROM unique_findings AS f
LEFT JOIN dependencies d
       ON d.upstream_id = f.subject_ids[1] AND d.downstream_id = f.subject_ids[2]
LEFT JOIN radius r ON r.start = f.subject_ids[1]
"""

# Previous rows of rules that were not evaluated (invalid this run) are carried over untouched.
MERGE_SQL = """
CREATE TEMP TABLE next_exceptions AS
SELECT
    coalesce(f.exception_id, p.exception_id) AS exception_id,
    coalesce(f.rule_id, p.rule_id) AS rule_id,
    coalesce(f.severity, p.severity) AS severity,
    coalesce(f.subject_ids, p.subject_ids) AS subject_ids,
    CASE WHEN f.exception_id IS NULL THEN p.departments ELSE f.departments END AS departments,
    CASE WHEN f.exception_id IS NULL THEN p.owner ELSE f.owner END AS owner,
    coalesce(f.message, p.message) AS message,
    CASE WHEN f.exception_id IS NULL THEN p.evidence ELSE f.evidence::JSON END AS evidence,
    coalesce(f.classification, p.classification) AS classification,
    CASE WHEN f.exception_id IS NOT NULL AND w.exception_id IS NOT NULL THEN 'waived'
         WHEN f.exception_id IS NOT NULL THEN 'open'
         WHEN NOT list_contains($evaluated, p.rule_id) THEN p.status
         ELSE 'resolved' END AS status,
    coalesce(p.first_seen, $now) AS first_seen,
    CASE WHEN f.exception_id IS NULL THEN p.last_seen ELSE $now END AS last_seen,
    CASE WHEN f.exception_id IS NOT NULL THEN NULL
         WHEN p.status = 'resolved' OR NOT list_contains($evaluated, p.rule_id) THEN p.resolved_at
         ELSE $now END AS resolved_at,
    (coalesce(p.occurrences, 0) + CASE WHEN f.exception_id IS NULL THEN 0 ELSE 1 END)::INTEGER
        AS occurrences,
    coalesce(f.blast_radius, p.blast_radius, 0)::INTEGER AS blast_radius,
    CASE WHEN f.exception_id IS NULL THEN p.waiver_reason ELSE w.reason END AS waiver_reason,
    CASE WHEN f.exception_id IS NULL THEN p.waived_until ELSE w.until END AS waived_until,
    CASE WHEN f.exception_id IS NULL THEN p.waived_by ELSE w.by END AS waived_by,
    CASE WHEN f.exception_id IS NULL THEN p.waived_at ELSE w.at END AS waived_at,
    p.exception_id IS NULL AS is_new,
    f.exception_id IS NOT NULL AND p.status = 'resolved' AS is_reopened,
    f.exception_id IS NULL AND p.status <> 'resolved' AND list_contains($evaluated, p.rule_id)
        AS is_resolved_now
FROM current_findings f
FULL OUTER JOIN exceptions p ON p.exception_id = f.exception_id
LEFT JOIN active_waivers w ON w.exception_id = f.exception_id
"""

COLUMNS = (
    "exception_id, rule_id, severity, subject_ids, departments, owner, message, evidence, "
    "classification, status, first_seen, last_seen, resolved_at, occurrences, blast_radius, "
    "waiver_reason, waived_until, waived_by, waived_at"
)


@dataclass(frozen=True)
class LifecycleCounts:
    open_fail: int
    open_warn: int
    open_info: int
    new: int
    resolved: int
    waived: int
    reopened: int


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
    """Merge this run's findings into `exceptions` and record the run, in one transaction."""
    for column, kind in (("waived_by", "VARCHAR"), ("waived_at", "TIMESTAMP")):
        # `handoff check` re-evaluates a model published before the waiver audit columns
        con.execute(f"ALTER TABLE exceptions ADD COLUMN IF NOT EXISTS {column} {kind}")
    con.register("rule_findings", findings)
    con.register("active_waivers", _waiver_table(waivers, now.date()))
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(DEDUPE_SQL)
        con.execute(ENRICH_SQL)
        con.execute(MERGE_SQL, {"now": now, "evaluated": evaluated})
        row = con.execute(
            """
            SELECT count(*) FILTER (WHERE status = 'open' AND severity = 'fail'),
                   count(*) FILTER (WHERE status = 'open' AND severity = 'warn'),
                   count(*) FILTER (WHERE status = 'open' AND severity = 'info'),
                   count(*) FILTER (WHERE is_new),
                   count(*) FILTER (WHERE is_resolved_now),
                   count(*) FILTER (WHERE status = 'waived' AND last_seen = $now),
                   count(*) FILTER (WHERE is_reopened)
            FROM next_exceptions
            """,
            {"now": now},
        ).fetchone()
        assert row is not None
        counts = LifecycleCounts(*(int(v) for v in row))
        con.execute("DELETE FROM exceptions")
        con.execute(f"INSERT INTO exceptions ({COLUMNS}) SELECT {COLUMNS} FROM next_exceptions")
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
        con.execute("DROP TABLE unique_findings")
        con.execute("DROP TABLE current_findings")
        con.execute("DROP TABLE next_exceptions")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("rule_findings")
        con.unregister("active_waivers")
    return counts


SUBJECTS_SQL = """
CREATE TABLE IF NOT EXISTS exception_subjects (
    exception_id VARCHAR NOT NULL, item_id VARCHAR NOT NULL, role VARCHAR NOT NULL,
    position INTEGER NOT NULL, PRIMARY KEY (exception_id, position)
);
DELETE FROM exception_subjects;
INSERT INTO exception_subjects
SELECT exception_id, item_id,
       CASE WHEN n = 1 THEN 'subject' WHEN i = 1 THEN 'upstream'
            WHEN i = n THEN 'downstream' ELSE 'member' END AS role,
       i::INTEGER AS position
FROM (
    SELECT exception_id, len(subject_ids) AS n, unnest(subject_ids) AS item_id,
           unnest(generate_series(1, len(subject_ids))) AS i
    FROM exceptions
);
"""


def publish_keys(con: duckdb.DuckDBPyConnection) -> None:
    """After the merge: the primary key on `exceptions` (added once, after the bulk rewrite,
    so the merge itself maintains no index) and the `exception_subjects` bridge for BI tools."""
    has_key = con.execute(
        "SELECT count(*) FROM duckdb_constraints() "
        "WHERE table_name = 'exceptions' AND constraint_type = 'PRIMARY KEY'"
    ).fetchone()
    if not (has_key and has_key[0]):
        con.execute("ALTER TABLE exceptions ADD PRIMARY KEY (exception_id)")
    con.execute(SUBJECTS_SQL)
