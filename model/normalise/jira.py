"""Jira raw records (issue, changelog, remotelink, status, meta) -> the staging tables.

One set-based pass over DuckDB's JSON functions:
- `stg_items`: one row per issue (tombstones included), plus fix versions as milestone items
  when `source.milestones` is "versions" or "both" (item id `<source>:version/<id>`). A story
  reaches its epic through `parent` on Cloud and through the Epic Link field on Data Center
  (which has no issue type hierarchy: an epic is an "Epic" or the target of an Epic Link);
  links point at `site_url` (default `url`, which may be an API gateway);
- `stg_references`: issue links in the right direction for both ends of every link type,
  remote-link URLs (direction from the relationship text), and summary/description text that
  names keys or URLs (the shared resolver reads those): ADF (Cloud v3) as its text, link and
  card targets; wiki markup (Data Center) as written, so `[OPS-12|https://…/browse/OPS-12]`
  yields both the key and the URL;
- `stg_status_changes`: every status transition of the landed changelogs, with categories
  from the site's statuses.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import duckdb

from handoff.config import JiraSource

FIELD_ID = re.compile(r"^(customfield_\d+|[A-Za-z][A-Za-z0-9_]*)$")
NEEDS_PHRASE = r"^(depends on|is blocked by|requires|needs|is caused by|is implemented by)"
KEY_OR_URL = r"[A-Z][A-Z0-9_]{1,9}-[0-9]+|https?://"
TEXT_IN_ADF = r'"(?:text|href|url)":"((?:[^"\\]|\\.)*)"'


def _ts(expr: str) -> str:
    """A Jira timestamp (`2025-01-10T09:15:00.000+0000`) as a UTC TIMESTAMP."""
    return f"timezone('UTC', try_strptime({expr}, '%Y-%m-%dT%H:%M:%S.%g%z'))"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _custom_value(field_id: str) -> str:
    """The readable value of a custom field: option value, user name, or the scalar itself."""
    path = f"$.fields.{field_id}"
    return (
        f"coalesce(p ->> '{path}.value', p ->> '{path}.displayName', p ->> '{path}.name', "
        f"CASE WHEN json_type(p -> '{path}') NOT IN ('OBJECT', 'ARRAY', 'NULL') "
        f"THEN p ->> '{path}' END)"
    )


def _custom_fields(con: duckdb.DuckDBPyConnection, raw: str) -> dict[str, str]:
    row = con.execute(
        f"SELECT payload FROM {raw}.raw_records WHERE record_type = 'meta' "
        "AND record_key = 'custom_fields' AND NOT is_deleted"
    ).fetchone()
    mapping: dict[str, Any] = json.loads(row[0]) if row and row[0] else {}
    return {k: v for k, v in mapping.items() if isinstance(v, str) and FIELD_ID.match(v)}


def _epic_link_field(con: duckdb.DuckDBPyConnection, raw: str) -> str | None:
    """The Epic Link field id the connector found on Data Center (None on Cloud)."""
    row = con.execute(
        f"SELECT payload ->> '$.field' FROM {raw}.raw_records WHERE record_type = 'meta' "
        "AND record_key = 'epic_link' AND NOT is_deleted"
    ).fetchone()
    field = row[0] if row else None
    return field if isinstance(field, str) and FIELD_ID.match(field) else None


def normalise(
    con: duckdb.DuckDBPyConnection, source: JiraSource, raw: str, synced_at: datetime
) -> None:
    """Fill the staging tables from the attached raw store `raw` of Jira source `source`."""
    custom = _custom_fields(con, raw)
    epic_link = _epic_link_field(con, raw)
    params = {
        "source": source.name,
        "site": str(getattr(source, "site_url", None) or source.url).rstrip("/"),
        "synced_at": synced_at,
        "default_department": getattr(source, "department", None),
    }
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW jira_issue AS
        SELECT record_key AS key, {_lit(source.name + ":")} || record_key AS item_id,
               is_deleted, payload AS p
        FROM {raw}.raw_records WHERE record_type = 'issue'
        """
    )  # a view, not a copy: payloads are read from the raw store as needed
    try:
        _items(con, raw, source, custom, epic_link, params)
        _versions(con, source, params)
        _references(con, raw, params)
        _status_changes(con, raw, params)
        _history_dates(con, raw, params)
        _health(con, custom, params)
    finally:
        con.execute("DROP VIEW IF EXISTS jira_issue")


