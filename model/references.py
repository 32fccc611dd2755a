"""Cross-tool reference resolution: every raw reference becomes a dependency edge, set-based.

References arrive in `stg_references` from every normaliser: already-resolved item ids, Jira
keys, URLs (Jira browse, Asana task links old and new), Asana gids, sheet row ids and free text.
Text is cut into segments at direction phrases ("blocked by", "blocks", "needed by", ...) and
sentence ends, then into tokens (URLs, Jira keys, list entries) with DuckDB regexes. Tokens are
matched against the synced items with a UNION ALL of equi-joins (item id, key, URL), so the
resolver stays a handful of hash joins at millions of rows. Unmatched references stay as
unresolved edges: an unmapped dependency is a finding, not noise, unless it points into a
configured source that failed or has never synced (`pending`: Jira keys of its projects, any
Asana reference for an Asana source, links naming a Google spreadsheet's id): such an edge is
`pending_source` and waits for that source instead of accusing anyone.

Memory: from the candidates on, rows carry the items' numbers (`work_items.item_no`, which
`dependencies` keeps for the rules' joins) instead of item ids, only the
few edges declared more than once are aggregated, and each temp table is dropped as soon as no
later step reads it, so a million-item build stays inside the build's `model.memory_limit`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import duckdb

JIRA_KEY = r"\b[A-Z][A-Z0-9_]{1,9}-[0-9]+\b"
URL = r"https?://[^\s<>()\[\]{}\"',;|`]+"
# A phrase starts after a boundary that cannot be inside a URL and ends at a space or a colon.
_BEFORE = r"(?i)(^|[\s(\[{,;\"'])"
_AFTER = r"([\s:]|$)"
# Phrases that make the *mentioned* item the upstream side ("this is blocked by OPS-42").
UPSTREAM_PHRASE = (
    _BEFORE + r"((?:is\s+)?blocked\s+by|depends\s+on|dependent\s+on|depending\s+on"
    r"|waits?\s+(?:on|for)|waiting\s+(?:on|for)|requires|needs|predecessors?)" + _AFTER
)
# Phrases that make the *mentioned* item the downstream side ("this blocks OPS-42").
DOWNSTREAM_PHRASE = (
    _BEFORE + r"(blocks|blocking|needed\s+by|required\s+by|prerequisite\s+(?:for|of|to)"
    r"|enables|(?:is\s+)?(?:a\s+)?dependency\s+(?:of|for)|depended\s+on\s+by|successors?)" + _AFTER
)
# A direction lasts until the end of the sentence or line.
SENTENCE_END = r"[.!?](?:\s|$)|[\r\n]"
# Entries of explicit reference lists (sheet "depends on" cells, key custom fields).
LIST_SEPARATOR = r"[,;&|]+|(?:^|\s+)and(?:\s+|$)"
ENTRY_TRIM = r"^[\s\"'`]+|[\s\"'`.]+$"
NOT_A_REFERENCE = ("n/a", "na", "none", "-", "--", "—", "tbd", "?", "x", "no", "nil")

ASANA_OLD_URL = r"app\.asana\.com/0/[0-9]+/([0-9]+)"
ASANA_NEW_URL = r"app\.asana\.com/1/[0-9]+/(?:project/[0-9]+/)?task/([0-9]+)"
JIRA_BROWSE_URL = r"^https?://([^/\s?#]+)(?:/[^\s]*)?/browse/([A-Z][A-Z0-9_]{1,9}-[0-9]+)"
JIRA_SELECTED_URL = r"^https?://([^/\s?#]+)/.*[?&]selectedIssue=([A-Z][A-Z0-9_]{1,9}-[0-9]+)"
URL_HOST = r"^https?://([^/\s?#]+)"

# Explicit origins keep their unresolved entries; free text keeps only what looks deliberate.
EXPLICIT_TEXT_ORIGINS = ("sheet_column", "custom_field")
# When one edge is declared several ways, `origin` names the most structured declaration.
ORIGIN_RANK = (
    "jira_link",
    "asana_dependency",
    "jira_remote_link",
    "sheet_column",
    "custom_field",
    "text_reference",
)


def _lit(text: str) -> str:
    """A SQL string literal (regexes here contain quotes)."""
    return "'" + text.replace("'", "''") + "'"


def _list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_lit(v) for v in values) + "]"


def _in(values: Iterable[str]) -> str:
    return "(" + ", ".join(_lit(v) for v in values) + ")"


SEGMENTS_SQL = f"""
-- 1. cut text references into segments that share one direction
CREATE OR REPLACE TEMP TABLE ref_segments AS
WITH marked AS (
    SELECT item_id, direction AS default_direction, kind, origin, link_type,
           regexp_replace(regexp_replace(regexp_replace(
               translate(ref, chr(1) || chr(2), '  '),
               {_lit(SENTENCE_END)}, chr(1) || 'n' || chr(2), 'g'),
               {_lit(UPSTREAM_PHRASE)}, '\\1' || chr(1) || 'u' || chr(2) || '\\3', 'g'),
               {_lit(DOWNSTREAM_PHRASE)}, '\\1' || chr(1) || 'd' || chr(2) || '\\3', 'g')
               AS marked
    FROM stg_references WHERE ref_kind = 'text'
),
segments AS (
    SELECT item_id, default_direction, kind, origin, link_type,
           unnest(string_split(marked, chr(1))) AS segment
    FROM marked
)
SELECT item_id, kind, origin, link_type,
       CASE WHEN substr(segment, 2, 1) <> chr(2) THEN default_direction
            WHEN substr(segment, 1, 1) = 'u' THEN 'upstream'
            WHEN substr(segment, 1, 1) = 'd' THEN 'downstream'
            ELSE default_direction END AS direction,
       CASE WHEN substr(segment, 2, 1) = chr(2) THEN substr(segment, 3) ELSE segment END AS body
