"""The exception lifecycle, set-based: classify, rank by blast radius, merge with the last run."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pyarrow as pa

from rules.rewrite import rewrite_table
from rules.waivers import Waiver

# This run's findings, one per fingerprint, enriched, merged with the previous rows, in one
# statement. Rows of one rule with the same subjects are one finding: keep the most severe
# (sorting only the duplicates, which are rare, keeps this cheap).
# Enriched: planned when a contract covers them (the edge between the first two subjects, or the
# rule's own contract column), blast radius of the first subject: open items that transitively
# wait on it through blocks/depends_on edges. Past its first step the search walks work_items
# row numbers rather than item id strings (cheaper to join and to deduplicate).
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
    SELECT item_id, rowid AS item_row FROM work_items
    WHERE NOT is_deleted AND coalesce(status_category, 'todo') <> 'done'
),
waiting AS MATERIALIZED (  -- open items and what they wait on
    SELECT d.upstream_id, u.item_row AS upstream_row, w.item_row AS downstream_row
    FROM dependencies d
    JOIN open_items w ON w.item_id = d.downstream_id
    LEFT JOIN open_items u ON u.item_id = d.upstream_id
    WHERE d.kind <> 'relates'
),
onward AS MATERIALIZED (  -- past the first step only open items are reached
    SELECT upstream_row, downstream_row FROM waiting WHERE upstream_row IS NOT NULL
),
starts AS MATERIALIZED (
    SELECT s.start, row_number() OVER () AS start_no, i.item_row AS start_row
    -- duplicates' subjects too (a superset of what is needed): no second pass over the dedupe
    FROM (SELECT DISTINCT subject_ids[1] AS start FROM rule_findings) AS s
    LEFT JOIN open_items i ON i.item_id = s.start
),
reach(start_no, item_row) AS (
    SELECT s.start_no, e.downstream_row FROM starts s JOIN waiting e ON e.upstream_id = s.start
    UNION
    SELECT r.start_no, e.downstream_row FROM reach r JOIN onward e ON e.upstream_row = r.item_row
),
radius AS (
    SELECT s.start,
           count(*) FILTER (WHERE s.start_row IS NULL OR r.item_row <> s.start_row) AS blast_radius
    FROM reach r JOIN starts s USING (start_no)
    GROUP BY s.start
),
current_findings AS (
    SELECT f.*,
           CASE WHEN f.contract_id IS NOT NULL OR c.contract_id IS NOT NULL THEN 'planned'
                ELSE 'surprise' END AS classification,
           coalesce(r.blast_radius, 0)::INTEGER AS blast_radius
    FROM unique_findings AS f
    LEFT JOIN (  -- one row per (upstream_id, downstream_id): at most one match
        SELECT upstream_id, downstream_id, contract_id FROM dependencies
        WHERE contract_id IS NOT NULL
    ) AS c ON c.upstream_id = f.subject_ids[1] AND c.downstream_id = f.subject_ids[2]
    LEFT JOIN radius r ON r.start = f.subject_ids[1]
)
"""

# Previous rows of rules that were not evaluated (invalid this run) are carried over untouched.
MERGE_SQL = (
    """
WITH RECURSIVE
"""
    + FINDINGS_SQL
    + """
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
    CASE WHEN f.exception_id IS NULL THEN p.waived_at ELSE w.at END AS waived_at
FROM current_findings f
FULL OUTER JOIN exceptions p ON p.exception_id = f.exception_id
LEFT JOIN active_waivers w ON w.exception_id = f.exception_id
"""
)

# What changed against the previous rows, on the ids alone (read before they are replaced).
CHANGES_SQL = """
WITH found AS (SELECT DISTINCT exception_id FROM rule_findings)
SELECT count(*) FILTER (WHERE p.exception_id IS NULL),
       count(*) FILTER (WHERE f.exception_id IS NULL AND p.status <> 'resolved'
                        AND list_contains($evaluated, p.rule_id)),
       count(*) FILTER (WHERE f.exception_id IS NOT NULL AND p.status = 'resolved')
FROM found f
FULL OUTER JOIN (SELECT exception_id, rule_id, status FROM exceptions) AS p
    ON p.exception_id = f.exception_id
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
    """Merge this run's findings into `exceptions` (keyed by exception_id), rebuild
    `exception_subjects` and record the run, in one transaction."""
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
        changes = con.execute(CHANGES_SQL, {"evaluated": evaluated}).fetchone()
        assert changes is not None
        new, resolved, reopened = (int(v) for v in changes)
        rewrite_table(
            con,
            "exceptions",
            MERGE_SQL,
            {"now": now, "evaluated": evaluated},
            key=["exception_id"],
        )
        step("merge")
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
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("rule_findings")
        con.unregister("active_waivers")
    return counts


SUBJECTS_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS exception_subjects (
    exception_id VARCHAR NOT NULL, item_id VARCHAR NOT NULL, role VARCHAR NOT NULL,
    position INTEGER NOT NULL, PRIMARY KEY (exception_id, position)
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
    FROM exceptions
)
"""


def publish_subjects(con: duckdb.DuckDBPyConnection) -> None:
    """The `exception_subjects` bridge for BI tools, rebuilt from `exceptions` as a keyed twin
    (inside the caller's transaction)."""
    con.execute(SUBJECTS_TABLE_SQL)
    rewrite_table(con, "exception_subjects", SUBJECTS_SQL, key=["exception_id", "position"])