def _items(
    con: duckdb.DuckDBPyConnection,
    raw: str,
    source: JiraSource,
    custom: dict[str, str],
    epic_link: str | None,
    params: dict[str, Any],
) -> None:
    milestones = getattr(source, "milestones", "epics")
    parent_is_epic = (
        "(coalesce(p ->> '$.fields.parent.fields.issuetype.name' = 'Epic', false) "
        "OR coalesce(TRY_CAST(p ->> '$.fields.parent.fields.issuetype.hierarchyLevel' AS INT) "
        "= 1, false))"
    )
    # Data Center: the Epic Link field holds the epic's key (a string)
    epic_key = f"nullif(p ->> '$.fields.{epic_link}', '')" if epic_link else "NULL"
    epic = (
        f"CASE WHEN {parent_is_epic} THEN $source || ':' || (p ->> '$.fields.parent.key') "
        f"WHEN {epic_key} IS NOT NULL THEN $source || ':' || {epic_key} END"
    )
    version = (
        "CASE WHEN (p ->> '$.fields.fixVersions[0].id') IS NOT NULL "
        "THEN $source || ':version/' || (p ->> '$.fields.fixVersions[0].id') END"
    )
    milestone_key = {
        "epics": epic,
        "versions": version,
        "both": f"coalesce({version}, {epic})",
    }.get(milestones, "NULL")
    epic_targets = (
        f"i.key IN (SELECT p ->> '$.fields.{epic_link}' FROM jira_issue "
        f"WHERE NOT is_deleted AND (p ->> '$.fields.{epic_link}') IS NOT NULL)"
        if epic_link
        else "false"
    )
    is_epic = (
        "(coalesce(p ->> '$.fields.issuetype.name' = 'Epic', false) "
        "OR coalesce(TRY_CAST(p ->> '$.fields.issuetype.hierarchyLevel' AS INT) = 1, false) "
        f"OR {epic_targets})"
    )
    is_milestone = is_epic if milestones in ("epics", "both") else "false"
    department = _custom_value(custom["department"]) if "department" in custom else "NULL"
    start = (
        f"TRY_CAST({_custom_value(custom['start_date'])} AS DATE)"
        if "start_date" in custom
        else "NULL"
    )
    custom_json = (
        "json_object("
        + ", ".join(f"{_lit(k)}, p -> '$.fields.{v}'" for k, v in custom.items())
        + ")"
        if custom
        else "NULL"
    )
    con.execute(
        f"""
        INSERT INTO stg_items (
            item_id, source, tool, source_key, url, title, item_type, is_milestone, status,
            status_category, department, owner_email, owner_name, owner_account, due_date,
            start_date, created_at, updated_at, completed_at, status_changed_at, parent_key,
            milestone_key, project, labels, components, custom, is_deleted, synced_at
        )
        WITH last_change AS (
            SELECT record_key AS key, max({_ts("h ->> '$.created'")}) AS changed_at
            FROM (
                SELECT record_key, unnest(json_extract(payload, '$.histories[*]')) AS h
                FROM {raw}.raw_records WHERE record_type = 'changelog'
            )
            GROUP BY record_key
        )
        SELECT
            i.item_id, $source, 'jira', i.key, $site || '/browse/' || i.key,
            p ->> '$.fields.summary',
            p ->> '$.fields.issuetype.name',
            {is_milestone},
            p ->> '$.fields.status.name',
            CASE p ->> '$.fields.status.statusCategory.key'
                WHEN 'new' THEN 'todo' WHEN 'indeterminate' THEN 'in_progress'
                WHEN 'done' THEN 'done' END,
            coalesce({department}, $default_department),
            p ->> '$.fields.assignee.emailAddress',
            p ->> '$.fields.assignee.displayName',
            coalesce(p ->> '$.fields.assignee.accountId', p ->> '$.fields.assignee.key',
                     p ->> '$.fields.assignee.name'),
            TRY_CAST(p ->> '$.fields.duedate' AS DATE),
            {start},
            {_ts("p ->> '$.fields.created'")},
            {_ts("p ->> '$.fields.updated'")},
            {_ts("p ->> '$.fields.resolutiondate'")},
            coalesce(c.changed_at, {_ts("p ->> '$.fields.created'")}),
            $source || ':' || coalesce(p ->> '$.fields.parent.key', {epic_key}),
            {milestone_key},
            p ->> '$.fields.project.key',
            coalesce(TRY_CAST(p -> '$.fields.labels' AS VARCHAR[]), []),
            coalesce(json_extract_string(p, '$.fields.components[*].name'), []),
            {custom_json},
            i.is_deleted,
            $synced_at
        FROM jira_issue i LEFT JOIN last_change c USING (key)
        """,
        params,
    )


