"""Raw landing: each source keeps its full current state in its own DuckDB file.

A fetch lands in one transaction: if the connector fails midway, the source keeps its last good
state and cursor. Deleted records become tombstones, never disappear.

Long fetches are checkpointed: pages are staged in the `pending_*` tables as they arrive, and
every few connector checkpoints (`Page.checkpoint`) the landing step records in `source_state`
(key `progress`) how many staged records are complete and where the connector can resume.
A failed or killed fetch keeps that staging; the next fetch of the same query resumes from the
checkpoint (`read_progress`) and trims what was staged after it. A checkpoint's
`CheckpointLog`s are saved as they grow, in `pending_checkpoint_log`. Nothing reaches
`raw_records`, which the model reads, before the whole fetch completes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from connectors.base import Batch, Census, CheckpointLog, Cursor, Page, RawRecord, Rejection
from handoff.redact import redact
from model.collection import fewer_collections
from model.release import return_freed_memory

log = logging.getLogger(__name__)

RAW_SCHEMA = """
CREATE TABLE IF NOT EXISTS raw_records (
    record_type VARCHAR NOT NULL,
    record_key  VARCHAR NOT NULL,
    payload     JSON,
    first_seen  TIMESTAMP NOT NULL,
    fetched_at  TIMESTAMP NOT NULL,
    is_deleted  BOOLEAN NOT NULL DEFAULT false,
    deleted_at  TIMESTAMP
    -- one row per (record_type, record_key): the merge deletes before it inserts; no key index,
    -- so that a fetch of any size merges within the landing memory limit
);
CREATE TABLE IF NOT EXISTS source_state (
    key        VARCHAR PRIMARY KEY,
    value      JSON,
    updated_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS fetch_runs (
    fetch_id    VARCHAR PRIMARY KEY,
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status      VARCHAR NOT NULL,
    full_sync   BOOLEAN NOT NULL,
    records     BIGINT,
    deleted     BIGINT,
    rejected    BIGINT,
    requests    BIGINT,
    retries     BIGINT,
    error       VARCHAR
);
CREATE TABLE IF NOT EXISTS rejections (
    fetch_id    VARCHAR NOT NULL,
    location    VARCHAR NOT NULL,
    column_name VARCHAR,
    reason      VARCHAR NOT NULL,
    raw         JSON
);
"""


ProgressListener = Callable[[str, int], None]
progress_listeners: list[ProgressListener] = []  # (source, records landed so far), e.g. the CLI


def raw_store_path(raw_dir: Path, source: str) -> Path:
    return raw_dir / f"{source}.duckdb"


@dataclass
class LandingResult:
    """What one fetch changed in the raw store."""

    fetch_id: str
    records: int = 0
    changed: int = 0
    deleted: int = 0
    rejected: int = 0
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    record_counts: dict[str, int] = field(default_factory=dict)


def open_raw_store(path: Path) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute(RAW_SCHEMA)
    return con


def read_cursor(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute("SELECT value FROM source_state WHERE key = 'cursor'").fetchone()
    except duckdb.CatalogException:
        return None
    finally:
        con.close()
    return json.loads(row[0]) if row and row[0] else None


# DuckDB keeps blocks cached up to its limit, so a large fetch uses all of it and a small one
# little: the limit is what a sync's peak memory grows by with the source's size, so it is as
# low as the merge allows (bench/results/jira.md, asana.md). The merge's scans pin the staged
# payloads a vector (2,048 records) at a time per thread, so what it needs follows the size of
# the largest records, not their number. Jira issues carry their changelogs (several KB, some
# far more): Data Center first syncs of 20,000 and 100,000 issues ran out of memory at 64 MB.
# Asana's records (a task, a task's stories) are small: a 100,000-task sync peaked 50% above a
# 20,000-task one at 160 MB, 24% at 64 MB (253 -> 313 MB). Once staging ran at its own lower
# limit (STAGING_MEMORY_MIB), the merge was a 100,000-issue sync's peak: Data Center 430-440 MB
# at 160 MB; at 96 MB Cloud's merge ran out of memory (and went on at 4x, 600 MB), at 128 MB
# neither did (Cloud 395 MB, Data Center 431 MB). A kind not listed gets LANDING_MEMORY.
LANDING_MEMORY = "128MB"
LANDING_MEMORY_BY_KIND = {"asana": "64MB"}


def landing_memory(kind: str) -> str:
    """The landing's DuckDB memory limit for a source of this kind (see LANDING_MEMORY)."""
    return LANDING_MEMORY_BY_KIND.get(kind, LANDING_MEMORY)


PENDING_SCHEMA = """
CREATE OR REPLACE TABLE pending_records (record_type VARCHAR, record_key VARCHAR, payload VARCHAR, seq BIGINT);
CREATE OR REPLACE TABLE pending_census (record_type VARCHAR, record_key VARCHAR);
CREATE OR REPLACE TABLE pending_rejections (location VARCHAR, column_name VARCHAR, reason VARCHAR, raw VARCHAR, seq BIGINT);
CREATE OR REPLACE TABLE pending_checkpoint_log (name VARCHAR, seq BIGINT, key VARCHAR, value VARCHAR);
DELETE FROM source_state WHERE key = 'progress';
"""
DROP_PENDING = (
    "DROP TABLE IF EXISTS pending_records; DROP TABLE IF EXISTS pending_census; "
    "DROP TABLE IF EXISTS pending_rejections; DROP TABLE IF EXISTS pending_latest; "
    "DROP TABLE IF EXISTS pending_changed; DROP TABLE IF EXISTS pending_matched; "
    "DROP TABLE IF EXISTS pending_checkpoint_log;"
)


PROGRESS_KEY = "progress"
LOG_MARK = "$checkpoint_log"  # a `CheckpointLog` in a saved checkpoint: {LOG_MARK: entries}


@dataclass
class Progress:
    """A fetch interrupted after a checkpoint: what a resumed fetch continues from.

    `records` and `rejected` count what was staged up to the checkpoint (staged rows beyond it
    are trimmed on resume); `fingerprint` identifies the query the fetch ran, and `query` holds
    the settings behind it (secrets masked) so a discard can say what changed."""

    checkpoint: dict[str, Any]
    fingerprint: str
    query: dict[str, Any]
    records: int
    rejected: int
    record_counts: dict[str, int]
    checkpoints: int
    started_at: str
    full: bool
    logs: dict[str, int] = field(default_factory=dict)  # entries of each checkpoint log


def read_progress(path: Path) -> Progress | None:
    """The checkpoint an interrupted fetch left in the raw store, if any."""
    if not path.exists():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute("SELECT value FROM source_state WHERE key = ?", [PROGRESS_KEY]).fetchone()
        if not row or not row[0]:
            return None
        progress = Progress(**json.loads(row[0]))
        progress.logs = _log_lengths(progress.checkpoint)
        for name, entries in progress.logs.items():
            rows = con.execute(
                "SELECT key, value FROM pending_checkpoint_log WHERE name = ? AND seq < ? "
                "ORDER BY seq",
                [name, entries],
            ).fetchall()
            progress.checkpoint[name] = dict(rows)
    except duckdb.CatalogException:
        return None
    finally:
        con.close()
    return progress


def _log_lengths(checkpoint: Cursor) -> dict[str, int]:
    """The `CheckpointLog`s of a saved checkpoint, with how many entries it vouches for."""
    return {
        name: int(value[LOG_MARK])
        for name, value in checkpoint.items()
        if isinstance(value, dict) and LOG_MARK in value
    }


@dataclass
class Checkpointing:
    """When the landing step commits a checkpoint, and what identifies the fetch's query."""

    fingerprint: str = ""
    query: dict[str, Any] = field(default_factory=dict)
    every_pages: int = 20  # connector checkpoints between two commits
    every_seconds: float = 60.0  # or this long since the last commit
    resume: Progress | None = None


def _save_progress(
    con: duckdb.DuckDBPyConnection,
    plan: Checkpointing,
    checkpoint: Cursor,
    result: LandingResult,
    checkpoints: int,
    started_at: datetime,
    full: bool,
    logs: dict[str, int],
) -> None:
    """The new entries of the checkpoint's logs (`logs`: how many each holds so far), then the
    checkpoint in one statement: a kill leaves either the previous checkpoint or this one (log
    entries beyond the saved count are trimmed on resume)."""
    saved = dict(checkpoint)
    for name, value in checkpoint.items():
        if isinstance(value, CheckpointLog):
            entries = value.take()
            start = logs.get(name, 0)
            _stage_log(con, name, start, entries)
            logs[name] = start + len(entries)
            saved[name] = {LOG_MARK: logs[name]}
    progress = Progress(
        checkpoint=saved,
        fingerprint=plan.fingerprint,
        query=plan.query,
        records=result.records,
        rejected=result.rejected,
        record_counts=dict(result.record_counts),
        checkpoints=checkpoints,
        started_at=started_at.isoformat(),
        full=full,
        logs=dict(logs),
    )
    con.execute(
        "INSERT OR REPLACE INTO source_state VALUES (?, ?, ?)",
        [PROGRESS_KEY, _progress_json(progress), started_at],
    )


def _stage_log(
    con: duckdb.DuckDBPyConnection, name: str, first_seq: int, entries: list[tuple[str, str]]
) -> None:
    if not entries:
        return
    keys, values = zip(*entries, strict=True)
    table = pa.table(
        {
            "name": pa.array([name] * len(entries), pa.string()),
            "seq": pa.array(range(first_seq, first_seq + len(entries)), pa.int64()),
            "key": pa.array(keys, pa.string()),
            "value": pa.array(values, pa.string()),
        }
    )
    _append(con, "pending_checkpoint_log", table)


def _progress_json(progress: Progress) -> str:
    """The checkpoint as JSON, as `json.dumps(..., default=str)` writes it but faster."""
    try:
        return orjson.dumps(
            progress.__dict__,
            default=str,
            option=orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME,
        ).decode()
    except TypeError:
        return json.dumps(progress.__dict__, default=str)


def _resume_staging(
    con: duckdb.DuckDBPyConnection, progress: Progress, logs: dict[str, int]
) -> None:
    """Keep what was staged up to the checkpoint (`logs`: the entries of each checkpoint log
    it vouches for); the connector yields the rest (and its census, whole) again."""
    con.execute("DELETE FROM pending_records WHERE seq >= ?", [progress.records])
    con.execute("DELETE FROM pending_rejections WHERE seq >= ?", [progress.rejected])
    con.execute("DELETE FROM pending_census")
    con.execute(
        "CREATE TABLE IF NOT EXISTS pending_checkpoint_log "
        "(name VARCHAR, seq BIGINT, key VARCHAR, value VARCHAR)"
    )
    for name, entries in logs.items():
        con.execute(
            "DELETE FROM pending_checkpoint_log WHERE name = ? AND seq >= ?", [name, entries]
        )


# staged records per INSERT of the merge (see `_merge_pending`): whole blocks of MERGE_BLOCK
# consecutive records, up to MERGE_SLICE_BYTES of JSON or MERGE_SLICE_RECORDS records. An
# insert in the merge's transaction holds more than its slice while it runs, beside the merge's
# key joins: 16 MB slices ran a first fetch of 16,000 records of 4.5 KB out of memory at 40 MB,
# 4 MB slices land it within 24 MB.
MERGE_BLOCK = 500
MERGE_SLICE_BYTES = 4 * 2**20
MERGE_SLICE_RECORDS = 10_000
# Staging only appends, and DuckDB's automatic checkpoints then compress the appended rows
# using all the memory they may: the landing limit, at every checkpoint of a long fetch, on top
# of the pages the connector holds. Staging runs at this limit instead (a staging insert that
# needs more still gets it, see `_grow_memory`); the merge gets the landing limit back.
STAGING_MEMORY_MIB = 48
STAGE_RECORDS = 5000  # records per staging insert: each insert is a commit of its own
STAGE_BYTES = 16 * 2**20  # or this much JSON, whichever comes first


class _Stager:
    """Appends records to the pending table in inserts of about STAGE_RECORDS or STAGE_BYTES
    (committed at once, so memory stays flat; fewer, larger commits than one per page).
    Records are encoded as they arrive: their JSON is several times smaller than the objects.
    `flush` before a checkpoint is recorded, so it never vouches for a record still in memory."""

    def __init__(self, con: duckdb.DuckDBPyConnection, first_seq: int):
        self.con = con
        self.seq = first_seq
        self.types: list[str] = []
        self.keys: list[str] = []
        self.payloads: list[bytes] = []
        self.size = 0

    def add(self, records: list[RawRecord]) -> None:
        for record in records:
            payload = _encode(record.payload)
            self.types.append(record.record_type)
            self.keys.append(record.key)
            self.payloads.append(payload)
            self.size += len(payload)
        if len(self.payloads) >= STAGE_RECORDS or self.size >= STAGE_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.payloads:
            _stage_records(self.con, self.types, self.keys, self.payloads, self.seq)
            self.seq += len(self.payloads)
            self.types, self.keys, self.payloads, self.size = [], [], [], 0


def _stage_records(
    con: duckdb.DuckDBPyConnection,
    types: list[str],
    keys: list[str],
    payloads: list[bytes],
    first_seq: int,
) -> None:
    """Append encoded records to the pending table in one insert."""
    table = pa.table(
        {
            "record_type": pa.array(types, pa.string()),
            "record_key": pa.array(keys, pa.string()),
            "payload": pa.array(payloads, pa.binary()).view(pa.string()),  # UTF-8 JSON as it is
            "seq": pa.array(range(first_seq, first_seq + len(payloads)), pa.int64()),
        }
    )
    _append(con, "pending_records", table)


def _encode(payload: Any) -> bytes:
    """Compact JSON as UTF-8 (orjson: several times faster than `json.dumps` on large
    payloads). Keys other than strings are written as `json` writes them, but only for the
    payloads that have them: orjson's option for them halves its speed on every payload. What
    orjson refuses (integers beyond 64 bits, ...) goes through `json`."""
    try:
        return orjson.dumps(payload)
    except TypeError:
        pass
    try:
        return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(payload, separators=(",", ":")).encode()


def _stage_census(con: duckdb.DuckDBPyConnection, census: Census) -> None:
    keys = sorted(census.keys)
    table = pa.table(  # typed arrays: inferring the type of a list loads dateutil (20+ ms)
        {
            "record_type": pa.array([census.record_type] * len(keys), pa.string()),
            "record_key": pa.array(keys, pa.string()),
        }
    )
    _append(con, "pending_census", table)


def _append(con: duckdb.DuckDBPyConnection, target: str, rows: pa.Table) -> None:
    """Insert an Arrow table's rows into a staging table (columns in the table's order)."""
    con.register("incoming_rows", rows)
    try:
        while True:
            try:
                con.execute(f"INSERT INTO {target} SELECT * FROM incoming_rows")
                return
            except (duckdb.OutOfMemoryException, duckdb.TransactionException) as err:
                if not _grow_memory(con, err):
                    raise
    finally:
        con.unregister("incoming_rows")


def _merge_pending(
    con: duckdb.DuckDBPyConnection, now: datetime, result: LandingResult, census_types: set[str]
) -> None:
    """Apply everything staged in one transaction: upserts, then tombstones from the censuses.

    `census_types` are the record types a census was taken for, an empty census included (a
    source allowed to be empty that is now empty). A record first seen in this fetch whose key
    the census no longer lists (deleted before the fetch ended) is not stored at all: a source
    read in one go or in resumed parts ends in the same state.

    Payloads travel once, from `pending_records` into `raw_records`, in slices of plain scans;
    every other step joins keys, sequence numbers and payload digests only, so the merge of a
    fetch of any size fits the landing memory limit (a copy of the staged payloads, or a join
    carrying them, held in the transaction does not). Superseded, vanished and unchanged
    records are deleted from the staging inside the transaction, so a failed merge leaves it
    whole for a resumed fetch."""
    con.execute(
        """
        DELETE FROM pending_records p USING (
            SELECT record_type, record_key, max(seq) AS latest FROM pending_records
            GROUP BY ALL HAVING count(*) > 1
        ) d
        WHERE p.record_type = d.record_type AND p.record_key = d.record_key AND p.seq < d.latest
        """
    )
    if census_types:
        con.execute(
            """
            DELETE FROM pending_records p
            WHERE list_contains($types, p.record_type)
              AND NOT EXISTS (SELECT 1 FROM pending_census c
                              WHERE c.record_type = p.record_type AND c.record_key = p.record_key)
              AND NOT EXISTS (SELECT 1 FROM raw_records r
                              WHERE r.record_type = p.record_type AND r.record_key = p.record_key)
            """,
            {"types": sorted(census_types)},
        )
    # Staged records already stored: changed (or a tombstone) or not. Both sides reduce to
    # keys and payload digests before they are joined, so no join holds payloads, and only
    # the stored records that were fetched again are hashed.
    con.execute(
        """
        CREATE OR REPLACE TABLE pending_matched AS
        SELECT p.seq, r.record_type, r.record_key, r.first_seen,
               r.is_deleted OR r.digest <> p.digest AS changed
        FROM (SELECT record_type, record_key, seq, md5_number(payload) AS digest
              FROM pending_records) p
        JOIN (SELECT record_type, record_key, first_seen, is_deleted,
                     md5_number(payload::VARCHAR) AS digest
              FROM raw_records SEMI JOIN pending_records USING (record_type, record_key)) r
          USING (record_type, record_key)
        """
    )
    # Changed rows are deleted and inserted again rather than updated in place or upserted
    # with ON CONFLICT: deletes and appends spill to disk, where a conflict check or an update
    # of a whole re-fetch would have to hold it all in memory. Unchanged ones leave the
    # staging, so what stays in it is exactly what to insert.
    con.execute(
        """
        DELETE FROM raw_records r USING pending_matched m
        WHERE m.changed AND r.record_type = m.record_type AND r.record_key = m.record_key
        """
    )
    con.execute(
        "DELETE FROM pending_records p USING pending_matched m WHERE NOT m.changed AND p.seq = m.seq"
    )
    # In slices of the staging, each a plain scan: one INSERT of a whole large fetch in a
    # transaction (or one that joins) holds memory in proportion to it and fails at the
    # landing limit. Re-inserted changed records get their first_seen back afterwards.
    result.changed = 0
    for start, end in _merge_slices(con):
        inserted: Any = con.execute(
            """
            INSERT INTO raw_records (record_type, record_key, payload, first_seen, fetched_at,
                                     is_deleted)
            SELECT record_type, record_key, payload::JSON, $now, $now, false
            FROM pending_records WHERE seq >= $start AND seq < $end
            """,
            {"now": now, "start": start, "end": end},
        ).fetchone()
        result.changed += int(inserted[0])
    con.execute(
        """
        UPDATE raw_records r SET first_seen = m.first_seen FROM pending_matched m
        WHERE m.changed AND r.record_type = m.record_type AND r.record_key = m.record_key
        """
    )
    con.execute("DROP TABLE pending_matched")
    deleted: Any = (
        con.execute(
            """
            UPDATE raw_records r SET is_deleted = true, deleted_at = $now
            WHERE NOT r.is_deleted
              AND list_contains($types, r.record_type)
              AND NOT EXISTS (SELECT 1 FROM pending_census c
                              WHERE c.record_type = r.record_type AND c.record_key = r.record_key)
            """,
            {"now": now, "types": sorted(census_types)},
        ).fetchone()
        if census_types
        else None
    )
    result.deleted = int(deleted[0]) if deleted else 0


def _merge_slices(con: duckdb.DuckDBPyConnection) -> list[tuple[int, int]]:
    """Ranges of `seq` holding about MERGE_SLICE_BYTES of staged JSON each (or
    MERGE_SLICE_RECORDS records), from the sizes of blocks of MERGE_BLOCK consecutive records."""
    blocks = con.execute(
        "SELECT seq // $block AS b, sum(strlen(payload)), count(*) FROM pending_records "
        "GROUP BY b ORDER BY b",
        {"block": MERGE_BLOCK},
    ).fetchall()
    slices: list[tuple[int, int]] = []
    start, size, records = None, 0, 0
    for block, block_size, block_records in blocks:
        if start is not None and (
            size + block_size > MERGE_SLICE_BYTES or records + block_records > MERGE_SLICE_RECORDS
        ):
            slices.append((start, block * MERGE_BLOCK))
            start, size, records = None, 0, 0
        if start is None:
            start = block * MERGE_BLOCK
        size += int(block_size or 0)
        records += int(block_records)
    if start is not None:
        slices.append((start, (blocks[-1][0] + 1) * MERGE_BLOCK))
    return slices


def land(
    raw_path: Path,
    batches: Iterable[Batch],
    *,
    full: bool,
    stats: Any = None,
    checkpointing: Checkpointing | None = None,
    memory_limit: str | None = None,
) -> LandingResult:
    """`_land` with garbage collection paced for large pages (see `model.collection`)."""
    with fewer_collections():
        return _land(
            raw_path,
            batches,
            full=full,
            stats=stats,
            checkpointing=checkpointing,
            memory_limit=memory_limit,
        )


def _land(
    raw_path: Path,
    batches: Iterable[Batch],
    *,
    full: bool,
    stats: Any = None,
    checkpointing: Checkpointing | None = None,
    memory_limit: str | None = None,
) -> LandingResult:
    """Consume a connector's batches into the raw store; all of it lands, or none of it.

    Pages are staged in `pending_*` tables as they arrive (committed every few thousand
    records, so memory stays flat however large the source), then merged into `raw_records` in one transaction with the
    cursor. Every `checkpointing.every_pages` connector checkpoints (or `every_seconds`) the
    staged count and the checkpoint are recorded, so a failure after one keeps the staging for
    a resumed fetch (`checkpointing.resume`); a failure before any drops it. Either way the
    last good state stays, the failure is recorded in `fetch_runs`, and the exception
    propagates.
    """
    plan = checkpointing or Checkpointing()
    started = time.perf_counter()
    now = datetime.now(UTC).replace(tzinfo=None)
    result = LandingResult(fetch_id=uuid.uuid4().hex)
    con = open_raw_store(raw_path)
    con.execute("SET preserve_insertion_order = false")
    # DuckDB spills beyond it: flat memory (None: LANDING_MEMORY, see `landing_memory`)
    con.execute(f"SET memory_limit = '{memory_limit or LANDING_MEMORY}'")
    merge_mib = _limit_mib(con)
    resume = plan.resume
    checkpoints = 0
    logs: dict[str, int] = {}  # checkpoint log entries staged so far, by name
    if resume is not None:
        logs = dict(resume.logs)
        _resume_staging(con, resume, logs)
        result.records, result.rejected = resume.records, resume.rejected
        result.record_counts = dict(resume.record_counts)
        checkpoints = resume.checkpoints
        now = datetime.fromisoformat(resume.started_at)
    else:
        con.execute(PENDING_SCHEMA)  # also clears what a crashed or abandoned fetch left behind
    if merge_mib is not None and merge_mib > STAGING_MEMORY_MIB:
        con.execute(f"SET memory_limit = '{STAGING_MEMORY_MIB}MiB'")
    stager = _Stager(con, result.records)
    # the cursor as JSON: as a dict of every item's state it would sit in memory through the merge
    cursor: str | None = None
    batch: Batch | None = None
    census_types: set[str] = set()
    in_transaction = False
    since_commit, committed_at = 0, time.monotonic()
    try:
        for batch in batches:
            if isinstance(batch, Page):
                stager.add(batch.records)
                result.records += len(batch.records)
                for record in batch.records:
                    result.record_counts[record.record_type] = (
                        result.record_counts.get(record.record_type, 0) + 1
                    )
                if batch.cursor is not None:
                    cursor = json.dumps(batch.cursor, default=str)
                if batch.checkpoint is not None:
                    since_commit += 1
                    if (
                        since_commit >= plan.every_pages
                        or time.monotonic() - committed_at >= plan.every_seconds
                    ):
                        checkpoints += 1
                        stager.flush()
                        _save_progress(
                            con, plan, batch.checkpoint, result, checkpoints, now, full, logs
                        )
                        since_commit, committed_at = 0, time.monotonic()
                for listener in progress_listeners:
                    listener(raw_path.stem, result.records)
            elif isinstance(batch, Census):
                _stage_census(con, batch)
                census_types.add(batch.record_type)
            elif isinstance(batch, Rejection):
                con.execute(
                    "INSERT INTO pending_rejections VALUES (?, ?, ?, ?, ?)",
                    [
                        batch.location,
                        batch.column,
                        batch.reason,
                        json.dumps(batch.raw, default=str) if batch.raw is not None else None,
                        result.rejected,
                    ],
                )
                result.rejected += 1
        batch = None
        stager.flush()
        _raise_limit(con, merge_mib)
        return_freed_memory()  # what the fetch freed, before the merge's memory comes on top
        while True:
            con.execute("BEGIN")
            in_transaction = True
            try:
                _merge_pending(con, now, result, census_types)
                con.execute(
                    "INSERT INTO rejections SELECT ?, location, column_name, reason, raw::JSON "
                    "FROM pending_rejections",
                    [result.fetch_id],
                )
                if cursor is not None:
                    con.execute(
                        "INSERT OR REPLACE INTO source_state VALUES ('cursor', ?, ?)",
                        [cursor, now],
                    )
                con.execute("DELETE FROM source_state WHERE key = ?", [PROGRESS_KEY])
                _record_run(con, result, now, "success", full, stats, None, started)
                con.execute("COMMIT")
                in_transaction = False
                break
            except (duckdb.OutOfMemoryException, duckdb.TransactionException) as err:
                _abandon(con)
                in_transaction = False
                if not _grow_memory(con, err):
                    raise
    except BaseException as err:
        if in_transaction:
            _abandon(con)
        kept = checkpoints > 0
        status = "interrupted" if kept else "failed"
        _record_run(
            con, result, now, status, full, stats, redact(f"{type(err).__name__}: {err}"), started
        )
        if not kept:
            con.execute(DROP_PENDING)
        con.close()
        raise
    con.execute(DROP_PENDING)
    con.execute("CHECKPOINT")
    con.close()
    return result


# A statement that runs out of memory (the merge's transaction, or a staging insert whose
# commit cannot pin a block) is rolled back and run again with MEMORY_GROWTH times the limit, up
# to MEMORY_CEILING_MIB: records far larger than the limit was chosen for (an issue whose
# changelog is hundreds of KB) cost memory for that run, never the sync.
MEMORY_GROWTH = 4
MEMORY_CEILING_MIB = 4096
_UNITS = {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "TiB": 1024 * 1024}


def _grow_memory(con: duckdb.DuckDBPyConnection, err: Exception) -> bool:
    """Raise the connection's memory limit after `err` if it was a lack of memory and the
    ceiling allows; False when the error stands."""
    # a COMMIT that cannot pin a block to write says so in a TransactionException
    if not isinstance(err, duckdb.OutOfMemoryException) and "failed to pin block" not in str(err):
        return False
    mebibytes = _limit_mib(con)
    if mebibytes is None or mebibytes >= MEMORY_CEILING_MIB:
        return False
    raised = int(min(mebibytes * MEMORY_GROWTH, MEMORY_CEILING_MIB))
    store = con.execute("SELECT current_database()").fetchone()
    log.warning(
        "%s: landing ran out of memory at %.1f MiB (very large records); going on at %d MiB",
        store[0] if store else "raw store",
        mebibytes,
        raised,
    )
    con.execute(f"SET memory_limit = '{raised}MiB'")
    return True


def _limit_mib(con: duckdb.DuckDBPyConnection) -> float | None:
    """The connection's memory limit in MiB; None when DuckDB reports none it can read."""
    row = con.execute("SELECT current_setting('memory_limit')").fetchone()
    number, _, unit = str(row[0] if row else "").partition(" ")
    try:
        return float(number) * _UNITS[unit]
    except (ValueError, KeyError):
        return None


def _raise_limit(con: duckdb.DuckDBPyConnection, mebibytes: float | None) -> None:
    """Back to the merge's limit after staging (unless a staging insert raised it higher)."""
    current = _limit_mib(con)
    if mebibytes is not None and current is not None and current < mebibytes:
        con.execute(f"SET memory_limit = '{mebibytes:.1f}MiB'")


def _abandon(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the merge's transaction; a failed COMMIT has already ended it."""
    with contextlib.suppress(duckdb.TransactionException):
        con.execute("ROLLBACK")


def _record_run(
    con: duckdb.DuckDBPyConnection,
    result: LandingResult,
    started_at: datetime,
    status: str,
    full: bool,
    stats: Any,
    error: str | None,
    started: float,
) -> None:
    result.seconds = time.perf_counter() - started
    result.requests = int(getattr(stats, "requests", 0))
    result.retries = int(getattr(stats, "retries", 0))
    con.execute(
        "INSERT INTO fetch_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            result.fetch_id,
            started_at,
            datetime.now(UTC).replace(tzinfo=None),
            status,
            full,
            result.records,
            result.deleted,
            result.rejected,
            result.requests,
            result.retries,
            error,
        ],
    )
