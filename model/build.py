"""Builds a new governance database from the raw stores, next to the published one.

The build writes a fresh file; `model.publish` swaps it in atomically once the run succeeded, so
analysts never see half a model and a crash leaves the published file as it was.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from handoff.bounded import connect_bounded
from handoff.config import HandoffConfig
from handoff.redact import redact_optional
from model import config_tables, history, reported
from model.departments import build_department_map, canonicalise_departments
from model.forecast import build_forecasts
from model.landing import raw_store_path
from model.normalise import normaliser_for
from model.people import assign_stewards, build_people
from model.publish import identity
from model.references import resolve_references
from model.schema import SCHEMA_VERSION, create_schema

log = logging.getLogger(__name__)
STAGING_SQL = (Path(__file__).parent / "staging.sql").read_text()


@dataclass
class SourceOutcome:
    """How one source's fetch went in this run (filled by the pipeline)."""

    source: str
    status: str  # success | failed | skipped
    started_at: datetime
    finished_at: datetime
    full_sync: bool = False
    changed: int = 0
    deleted: int = 0
    rejected: int = 0
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    error: str | None = None
    permanent: bool = False  # the failure is one retrying cannot fix (credentials, missing file)


@dataclass
class BuildResult:
    path: Path
    items: dict[str, int] = field(default_factory=dict)  # live items per source
    dependencies: int = 0
    unresolved: int = 0
    rejected: int = 0
    normalise_errors: dict[str, str] = field(default_factory=dict)
    based_on: str = "none"  # identity of the published file whose history the build carried


# Given a source name, a context that keeps its raw store unchanged while the build reads it.
RawLock = Callable[[str], AbstractContextManager[object]]


def staging_path(config: HandoffConfig, run_id: str) -> Path:
    path = config.path(config.data_dir) / "build" / f"handoff-{run_id}.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


ORPHAN_AFTER_SECONDS = 6 * 3600  # a build file untouched this long belongs to a dead run


def remove_stale_builds(
    config: HandoffConfig, *, older_than_seconds: float = ORPHAN_AFTER_SECONDS
) -> list[Path]:
    """Delete build files a killed run left behind. Runs build and publish under separate
    holds of the model lock, so a young file may belong to a run between those steps: only
    files untouched for `older_than_seconds` are taken for orphans."""
    folder = config.path(config.data_dir) / "build"
    cutoff = time.time() - older_than_seconds
    removed = []
    for path in sorted(folder.glob("handoff-*.duckdb*")) if folder.is_dir() else []:
        try:
            if path.stat().st_mtime > cutoff:
                continue
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
    if removed:
        log.info("removed %d build files left by an interrupted run", len(removed))
    return removed


def _attach_previous(con: duckdb.DuckDBPyConnection, published: Path, scratch: Path) -> bool:
    """Attach the published database read-only as `prev`; copy it first if another process
    holds it open for writing."""
    if not published.exists():
        return False
    try:
        con.execute(f"ATTACH '{published}' AS prev (READ_ONLY)")
    except duckdb.Error:
        copy = scratch / "previous.duckdb"
        shutil.copyfile(published, copy)
        con.execute(f"ATTACH '{copy}' AS prev (READ_ONLY)")
    return True