FROM segments;
"""

TOKENS_SQL = f"""
-- 2. tokens of every segment: URLs, Jira keys, and entries of explicit lists
CREATE OR REPLACE TEMP TABLE ref_tokens AS
WITH segments AS (
    SELECT *, regexp_replace(body, {_lit(URL)}, ',', 'g') AS bare,
           origin IN {_in(EXPLICIT_TEXT_ORIGINS)} AS explicit
    FROM ref_segments
    WHERE regexp_matches(body, '[\\pL\\pN]')
),
urls AS (
    SELECT item_id, rtrim(unnest(regexp_extract_all(body, {_lit(URL)})), '.!?:') AS token,
           direction, kind, origin, link_type, explicit
    FROM segments WHERE contains(body, '://')
),
keys AS (
    SELECT item_id, unnest(regexp_extract_all(bare, {_lit(JIRA_KEY)})) AS token,
           direction, kind, origin, link_type, explicit
    FROM segments WHERE regexp_matches(bare, '[A-Z][A-Z0-9_]+-[0-9]')
),
entries AS (
    SELECT item_id,
           regexp_replace(unnest(string_split_regex(bare, {_lit(LIST_SEPARATOR)})),
                          {_lit(ENTRY_TRIM)}, '', 'g') AS token,
           direction, kind, origin, link_type, explicit
    FROM segments WHERE explicit
)
SELECT DISTINCT * FROM (
    SELECT item_id, token, 'url' AS token_kind, direction, kind, origin, link_type, explicit
    FROM urls
    UNION ALL
    SELECT item_id, token, 'jira_key', direction, kind, origin, link_type, explicit FROM keys
    UNION ALL
    SELECT item_id, token, 'row_id', direction, kind, origin, link_type, explicit FROM entries
    WHERE token <> '' AND lower(token) NOT IN {_in(NOT_A_REFERENCE)}
      AND NOT regexp_matches(token, {_lit(JIRA_KEY)})
);
"""

TARGETS_SQL = f"""
-- 3. what a reference can resolve to: every item, with the host of Jira items and its number
--    (later steps carry and compare the narrow number instead of the id)
CREATE OR REPLACE TEMP TABLE ref_targets AS
SELECT item_no, item_id, source, tool,
       source_key, rtrim(url, '/') AS url, is_deleted, department,
       CASE WHEN tool = 'jira' THEN lower(regexp_extract(url, {_lit(URL_HOST)}, 1)) END AS host
