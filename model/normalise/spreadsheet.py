"""Spreadsheet rows (CSV, Excel, Google Sheets) -> stg_items and stg_references.

The connector already parsed every row (`payload.parsed`), so this is one set-based pass over
the raw store. Sheets keep no status history: changes between syncs are found by the shared
history step from successive snapshots.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from handoff.config import CsvSource, ExcelSource, GoogleSheetsSource, SheetSourceBase

GOOGLE_SHEET_LINK = "https://docs.google.com/spreadsheets/d/{id}/edit"

ITEMS_SQL = """
INSERT INTO stg_items (
    item_id, source, tool, source_key, url, title, item_type, is_milestone, status,
    status_category, department, owner_email, owner_name, due_date, start_date, created_at,
    project, is_deleted, synced_at
)
SELECT
    $source || ':' || record_key,
    $source,
    $tool,
    record_key,
    coalesce(
        payload ->> '$.parsed.url',
        replace(replace(replace($link, '{sheet}', payload ->> '$.sheet'),
                        '{row}', CAST(payload -> '$.row' AS VARCHAR)),
                '{gid}', coalesce(CAST(payload -> '$.sheet_id' AS VARCHAR), '0'))
    ),
    payload ->> '$.parsed.title',
    payload ->> '$.parsed.item_type',
    coalesce(CAST(payload -> '$.parsed.is_milestone' AS BOOLEAN), false),
    payload ->> '$.parsed.status',
    payload ->> '$.parsed.status_category',
    payload ->> '$.parsed.department',
    payload ->> '$.parsed.owner_email',
    payload ->> '$.parsed.owner',
    TRY_CAST(payload ->> '$.parsed.due' AS DATE),
    TRY_CAST(payload ->> '$.parsed.start' AS DATE),
    first_seen,
    payload ->> '$.sheet',
    is_deleted,
    $synced_at
FROM {raw}.raw_records
WHERE record_type = 'row'
"""

REFERENCES_SQL = """
INSERT INTO stg_references (item_id, ref, ref_kind, direction, kind, origin, link_type)
SELECT item_id, ref, 'text', direction, 'depends_on', 'sheet_column', NULL
FROM (
    -- "depends on" names upstream items; "successors" / "blocks" names downstream ones
    SELECT $source || ':' || record_key AS item_id, 'upstream' AS direction,
           unnest(CAST(payload -> '$.parsed.depends_on' AS VARCHAR[])) AS ref
    FROM {raw}.raw_records
    WHERE record_type = 'row' AND NOT is_deleted
    UNION ALL
    SELECT $source || ':' || record_key, 'downstream',
           unnest(CAST(coalesce(payload -> '$.parsed.successors', '[]') AS VARCHAR[]))
    FROM {raw}.raw_records
    WHERE record_type = 'row' AND NOT is_deleted
)
WHERE trim(ref) <> ''
"""

REPORTS_SQL = """
INSERT INTO stg_status_reports (subject_id, subject_kind, source, project, reported_status,
                                origin, rag)
SELECT $source || ':' || record_key, 'item', $source, payload ->> '$.sheet',
       payload ->> '$.parsed.rag', 'sheet_column',
       map_extract(MAP($keys::VARCHAR[], $values::VARCHAR[]),
                   lower(trim(payload ->> '$.parsed.rag')))[1]
FROM {raw}.raw_records
WHERE record_type = 'row' AND NOT is_deleted AND (payload ->> '$.parsed.rag') IS NOT NULL
"""


def row_link(source: SheetSourceBase) -> str:
    """Link template for a row: the configured `url` ({sheet}, {row}), else the file or sheet."""
    if source.url:
        return source.url
    if isinstance(source, GoogleSheetsSource):
        return GOOGLE_SHEET_LINK.format(id=source.spreadsheet_id) + "#gid={gid}&range=A{row}"
    if isinstance(source, CsvSource | ExcelSource):
        return Path(source.path).resolve().as_uri() + "#{sheet}!A{row}"
    return ""


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def normalise(
    con: duckdb.DuckDBPyConnection, source: SheetSourceBase, raw: str, synced_at: datetime
) -> None:
    """Fill stg_items (tombstones included, flagged) and stg_references for one sheet source."""
    params = {"source": source.name, "tool": source.kind, "synced_at": synced_at}
    con.execute(
        ITEMS_SQL.replace("{raw}", quote_identifier(raw)), {**params, "link": row_link(source)}
    )
    con.execute(REFERENCES_SQL.replace("{raw}", quote_identifier(raw)), {"source": source.name})
    rag_map = {k.strip().lower(): v for k, v in source.rag_map.items()}
    con.execute(
        REPORTS_SQL.replace("{raw}", quote_identifier(raw)),
        {"source": source.name, "keys": list(rag_map), "values": list(rag_map.values())},
    )