def build_model(
    config: HandoffConfig,
    *,
    run_id: str,
    now: datetime,
    outcomes: dict[str, SourceOutcome],
    path: Path | None = None,
    raw_lock: RawLock | None = None,
) -> BuildResult:
    """Normalise every source's raw store into a new database file and return its path.

    Call under the data directory's model lock: `result.based_on` names the published file read."""
    path = path or staging_path(config, run_id)
    path.unlink(missing_ok=True)
    result = BuildResult(path=path, based_on=identity(config.database_path))
    con = connect_bounded(str(path), config)
    with tempfile.TemporaryDirectory() as scratch:
        try:
            create_schema(con)
            con.execute(STAGING_SQL)
            has_prev = _attach_previous(con, config.database_path, Path(scratch))
            _normalise_sources(con, config, now, result, raw_lock or (lambda _: nullcontext()))
            build_department_map(con, config.department_rules, list(config.sources))
            canonicalise_departments(con, config.departments)
            build_people(con, config.people)
            _fill_work_items(con, now)
            assign_stewards(con, config.milestone_stewards)
            resolve_references(con, pending=pending_scopes(config, outcomes))
            config_tables.fill(con, config)
            config_tables.mark_contracts_and_tensions(con)
            history.carry_previous(con, has_prev)
            history.record_status_changes(con, now, has_prev)
            history.record_versions(con, now)
            history.fill_status_changed_at(con)
            history.carry_dependency_dates(con, now, has_prev)
            reported.record_status_reports(con, now, has_prev)
            reported.record_due_date_changes(con, now, has_prev)
            build_forecasts(con, now, config.typical_cycle_days)
            _record_runs(con, config, run_id, outcomes, result)
            con.execute("INSERT INTO schema_info VALUES (?, ?, ?)", [SCHEMA_VERSION, now, run_id])
            con.execute(
                "DROP TABLE stg_items; DROP TABLE stg_references; DROP TABLE stg_status_changes; "
                "DROP TABLE stg_status_reports; DROP TABLE stg_due_date_changes; "
                "DROP TABLE stg_dependency_dates"
            )
            if has_prev:
                con.execute("DETACH prev")
            _summarise(con, result)
            con.execute("CHECKPOINT")
        finally:
            con.close()
    return result


def pending_scopes(
    config: HandoffConfig, outcomes: dict[str, SourceOutcome]
) -> list[tuple[str, str]]:
    """(tool, scope) of sources whose data may be missing: failed in this run or never synced
    successfully. References into them wait (`pending_source`) instead of being unmapped."""
    scopes: list[tuple[str, str]] = []
    for source in config.sources:
        if not source.enabled:
            continue
        outcome = outcomes.get(source.name)
        if not (
            (outcome is not None and outcome.status == "failed")
            or not _ever_synced(raw_store_path(config.raw_dir, source.name))
        ):
            continue
        projects = [str(p) for p in getattr(source, "projects", [])]
        if source.kind == "jira":
            scopes += [("jira", p.upper()) for p in projects] or [("jira", "*")]
        elif source.kind == "asana":
            scopes.append(("asana", "*"))
        elif source.kind == "gsheets":
            scopes.append(("gsheets", str(getattr(source, "spreadsheet_id", ""))))
    return [(tool, scope) for tool, scope in scopes if scope]


def _ever_synced(raw: Path) -> bool:
    """True when the source's raw store records a successful fetch."""
    if not raw.exists():
        return False
    try:
        con = duckdb.connect(str(raw), read_only=True)
    except duckdb.Error:
        return False
    try:
        row = con.execute("SELECT count(*) FROM fetch_runs WHERE status = 'success'").fetchone()
    except duckdb.Error:
        return False
    finally:
        con.close()
    return bool(row and row[0])


def _normalise_sources(
    con: duckdb.DuckDBPyConnection,
    config: HandoffConfig,
    now: datetime,
    result: BuildResult,
    raw_lock: RawLock,
) -> None:
    for index, source in enumerate(config.sources):
        raw = raw_store_path(config.raw_dir, source.name)
        if not source.enabled or not raw.exists():
            continue
        alias = f"raw_{index}"
        with raw_lock(source.name):  # no fetch writes the store while it is attached
            con.execute(f"ATTACH '{raw}' AS {alias} (READ_ONLY)")
            try:
                con.execute("BEGIN")
                normaliser_for(source.kind)(con, source, alias, now)
                _copy_rejections(con, source.name, alias)
                con.execute("COMMIT")
            except Exception as err:
                # A normaliser bug must not cost the other sources: drop this source's rows.
                con.execute("ROLLBACK")
                result.normalise_errors[source.name] = str(err)
                log.error("source %s: could not normalise its raw data: %s", source.name, err)
            finally:
                con.execute(f"DETACH {alias}")


def _copy_rejections(con: duckdb.DuckDBPyConnection, source: str, alias: str) -> None:
    """Rejections of the source's latest successful fetch: they describe its current input."""
    con.execute(
        f"""
        INSERT INTO rejected_records
        SELECT r.fetch_id, ?, r.location, r.column_name, r.reason, r.raw
        FROM {alias}.rejections r
        WHERE r.fetch_id = (SELECT fetch_id FROM {alias}.fetch_runs WHERE status = 'success'
                            ORDER BY started_at DESC LIMIT 1)
        """,
        [source],
    )