FROM work_items;
CREATE OR REPLACE TEMP TABLE ref_jira_hosts AS
SELECT DISTINCT host FROM ref_targets WHERE tool = 'jira' AND host <> '';
CREATE OR REPLACE TEMP TABLE ref_jira_projects AS
SELECT DISTINCT split_part(source_key, '-', 1) AS project FROM ref_targets WHERE tool = 'jira'
UNION
SELECT scope FROM ref_pending WHERE tool = 'jira' AND scope <> '*';
"""

CANDIDATES_SQL = f"""
-- 4. every reference with the item id, key or URL it names
CREATE OR REPLACE TEMP TABLE ref_candidates AS
WITH direct AS (
    SELECT item_id, ref AS token, ref_kind AS token_kind, direction, kind, origin, link_type,
           true AS explicit
    FROM stg_references WHERE ref_kind <> 'text'
    UNION ALL
    SELECT * FROM ref_tokens
),
parsed AS (
    SELECT d.*, s.item_no AS from_no, s.source AS from_source, s.tool AS from_tool,
        s.host AS from_host,
        -- each pattern runs only on URLs holding its literal part (most URLs match one)
        CASE WHEN d.token_kind = 'url' THEN coalesce(
                 CASE WHEN contains(d.token, '/browse/') THEN
                     nullif(regexp_extract(d.token, {_lit(JIRA_BROWSE_URL)}, 2), '') END,
                 CASE WHEN contains(d.token, 'selectedIssue=') THEN
                     nullif(regexp_extract(d.token, {_lit(JIRA_SELECTED_URL)}, 2), '') END)
        END AS url_jira_key,
        CASE WHEN d.token_kind = 'url' AND contains(d.token, 'app.asana.com/') THEN coalesce(
                 nullif(regexp_extract(d.token, {_lit(ASANA_NEW_URL)}, 1), ''),
                 nullif(regexp_extract(d.token, {_lit(ASANA_OLD_URL)}, 1), ''))
        END AS url_asana_gid
    FROM direct d
    JOIN ref_targets s ON s.item_id = d.item_id
)
SELECT p.from_no AS referrer, p.token, p.token_kind,
    p.direction, p.kind, p.origin, p.link_type, p.explicit, p.from_source,
    CASE WHEN p.token_kind = 'item_id' THEN p.token
         WHEN p.token_kind = 'row_id' AND contains(p.token, ':') THEN p.token END AS item_ref,
    CASE WHEN p.token_kind IN ('jira_key', 'row_id', 'asana_gid') THEN p.token
         WHEN p.token_kind = 'item_id' AND p.from_tool = 'jira'
             THEN substr(p.token, strpos(p.token, ':') + 1)
         ELSE coalesce(p.url_jira_key, p.url_asana_gid) END AS key_ref,
    CASE WHEN p.token_kind = 'url' THEN rtrim(p.token, '/') END AS url_ref,
    CASE WHEN p.url_jira_key IS NOT NULL OR p.token_kind = 'item_id' THEN 'jira'
         WHEN p.url_asana_gid IS NOT NULL OR p.token_kind = 'asana_gid' THEN 'asana' END
        AS want_tool,
    -- a Jira URL names its site: when that site is synced, only its items qualify
    CASE WHEN p.token_kind = 'item_id' THEN p.from_host
         WHEN p.url_jira_key IS NOT NULL THEN h.host END AS want_host
FROM parsed p
LEFT JOIN ref_jira_hosts h
       ON p.url_jira_key IS NOT NULL
      AND h.host = lower(regexp_extract(p.token, {_lit(URL_HOST)}, 1));
