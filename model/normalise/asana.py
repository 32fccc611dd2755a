"""Asana raw records -> staging: items, dependency/text references, status changes from stories.

A task can live in several projects. Its status, section and project come from its *home*
membership: the first of its projects in the source's `projects` order (matched by gid or name);
when `projects` is empty (the whole workspace is synced), the oldest project (smallest gid).
Asana's `memberships` order says nothing about which project was synced, so it is never used.
A task in two synced projects is one item, homed by that rule; section moves recorded in its
other projects do not enter its status history.

Status is the section of the task's home membership, mapped to a category by `section_status`
(then the shared defaults: "In progress"/"Doing" -> in_progress, "Done" -> done, else todo);
a completed task is "Completed"/done whatever its section, a subtask without a section "Open".
Custom fields are picked by name through `custom_fields` (model name -> field name; defaults
department -> "Department" and jira_key -> "Jira key").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from handoff.config import DEFAULT_STATUS_MAP, AsanaSource

DEFAULT_FIELDS = {"department": "Department", "jira_key": "Jira key"}


def _ts(expr: str) -> str:
    """An Asana timestamp (ISO 8601 with Z) as a UTC TIMESTAMP."""
    return f"(try_cast({expr} AS TIMESTAMPTZ) AT TIME ZONE 'UTC')"


def _category(section: str) -> str:
    """Configured or default map first; then keywords common in Asana section names."""
    return (
        f"coalesce(map_extract(MAP($status_keys::VARCHAR[], $status_values::VARCHAR[]), "
        f"lower({section}))[1], CASE "
        f"WHEN regexp_matches(lower({section}), 'progress|doing|review|block|wait|started') "
        f"THEN 'in_progress' "
        f"WHEN regexp_matches(lower({section}), 'done|complete|closed|shipped|launched') "
        f"THEN 'done' ELSE 'todo' END)"
    )


def normalise(
    con: duckdb.DuckDBPyConnection, source: AsanaSource, raw: str, synced_at: datetime
) -> None:
    """Fill stg_items, stg_references and stg_status_changes from the attached raw store."""
    status_map = {**DEFAULT_STATUS_MAP, **{k.lower(): v for k, v in source.section_status.items()}}
    fields = {**DEFAULT_FIELDS, **source.custom_fields}
    params = {
        "src": source.name,
        "status_keys": list(status_map),
        "status_values": list(status_map.values()),
        "synced_at": synced_at,
    }
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _asana_fields AS
        SELECT unnest($models) AS model, lower(unnest($names)) AS field
        """,
        {"models": list(fields), "names": list(fields.values())},
    )
    _home_memberships(con, source, raw)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _asana_tasks AS
        SELECT r.record_key AS gid, r.is_deleted, r.payload AS p, h.section,
               h.section_gid, h.project, h.project_gid,
               coalesce(r.payload->>'completed' = 'true', false) AS completed
        FROM {raw}.raw_records r LEFT JOIN _asana_home h ON h.gid = r.record_key
        WHERE r.record_type IN ('task', 'subtask')
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _asana_custom AS
        SELECT t.gid, json_group_object(f.model, cf->>'display_value') AS custom,
               max(CASE WHEN f.model = 'jira_key' THEN cf->>'display_value' END) AS jira_key,
               max(CASE WHEN f.model = 'jira_key' THEN cf->>'name' END) AS jira_field
        FROM _asana_tasks t,
             unnest(CAST(coalesce(t.p->'custom_fields', '[]') AS JSON[])) AS u(cf)
        JOIN _asana_fields f ON lower(cf->>'name') = f.field
        GROUP BY t.gid
        """
    )
    _status_changes(con, raw, params)
    con.execute(
        f"""
        INSERT INTO stg_items BY NAME
        SELECT $src || ':' || t.gid AS item_id, $src AS source, 'asana' AS tool,
               t.gid AS source_key, t.p->>'permalink_url' AS url, t.p->>'name' AS title,
               CASE WHEN t.p->>'resource_subtype' IN ('milestone', 'approval')
                    THEN t.p->>'resource_subtype'
                    WHEN t.p->'parent'->>'gid' IS NOT NULL THEN 'subtask' ELSE 'task' END
                 AS item_type,
               coalesce(t.p->>'resource_subtype' = 'milestone', false) AS is_milestone,
               CASE WHEN t.completed THEN 'Completed' ELSE coalesce(t.section, 'Open') END
                 AS status,
               CASE WHEN t.completed THEN 'done' ELSE {_category("coalesce(t.section, 'Open')")}
                 END AS status_category,
               coalesce(c.custom->>'department', pc.custom->>'department', $department)
                 AS department,
               t.p->'assignee'->>'email' AS owner_email,
               t.p->'assignee'->>'name' AS owner_name,
               t.p->'assignee'->>'gid' AS owner_account,
               try_cast(t.p->>'due_on' AS DATE) AS due_date,
               try_cast(t.p->>'start_on' AS DATE) AS start_date,
               {_ts("t.p->>'created_at'")} AS created_at,
               {_ts("t.p->>'modified_at'")} AS updated_at,
               {_ts("t.p->>'completed_at'")} AS completed_at,
               sc.last_change AS status_changed_at,
               CASE WHEN t.p->'parent'->>'gid' IS NOT NULL
                    THEN $src || ':' || (t.p->'parent'->>'gid') END AS parent_key,
               t.project AS project, t.project_gid AS project_id,
               CAST(json_extract_string(t.p, '$.tags[*].name') AS VARCHAR[]) AS labels,
               c.custom AS custom, t.is_deleted AS is_deleted, $synced_at AS synced_at
        FROM _asana_tasks t
        LEFT JOIN _asana_custom c USING (gid)
        LEFT JOIN _asana_custom pc ON pc.gid = t.p->'parent'->>'gid'
        LEFT JOIN (SELECT gid, max(changed_at) AS last_change FROM _asana_changes GROUP BY gid)
             sc USING (gid)
        """,
        {**params, "department": source.department},
    )
    _references(con, params)
    _story_dates(con, raw, params)
    _status_updates(con, raw, params)
    for table in (
        "_asana_fields",
        "_asana_tasks",
        "_asana_custom",
        "_asana_changes",
        "_asana_home",
    ):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _home_memberships(con: duckdb.DuckDBPyConnection, source: AsanaSource, raw: str) -> None:
    """`_asana_home`: each task's home membership (see the module docstring)."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _asana_home AS
        WITH members AS (
            SELECT r.record_key AS gid, m->'project'->>'gid' AS project_gid,
                   m->'project'->>'name' AS project, m->'section'->>'gid' AS section_gid,
                   m->'section'->>'name' AS section
            FROM {raw}.raw_records r,
                 unnest(CAST(coalesce(r.payload->'memberships', '[]') AS JSON[])) AS u(m)
            WHERE r.record_type IN ('task', 'subtask')
        ),
        ranked AS (
            SELECT *, CASE WHEN len($projects::VARCHAR[]) = 0 THEN lpad(project_gid, 40, '0')
                           ELSE lpad(CAST(least(
                               coalesce(list_position($projects::VARCHAR[], project_gid), 1e9),
                               coalesce(list_position($projects::VARCHAR[], project), 1e9))
                               AS BIGINT)::VARCHAR, 40, '0') END AS rank
            FROM members
        )
        SELECT gid, arg_min(project_gid, rank) AS project_gid, arg_min(project, rank) AS project,
               arg_min(section_gid, rank) AS section_gid, arg_min(section, rank) AS section
        FROM ranked
        WHERE len($projects::VARCHAR[]) = 0 OR list_contains($projects::VARCHAR[], project_gid)
           OR list_contains($projects::VARCHAR[], project)
        GROUP BY gid
        """,
        {"projects": list(source.projects)},
    )


def _references(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> None:
    """Native dependencies (resolved when both ends are in this source) and raw text refs."""
    con.execute(
        """
        INSERT INTO stg_references BY NAME
        WITH live AS (SELECT gid, p FROM _asana_tasks WHERE NOT is_deleted),
        links AS (
            SELECT l.gid, 'upstream' AS direction, 'dependency' AS link_type,
                   u.d->>'gid' AS other
            FROM live l, unnest(CAST(coalesce(l.p->'dependencies', '[]') AS JSON[])) AS u(d)
            UNION ALL
            SELECT l.gid, 'downstream', 'dependent', u.d->>'gid'
            FROM live l, unnest(CAST(coalesce(l.p->'dependents', '[]') AS JSON[])) AS u(d)
        )
        SELECT $src || ':' || k.gid AS item_id,
               CASE WHEN o.gid IS NOT NULL THEN $src || ':' || k.other ELSE k.other END AS ref,
               CASE WHEN o.gid IS NOT NULL THEN 'item_id' ELSE 'asana_gid' END AS ref_kind,
               k.direction, 'blocks' AS kind, 'asana_dependency' AS origin, k.link_type
        FROM links k LEFT JOIN live o ON o.gid = k.other
        -- a dependent inside this source already states the edge from its own side
        WHERE k.direction = 'upstream' OR o.gid IS NULL
        UNION ALL
        SELECT $src || ':' || c.gid, trim(c.jira_key), 'text', 'upstream', 'depends_on',
               'custom_field', c.jira_field
        FROM _asana_custom c JOIN live USING (gid)
        WHERE nullif(trim(c.jira_key), '') IS NOT NULL
        UNION ALL
        SELECT $src || ':' || gid, p->>'notes', 'text', 'upstream', 'depends_on',
               'text_reference', 'notes'
        FROM live WHERE nullif(trim(p->>'notes'), '') IS NOT NULL
        """,
        {"src": params["src"]},
    )


def _status_changes(con: duckdb.DuckDBPyConnection, raw: str, params: dict[str, Any]) -> None:
    """Section moves and (in)completion from stories; the section in force at a completion is
    the one the last earlier move went to (or the first later move came from)."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _asana_stories AS
        SELECT r.record_key AS gid, s->>'resource_subtype' AS kind,
               {_ts("s->>'created_at'")} AS story_at,
               s->'old_section'->>'name' AS old_section, s->'new_section'->>'name' AS new_section
        FROM {raw}.raw_records r
        JOIN _asana_tasks t ON t.gid = r.record_key,
             unnest(CAST(coalesce(r.payload->'data', '[]') AS JSON[])) AS u(s)
        LEFT JOIN {raw}.raw_records sec
               ON sec.record_type = 'section' AND sec.record_key = s->'new_section'->>'gid'
        WHERE r.record_type = 'stories' AND NOT r.is_deleted
          AND s->>'resource_subtype' IN ('section_changed', 'marked_complete',
                                         'marked_incomplete')
          -- a move in another of the task's projects is not a move of its status
          AND (s->>'resource_subtype' <> 'section_changed' OR t.project_gid IS NULL
               OR sec.record_key IS NULL OR sec.payload->'project'->>'gid' = t.project_gid)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _asana_changes AS
        WITH moves AS (SELECT gid, story_at, old_section, new_section FROM _asana_stories
                       WHERE kind = 'section_changed' AND story_at IS NOT NULL),
        first_move AS (SELECT gid, arg_min(old_section, story_at) AS first_section FROM moves
                       GROUP BY gid),
        completions AS (SELECT * FROM _asana_stories
                        WHERE kind IN ('marked_complete', 'marked_incomplete')
                          AND story_at IS NOT NULL),
        placed AS (
            SELECT c.gid, c.story_at, c.kind,
                   coalesce(m.new_section, f.first_section, t.section, 'Open') AS section
            FROM completions c
            ASOF LEFT JOIN moves m ON c.gid = m.gid AND c.story_at >= m.story_at
            LEFT JOIN first_move f ON f.gid = c.gid
            JOIN _asana_tasks t ON t.gid = c.gid
        )
        SELECT gid, story_at AS changed_at, old_section AS from_status, new_section AS to_status,
               {_category("old_section")} AS from_category,
               {_category("new_section")} AS to_category
        FROM moves
        UNION ALL
        SELECT gid, story_at,
               CASE WHEN kind = 'marked_complete' THEN section ELSE 'Completed' END,
               CASE WHEN kind = 'marked_complete' THEN 'Completed' ELSE section END,
               CASE WHEN kind = 'marked_complete' THEN {_category("section")} ELSE 'done' END,
               CASE WHEN kind = 'marked_complete' THEN 'done' ELSE {_category("section")} END
        FROM placed
        UNION ALL
        -- a task completed before the first sync has no stories landed: its completion time
        -- is its last status change, from the section it sits in
        SELECT t.gid, {_ts("t.p->>'completed_at'")},
               coalesce(t.section, 'Open'), 'Completed',
               {_category("coalesce(t.section, 'Open')")}, 'done'
        FROM _asana_tasks t
        WHERE t.completed AND NOT t.is_deleted AND t.p->>'completed_at' IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM {raw}.raw_records r
                          WHERE r.record_type = 'stories' AND r.record_key = t.gid
                            AND NOT r.is_deleted)
        """,
        {"status_keys": params["status_keys"], "status_values": params["status_values"]},
    )
    con.execute(
        """
        INSERT INTO stg_status_changes BY NAME
        SELECT $src || ':' || gid AS item_id, changed_at, from_status, to_status,
               from_category, to_category, 'asana_story' AS source
        FROM _asana_changes
        """,
        {"src": params["src"]},
    )
    con.execute("DROP TABLE IF EXISTS _asana_stories")


def _story_dates(con: duckdb.DuckDBPyConnection, raw: str, params: dict[str, Any]) -> None:
    """Due-date moves and the day a dependency was added, from the tasks' stories."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _asana_dated AS
        SELECT r.record_key AS gid, s->>'resource_subtype' AS kind,
               {_ts("s->>'created_at'")} AS story_at, s
        FROM {raw}.raw_records r
        JOIN _asana_tasks t ON t.gid = r.record_key AND NOT t.is_deleted,
             unnest(CAST(coalesce(r.payload->'data', '[]') AS JSON[])) AS u(s)
        WHERE r.record_type = 'stories' AND NOT r.is_deleted
          AND s->>'resource_subtype' IN ('due_date_changed', 'dependency_added',
                                         'dependent_added')
        """
    )
    con.execute(
        """
        INSERT INTO stg_due_date_changes
        SELECT $src || ':' || gid, story_at, try_cast(s->'old_dates'->>'due_on' AS DATE),
               try_cast(s->'new_dates'->>'due_on' AS DATE), 'asana_story'
        FROM _asana_dated WHERE kind = 'due_date_changed' AND story_at IS NOT NULL
        """,
        {"src": params["src"]},
    )
    # "dependency_added" sits on the waiting task, "dependent_added" on the one it waits for
    con.execute(
        """
        INSERT INTO stg_dependency_dates
        SELECT CASE WHEN kind = 'dependency_added' THEN other ELSE own END,
               CASE WHEN kind = 'dependency_added' THEN own ELSE other END,
               story_at, 'asana_story'
        FROM (SELECT $src || ':' || gid AS own, $src || ':' || (s->'dependency'->>'gid') AS other,
                     kind, story_at
              FROM _asana_dated
              WHERE kind <> 'due_date_changed' AND story_at IS NOT NULL
                AND (s->'dependency'->>'gid') IS NOT NULL)
        """,
        {"src": params["src"]},
    )
    con.execute("DROP TABLE _asana_dated")


def _status_updates(con: duckdb.DuckDBPyConnection, raw: str, params: dict[str, Any]) -> None:
    """Project status updates: what the project's owner reports (on_track, at_risk...)."""
    con.execute(
        f"""
        INSERT INTO stg_status_reports (subject_id, subject_kind, source, project,
            reported_status, reported_at, reporter, text, origin)
        SELECT $src || ':project/' || (u.p->'parent'->>'gid'), 'project', $src,
               coalesce(pr.payload->>'name', u.p->'parent'->>'name'),
               coalesce(u.p->>'status_type', u.p->>'color'), {_ts("u.p->>'created_at'")},
               coalesce(u.p->'author'->>'name', u.p->'created_by'->>'name'),
               concat_ws(': ', u.p->>'title', u.p->>'text'), 'asana_status_update'
        FROM (SELECT payload AS p FROM {raw}.raw_records
              WHERE record_type = 'status_update' AND NOT is_deleted) u
        LEFT JOIN {raw}.raw_records pr
               ON pr.record_type = 'project' AND pr.record_key = u.p->'parent'->>'gid'
        """,
        {"src": params["src"]},
    )


__all__ = ["normalise"]