def _versions(con: duckdb.DuckDBPyConnection, source: JiraSource, params: dict[str, Any]) -> None:
    """Fix versions named by live issues become milestone items of their own."""
    if getattr(source, "milestones", "epics") not in ("versions", "both"):
        return
    con.execute(
        """
        INSERT INTO stg_items (
            item_id, source, tool, source_key, url, title, item_type, is_milestone, status,
            status_category, due_date, project, is_deleted, synced_at
        )
        SELECT DISTINCT ON (vid)
            $source || ':version/' || vid, $source, 'jira', 'version/' || vid,
            $site || '/projects/' || project || '/versions/' || vid,
            v ->> '$.name', 'Version', true,
            CASE WHEN released THEN 'Released' ELSE 'Unreleased' END,
            CASE WHEN released THEN 'done' ELSE 'todo' END,
            TRY_CAST(v ->> '$.releaseDate' AS DATE), project, false, $synced_at
        FROM (
            SELECT v, v ->> '$.id' AS vid, project,
                   coalesce(TRY_CAST(v ->> '$.released' AS BOOLEAN), false) AS released
            FROM (
                SELECT p ->> '$.fields.project.key' AS project,
                       unnest(json_extract(p, '$.fields.fixVersions[*]')) AS v
                FROM jira_issue WHERE NOT is_deleted
            )
        )
        WHERE vid IS NOT NULL
        ORDER BY vid
        """,
        {k: params[k] for k in ("source", "site", "synced_at")},
    )