"""

RESOLVE_SQL = """
-- 5. match candidates (each known by its rowid) to items with equi-joins; the best match wins:
--    live before deleted, then exact item id, same source, a Jira item for a Jira key, and the
--    smaller item id (referrer and target are item numbers)
CREATE OR REPLACE TEMP TABLE ref_matches AS
WITH matches AS (
    SELECT c.rowid AS ref_no, t.item_no AS target, 0 AS preference, t.is_deleted
    FROM ref_candidates c JOIN ref_targets t ON t.item_id = c.item_ref
    UNION ALL
    SELECT c.rowid, t.item_no,
           CASE WHEN t.source = c.from_source THEN 1
                WHEN c.token_kind = 'jira_key' AND t.tool = 'jira' THEN 2 ELSE 3 END,
           t.is_deleted
    FROM ref_candidates c JOIN ref_targets t ON t.source_key = c.key_ref
    WHERE c.token_kind <> 'row_id'
      AND (c.want_tool IS NULL OR t.tool = c.want_tool)
      AND (c.want_host IS NULL OR t.host = c.want_host)
    UNION ALL
    SELECT c.rowid, t.item_no, 1, t.is_deleted
    FROM ref_candidates c
    JOIN ref_targets t ON t.source_key = c.key_ref AND t.source = c.from_source
    WHERE c.token_kind = 'row_id'
    UNION ALL
    SELECT c.rowid, t.item_no, 1, t.is_deleted
    FROM ref_candidates c JOIN ref_targets t ON t.url = c.url_ref
),
best AS (
    -- the order (deleted, preference, target) packed in one integer: a fixed-size minimum
    SELECT ref_no,
           min((is_deleted::BIGINT << 40) | (preference::BIGINT << 32) | target) AS best
    FROM matches GROUP BY ref_no
)
SELECT c.referrer, c.token, c.token_kind, c.direction, c.kind, c.origin, c.link_type,
       (b.best & 4294967295)::INTEGER AS target, coalesce(b.best >> 40 = 1, false)
           AS target_deleted,
       c.want_tool, c.key_ref
FROM ref_candidates c
LEFT JOIN best b ON b.ref_no = c.rowid
WHERE b.best IS NOT NULL
   -- unresolved: keep what was declared on purpose, drop what only looks like a reference
   OR (c.token_kind = 'url' AND (c.want_tool IS NOT NULL OR (c.explicit AND c.kind <> 'relates')))
   OR (c.token_kind <> 'url' AND c.explicit)
   -- a key in free text counts only when it names a synced Jira project (not ISO-9001)
   OR (c.token_kind = 'jira_key'
       AND split_part(c.token, '-', 1) IN (SELECT project FROM ref_jira_projects));
"""

ORIENT_SQL = f"""
-- 6. orient: one row per declaration of an edge, its ends as item numbers (and, for the end
--    that names nothing synced, its text: (upstream_no, downstream_no, unresolved_id) is
--    one-to-one with the two item ids)
CREATE OR REPLACE TEMP TABLE ref_oriented AS
WITH named AS (
    SELECT *,
        -- an unsynced issue named by a Jira link reads as its key: unresolved:HR-1
        CASE WHEN token_kind = 'item_id' THEN substr(token, strpos(token, ':') + 1)
             ELSE token END AS ref
    FROM ref_matches
    -- a reference to a deleted item is gone with it, as the tools drop links to deleted items
    WHERE (target IS NULL OR target <> referrer) AND NOT target_deleted
),
pending_refs AS (
    -- only unresolved references can wait for a source: the pending test reads those alone
    -- (from ref_matches, not `named`: one reader keeps `named` a stream, not a stored CTE)
    SELECT DISTINCT token, want_tool, key_ref
    FROM ref_matches n
    WHERE target IS NULL AND EXISTS (
        SELECT 1 FROM ref_pending p
        WHERE (p.tool = 'jira' AND regexp_full_match(coalesce(n.key_ref, ''), {_lit(JIRA_KEY)})
               AND coalesce(n.want_tool, 'jira') = 'jira'
               AND p.scope IN ('*', split_part(n.key_ref, '-', 1)))
           OR (p.tool = 'asana' AND n.want_tool = 'asana')
           OR (p.tool = 'gsheets' AND contains(n.token, p.scope))
    )
)
SELECT
    CASE WHEN direction = 'downstream' THEN referrer ELSE target END AS upstream_no,
    CASE WHEN direction = 'downstream' THEN target ELSE referrer END AS downstream_no,
    CASE WHEN target IS NULL THEN 'unresolved:' || ref END AS unresolved_id,
    kind, origin, link_type,
    coalesce(list_position({_list(ORIGIN_RANK)}, origin), 99) AS origin_rank,
    p.token IS NOT NULL AS is_pending
FROM named n
LEFT JOIN pending_refs p
       ON n.target IS NULL AND p.token IS NOT DISTINCT FROM n.token
      AND p.want_tool IS NOT DISTINCT FROM n.want_tool
      AND p.key_ref IS NOT DISTINCT FROM n.key_ref;