def _fill_work_items(con: duckdb.DuckDBPyConnection, now: datetime) -> None:
    con.execute(
        """
        INSERT INTO work_items
        -- item_no: the item's rank in item_id order (model/item_numbers.sql numbers the same way)
        SELECT *, row_number() OVER (ORDER BY item_id)::INTEGER FROM (
        SELECT DISTINCT ON (i.item_id)
            i.item_id, i.source, i.tool, i.source_key, i.url, i.title, i.item_type,
            coalesce(i.is_milestone, false), i.status, i.status_category, d.department,
            o.person_id, i.owner_name,
            CASE WHEN i.is_milestone THEN o.person_id END,
            i.due_date, i.start_date, i.created_at, i.updated_at, i.completed_at,
            i.status_changed_at, i.parent_key, i.milestone_key, i.project,
            coalesce(i.labels, []), coalesce(i.components, []), coalesce(i.is_deleted, false),
            coalesce(i.synced_at, $now)
        FROM stg_items i
        LEFT JOIN department_map d USING (item_id)
        LEFT JOIN owner_map o USING (item_id)
        ORDER BY i.item_id, i.is_deleted
        )
        """,
        {"now": now},
    )
    # Items roll up to the nearest milestone on their parent chain.
    con.execute(
        """
        UPDATE work_items w SET milestone_id = m.milestone_id FROM (
            WITH RECURSIVE chain(item_id, ancestor, depth) AS (
                SELECT item_id, parent_id, 1 FROM work_items
                WHERE milestone_id IS NULL AND parent_id IS NOT NULL
                UNION ALL
                SELECT c.item_id, p.parent_id, c.depth + 1
                FROM chain c JOIN work_items p ON p.item_id = c.ancestor
                WHERE NOT p.is_milestone AND p.parent_id IS NOT NULL AND c.depth < 20
            )
            SELECT c.item_id, arg_min(c.ancestor, c.depth) AS milestone_id
            FROM chain c JOIN work_items a ON a.item_id = c.ancestor AND a.is_milestone
            GROUP BY c.item_id
        ) m WHERE w.item_id = m.item_id
        """
    )
    con.execute("DROP TABLE department_map; DROP TABLE owner_map")


def _record_runs(
    con: duckdb.DuckDBPyConnection,
    config: HandoffConfig,
    run_id: str,
    outcomes: dict[str, SourceOutcome],
    result: BuildResult,
) -> None:
    for source in config.sources:
        outcome = outcomes.get(source.name)
        if outcome is None:
            continue
        error = redact_optional(outcome.error or result.normalise_errors.get(source.name))
        status = "failed" if error and outcome.status == "success" else outcome.status
        last_success: Any = con.execute(
            "SELECT max(finished_at) FROM sync_runs WHERE source = ? AND status = 'success'",
            [source.name],
        ).fetchone()
        last_ok = (
            outcome.finished_at
            if status == "success"
            else (last_success[0] if last_success else None)
        )
        con.execute(
            """
            INSERT INTO sync_runs VALUES (?, ?, ?, ?, ?, ?,
                (SELECT count(*) FROM work_items WHERE source = ? AND NOT is_deleted),
                ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                run_id,
                source.name,
                outcome.started_at,
                outcome.finished_at,
                status,
                outcome.full_sync,
                source.name,
                outcome.changed,
                outcome.deleted,
                outcome.rejected,
                outcome.requests,
                outcome.retries,
                outcome.seconds,
                error,
                last_ok,
            ],
        )


def _summarise(con: duckdb.DuckDBPyConnection, result: BuildResult) -> None:
    for source, count in con.execute(
        "SELECT source, count(*) FROM work_items WHERE NOT is_deleted GROUP BY source"
    ).fetchall():
        result.items[str(source)] = int(count)
    row: Any = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE NOT is_resolved) FROM dependencies"
    ).fetchone()
    result.dependencies, result.unresolved = int(row[0]), int(row[1])
    result.rejected = int(con.execute("SELECT count(*) FROM rejected_records").fetchone()[0])  # type: ignore[index]