def _references(con: duckdb.DuckDBPyConnection, raw: str, params: dict[str, Any]) -> None:
    con.execute(
        f"""
        INSERT INTO stg_references (item_id, ref, ref_kind, direction, kind, origin, link_type)
        -- issue links: "X <outward> Y" when Y is the outwardIssue, "X <inward> Y" otherwise
        SELECT item_id,
               $source || ':' || coalesce(l ->> '$.outwardIssue.key', l ->> '$.inwardIssue.key'),
               'item_id',
               CASE WHEN ((l -> '$.outwardIssue') IS NOT NULL)
                         = regexp_matches(lower(coalesce(l ->> '$.type.outward', '')),
                                          {_lit(NEEDS_PHRASE)})
                    THEN 'upstream' ELSE 'downstream' END,
               CASE WHEN lower(concat_ws(' ', l ->> '$.type.name', l ->> '$.type.outward'))
                         LIKE '%block%' THEN 'blocks'
                    WHEN lower(concat_ws(' ', l ->> '$.type.name', l ->> '$.type.outward'))
                         LIKE '%depend%' THEN 'depends_on'
                    ELSE 'relates' END,
               'jira_link',
               l ->> '$.type.name'
        FROM (
            SELECT item_id, unnest(json_extract(p, '$.fields.issuelinks[*]')) AS l
            FROM jira_issue WHERE NOT is_deleted
        )
        WHERE coalesce(l ->> '$.outwardIssue.key', l ->> '$.inwardIssue.key') IS NOT NULL
          -- deleting an issue does not touch the other end: drop links to tombstones
          AND coalesce(l ->> '$.outwardIssue.key', l ->> '$.inwardIssue.key') NOT IN (
              SELECT key FROM jira_issue WHERE is_deleted)
        UNION ALL
        -- remote links: the relationship text says which side waits
        SELECT i.item_id, l ->> '$.object.url', 'url',
               CASE WHEN rel LIKE 'is blocked by%' OR rel LIKE 'depends on%'
                         OR rel LIKE 'requires%' THEN 'upstream'
                    WHEN rel LIKE 'blocks%' OR rel LIKE 'is depended on by%'
                         OR rel LIKE 'is required by%' THEN 'downstream'
                    ELSE 'upstream' END,
               CASE WHEN rel LIKE '%block%' THEN 'blocks'
                    WHEN rel LIKE '%depend%' OR rel LIKE '%require%' THEN 'depends_on'
                    ELSE 'relates' END,
               'jira_remote_link',
               coalesce(l ->> '$.relationship', l ->> '$.application.name')
        FROM (
            SELECT record_key AS key, l,
                   lower(trim(coalesce(l ->> '$.relationship', ''))) AS rel
            FROM (
                SELECT record_key, unnest(json_extract(payload, '$.links[*]')) AS l
                FROM {raw}.raw_records WHERE record_type = 'remotelink' AND NOT is_deleted
            )
        ) r
        JOIN jira_issue i ON i.key = r.key AND NOT i.is_deleted
        WHERE (l ->> '$.object.url') IS NOT NULL
        UNION ALL
        -- summary and description text that names keys or URLs
        SELECT item_id, text, 'text', 'upstream', 'depends_on', 'text_reference', NULL
        FROM (
            SELECT item_id, trim(concat_ws(' ', p ->> '$.fields.summary',
                CASE json_type(p -> '$.fields.description')
                    WHEN 'VARCHAR' THEN p ->> '$.fields.description'
                    WHEN 'OBJECT' THEN array_to_string(regexp_extract_all(
                        CAST(p -> '$.fields.description' AS VARCHAR), {_lit(TEXT_IN_ADF)}, 1), ' ')
                END)) AS text
            FROM jira_issue WHERE NOT is_deleted
        )
        WHERE regexp_matches(text, {_lit(KEY_OR_URL)})
        """,
        {"source": params["source"]},
    )


def _status_changes(con: duckdb.DuckDBPyConnection, raw: str, params: dict[str, Any]) -> None:
    con.execute(
        f"""
        INSERT INTO stg_status_changes (
            item_id, changed_at, from_status, to_status, from_category, to_category, source
        )
        WITH categories AS (
            SELECT id, any_value(category) AS category FROM (
                SELECT record_key AS id,
                       CASE coalesce(payload ->> '$.statusCategory.key',
                                     payload ->> '$.statusCategory')
                           WHEN 'new' THEN 'todo' WHEN 'TODO' THEN 'todo'
                           WHEN 'indeterminate' THEN 'in_progress'
                           WHEN 'IN_PROGRESS' THEN 'in_progress'
                           WHEN 'done' THEN 'done' WHEN 'DONE' THEN 'done' END AS category
                FROM {raw}.raw_records WHERE record_type = 'status'
                UNION ALL
                SELECT p ->> '$.fields.status.id',
                       CASE p ->> '$.fields.status.statusCategory.key'
                           WHEN 'new' THEN 'todo' WHEN 'indeterminate' THEN 'in_progress'
                           WHEN 'done' THEN 'done' END
                FROM jira_issue
            )
            WHERE category IS NOT NULL
            GROUP BY id
        ),
        items AS (
            SELECT key, changed, unnest(json_extract(h, '$.items[*]')) AS it
            FROM (
                SELECT record_key AS key, h, {_ts("h ->> '$.created'")} AS changed
                FROM (
                    SELECT record_key, unnest(json_extract(payload, '$.histories[*]')) AS h
                    FROM {raw}.raw_records WHERE record_type = 'changelog'
                )
            )
        )
        SELECT i.item_id, c.changed, c.it ->> '$.fromString', c.it ->> '$.toString',
               f.category, t.category, 'jira_changelog'
        FROM items c
        JOIN jira_issue i ON i.key = c.key AND NOT i.is_deleted
        LEFT JOIN categories f ON f.id = c.it ->> '$.from'
        LEFT JOIN categories t ON t.id = c.it ->> '$.to'
        WHERE coalesce(c.it ->> '$.fieldId', c.it ->> '$.field') = 'status'
          AND c.changed IS NOT NULL
        """
    )