-- edges declared more than once (a few): only these need merging
CREATE OR REPLACE TEMP TABLE ref_shared AS
SELECT upstream_no, downstream_no, unresolved_id FROM ref_oriented
GROUP BY ALL HAVING count(*) > 1;
"""

# An unresolved edge's reference is its text: every declaration of it names the same one.
EDGES_SQL = f"""
-- 7. merge origins: the strongest kind, the most structured origin, every origin and link type
INSERT INTO dependencies (upstream_id, downstream_id, kind, origin, origins, link_types,
    reference, is_cross_tool, is_cross_department, is_resolved, contract_id, kpi_tension,
    created_at, resolution, upstream_no, downstream_no)
WITH single AS (
    SELECT o.upstream_no, o.downstream_no, o.unresolved_id,
           CASE WHEN o.kind IN ('blocks', 'depends_on') THEN o.kind ELSE 'relates' END AS kind,
           o.origin, [o.origin] AS origins,
           CASE WHEN o.link_type IS NOT NULL THEN [o.link_type] END AS link_types,
           o.is_pending
    FROM ref_oriented o
    ANTI JOIN ref_shared s
           ON s.upstream_no IS NOT DISTINCT FROM o.upstream_no
          AND s.downstream_no IS NOT DISTINCT FROM o.downstream_no
          AND s.unresolved_id IS NOT DISTINCT FROM o.unresolved_id
),
shared AS (
    SELECT o.upstream_no, o.downstream_no, o.unresolved_id,
           CASE WHEN bool_or(o.kind = 'blocks') THEN 'blocks'
                WHEN bool_or(o.kind = 'depends_on') THEN 'depends_on' ELSE 'relates' END,
           min({{'rank': o.origin_rank, 'origin': o.origin}}).origin,
           list_sort(list_distinct(list(o.origin))),
           list_sort(list_distinct(list(o.link_type) FILTER (WHERE o.link_type IS NOT NULL))),
           bool_or(o.is_pending)
    FROM ref_oriented o
    SEMI JOIN ref_shared s
           ON s.upstream_no IS NOT DISTINCT FROM o.upstream_no
          AND s.downstream_no IS NOT DISTINCT FROM o.downstream_no
          AND s.unresolved_id IS NOT DISTINCT FROM o.unresolved_id
    GROUP BY o.upstream_no, o.downstream_no, o.unresolved_id
),
merged AS (SELECT * FROM single UNION ALL SELECT * FROM shared)
SELECT coalesce(u.item_id, m.unresolved_id), coalesce(d.item_id, m.unresolved_id), m.kind,
       m.origin, m.origins, m.link_types,
       substr(m.unresolved_id, {len("unresolved:") + 1}),
       coalesce(u.tool <> d.tool, false),
       coalesce(u.department <> d.department, false),
       m.unresolved_id IS NULL,
       NULL, NULL, NULL,
       CASE WHEN m.unresolved_id IS NULL THEN 'resolved' WHEN m.is_pending THEN 'pending_source'
            ELSE 'unmapped' END,
       m.upstream_no, m.downstream_no
FROM merged m
LEFT JOIN ref_targets u ON u.item_no = m.upstream_no
LEFT JOIN ref_targets d ON d.item_no = m.downstream_no;
"""


# (step, SQL, temp tables no later step reads)
STEPS = (
    ("segments", SEGMENTS_SQL, ()),
    ("tokens", TOKENS_SQL, ("ref_segments",)),
    ("targets", TARGETS_SQL, ()),
    ("candidates", CANDIDATES_SQL, ("ref_tokens", "ref_jira_hosts")),
    ("matches", RESOLVE_SQL, ("ref_candidates", "ref_jira_projects")),
    ("orient", ORIENT_SQL, ("ref_matches", "ref_pending")),
    ("edges", EDGES_SQL, ("ref_oriented", "ref_shared", "ref_targets")),
)

TEMP_TABLES = (
    "ref_segments",
    "ref_tokens",
    "ref_targets",
    "ref_jira_hosts",
    "ref_jira_projects",
    "ref_candidates",
    "ref_matches",
    "ref_oriented",
    "ref_shared",
    "ref_pending",
)


def _drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("".join(f"DROP TABLE IF EXISTS temp.{t};" for t in TEMP_TABLES))


def resolve_references(
    con: duckdb.DuckDBPyConnection,
    timings: dict[str, float] | None = None,
    pending: Iterable[tuple[str, str]] = (),
) -> None:
    """Fill `dependencies` from `stg_references`; needs `work_items` filled (with departments).

    `timings`, when given, receives the seconds of each step (for the benchmark). `pending`
    holds (tool, scope) pairs of sources that failed or never synced: a Jira project key (or
    '*'), '*' for Asana, a spreadsheet id for Google Sheets.
    """
    _pending_table(con, pending)
    # Row order means nothing here: without it DuckDB streams the big steps instead of
    # buffering them to keep order. The caller's setting comes back afterwards.
    preserve = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    con.execute("SET preserve_insertion_order = false")
    try:
        for name, sql, done_with in STEPS:
            started = time.perf_counter()
            con.execute(sql)
            # a step's inputs go as soon as no later step reads them: under the build's
            # memory limit every dropped table is memory the next join need not spill
            con.execute("".join(f"DROP TABLE IF EXISTS temp.{t};" for t in done_with))
            if timings is not None:
                timings[name] = round(time.perf_counter() - started, 2)
    finally:
        _drop_temp(con)
        con.execute(f"SET preserve_insertion_order = {bool(preserve)}")


def _pending_table(con: duckdb.DuckDBPyConnection, pending: Iterable[tuple[str, str]]) -> None:
    rows = list(pending)
    con.execute("CREATE OR REPLACE TEMP TABLE ref_pending (tool VARCHAR, scope VARCHAR)")
    if rows:
        con.executemany("INSERT INTO ref_pending VALUES (?, ?)", rows)


def _one_reference(con: duckdb.DuckDBPyConnection, text: str, origin: str) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE stg_references AS SELECT * FROM (VALUES "
        "('x', ?, 'text', 'upstream', 'depends_on', ?, NULL::VARCHAR)) "
        "t(item_id, ref, ref_kind, direction, kind, origin, link_type)",
        [text, origin],
    )


def extract_tokens(
    con: duckdb.DuckDBPyConnection, text: str, *, origin: str = "text_reference"
) -> list[tuple[str, str, str]]:
    """The (token, kind, direction) references the resolver reads in `text`, before filtering.

    Runs the same SQL as the model build on a one-row staging table in `con` (a scratch
    connection: it creates temp tables named like the build's), so tests exercise the real parser.
    """
    _one_reference(con, text, origin)
    try:
        con.execute(SEGMENTS_SQL)
        con.execute(TOKENS_SQL)
        rows = con.execute(
            "SELECT token, token_kind, direction FROM ref_tokens ORDER BY ALL"
        ).fetchall()
    finally:
        _drop_temp(con)
        con.execute("DROP TABLE IF EXISTS temp.stg_references")
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def find_references(
    con: duckdb.DuckDBPyConnection,
    text: str,
    *,
    origin: str = "text_reference",
    jira_projects: Iterable[str] = (),
) -> list[tuple[str, str, str]]:
    """The (token, kind, direction) references the build keeps from `text` found in one item,
    when no item matches them and `jira_projects` are the synced Jira projects.

    Same SQL as the build, including the final filter (`ISO-9001` is no reference unless an ISO
    project is synced); `con` is a scratch connection.
    """
    _one_reference(con, text, origin)
    try:
        con.execute(SEGMENTS_SQL)
        con.execute(TOKENS_SQL)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE ref_targets AS SELECT * FROM (VALUES "
            "(1, 'x', 'self', 'text', 'x', NULL::VARCHAR, false, NULL::VARCHAR, NULL::VARCHAR)) "
            "t(item_no, item_id, source, tool, source_key, url, is_deleted, department, host);"
            "CREATE OR REPLACE TEMP TABLE ref_jira_hosts (host VARCHAR);"
            "CREATE OR REPLACE TEMP TABLE ref_pending (tool VARCHAR, scope VARCHAR);"
            "CREATE OR REPLACE TEMP TABLE ref_jira_projects AS "
            "SELECT unnest(?::VARCHAR[]) AS project",
            [list(jira_projects)],
        )
        con.execute(CANDIDATES_SQL)
        con.execute(RESOLVE_SQL)
        rows = con.execute(
            "SELECT DISTINCT token, token_kind, direction FROM ref_matches ORDER BY ALL"
        ).fetchall()
    finally:
        _drop_temp(con)
        con.execute("DROP TABLE IF EXISTS temp.stg_references")
    return [(str(a), str(b), str(c)) for a, b, c in rows]