def _history_dates(con: duckdb.DuckDBPyConnection, raw: str, params: dict[str, Any]) -> None:
    """Due-date moves (`duedate`) and the day each link was added (`Link`) from the changelogs.

    A Link item's text says the direction: "This issue is blocked by OPS-2" makes OPS-2 the
    upstream; "This issue blocks OPS-2" makes this issue the upstream."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _jira_history AS
        SELECT key, changed, coalesce(it ->> '$.fieldId', it ->> '$.field') AS field,
               it ->> '$.from' AS from_value, it ->> '$.to' AS to_value,
               lower(coalesce(it ->> '$.toString', '')) AS to_text
        FROM (
            SELECT key, changed, unnest(json_extract(h, '$.items[*]')) AS it
            FROM (
                SELECT record_key AS key, h, {_ts("h ->> '$.created'")} AS changed
                FROM (
                    SELECT record_key, unnest(json_extract(payload, '$.histories[*]')) AS h
                    FROM {raw}.raw_records WHERE record_type = 'changelog'
                )
            )
        )
        WHERE changed IS NOT NULL
        """
    )
    con.execute(
        """
        INSERT INTO stg_due_date_changes
        SELECT i.item_id, h.changed, TRY_CAST(left(h.from_value, 10) AS DATE),
               TRY_CAST(left(h.to_value, 10) AS DATE), 'jira_changelog'
        FROM _jira_history h JOIN jira_issue i ON i.key = h.key AND NOT i.is_deleted
        WHERE lower(h.field) = 'duedate'
        """
    )
    con.execute(
        f"""
        INSERT INTO stg_dependency_dates
        SELECT CASE WHEN needs THEN other ELSE own END, CASE WHEN needs THEN own ELSE other END,
               changed, 'jira_changelog'
        FROM (
            SELECT i.item_id AS own, $source || ':' || h.to_value AS other, h.changed,
                   regexp_matches(regexp_replace(h.to_text, '^this issue ', ''),
                                  {_lit(NEEDS_PHRASE)}) AS needs
            FROM _jira_history h JOIN jira_issue i ON i.key = h.key AND NOT i.is_deleted
            WHERE lower(h.field) = 'link' AND h.to_value IS NOT NULL
        )
        """,
        {"source": params["source"]},
    )
    con.execute("DROP TABLE _jira_history")


def _health(con: duckdb.DuckDBPyConnection, custom: dict[str, str], params: dict[str, Any]) -> None:
    """The health/RAG field named `health` in `custom_fields`: a report on the issue."""
    if "health" not in custom:
        return
    con.execute(
        f"""
        INSERT INTO stg_status_reports (subject_id, subject_kind, source, project,
                                        reported_status, origin)
        SELECT item_id, 'item', $source, p ->> '$.fields.project.key',
               {_custom_value(custom["health"])}, 'jira_field'
        FROM jira_issue WHERE NOT is_deleted
        """,
        {"source": params["source"]},
    )
