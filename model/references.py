"""Cross-tool reference resolution: every raw reference becomes a dependency edge, set-based.

References arrive in `stg_references` from every normaliser: already-resolved item ids, Jira
keys, URLs (Jira browse, Asana task links old and new), Asana gids, sheet row ids and free text.
Text is split into tokens with DuckDB regexes; each token is matched against the synced items in
one join. Unmatched references stay as unresolved edges: an unmapped dependency is a finding.
"""

from __future__ import annotations

import duckdb

JIRA_KEY = r"\b[A-Z][A-Z0-9_]{1,9}-[0-9]+\b"
URL = r"https?://[^\s<>()\[\]\"',;]+"
# Phrases that make the *mentioned* item the downstream side ("this blocks OPS-42").
DOWNSTREAM_PHRASE = (
    r"(?:[Bb]locks|[Bb]locking|[Nn]eeded by|[Rr]equired by|[Pp]rerequisite for|[Ee]nables)"
    r"[:\s]+(?:the\s+)?"
)

ASANA_OLD_URL = r"app\.asana\.com/0/[0-9]+/([0-9]+)"
ASANA_NEW_URL = r"app\.asana\.com/1/[0-9]+/(?:project/[0-9]+/)?task/([0-9]+)"
JIRA_BROWSE_URL = r"https?://([^/\s]+)(?:/[^\s]*)?/browse/([A-Z][A-Z0-9_]{1,9}-[0-9]+)"


def _lit(text: str) -> str:
    """A SQL string literal (regexes here contain quotes)."""
    return "'" + text.replace("'", "''") + "'"


TOKENS_SQL = f"""
-- 1. split text references into tokens (keys and URLs), with their direction
CREATE OR REPLACE TEMP TABLE ref_tokens AS
WITH text_refs AS (
    SELECT * FROM stg_references WHERE ref_kind = 'text'
),
urls AS (
    SELECT r.item_id, unnest(regexp_extract_all(r.ref, {_lit(URL)})) AS token, r.direction, r.kind,
           r.origin, r.link_type
    FROM text_refs r
),
without_urls AS (
    SELECT r.*, regexp_replace(r.ref, {_lit(URL)}, ' ', 'g') AS bare FROM text_refs r
),
keys AS (
    SELECT r.item_id, unnest(regexp_extract_all(r.bare, {_lit(JIRA_KEY)})) AS token, r.direction,
           r.kind, r.origin, r.link_type, r.bare
    FROM without_urls r
),
downstream_keys AS (
    SELECT DISTINCT item_id, origin,
           unnest(regexp_extract_all(bare, {_lit(DOWNSTREAM_PHRASE + "(" + JIRA_KEY + ")")}, 1)) AS token
    FROM keys
),
cells AS (
    -- sheet "depends on" cells: every comma/semicolon/newline separated entry is a reference
    SELECT r.item_id, trim(unnest(string_split_regex(r.bare, '[,;\\n]+'))) AS token,
           r.direction, r.kind, r.origin, r.link_type
    FROM without_urls r WHERE r.origin = 'sheet_column'
)
SELECT item_id, token, 'url' AS token_kind, direction, kind, origin, link_type FROM urls
UNION ALL
SELECT k.item_id, k.token, 'jira_key',
       CASE WHEN d.token IS NOT NULL THEN 'downstream' ELSE k.direction END,
       k.kind, k.origin, k.link_type
FROM (SELECT DISTINCT item_id, token, direction, kind, origin, link_type FROM keys) k
LEFT JOIN (SELECT DISTINCT * FROM downstream_keys) d USING (item_id, origin, token)
UNION ALL
SELECT item_id, token, 'row_id', direction, kind, origin, link_type FROM cells
WHERE token <> '' AND NOT regexp_matches(token, {_lit("^" + JIRA_KEY + "$")});
"""

CANDIDATES_SQL = f"""
-- 2. every reference with the candidate key it names
CREATE OR REPLACE TEMP TABLE ref_candidates AS
WITH direct AS (
    SELECT item_id, ref AS token, ref_kind AS token_kind, direction, kind, origin, link_type,
           true AS explicit
    FROM stg_references WHERE ref_kind <> 'text'
    UNION ALL
    SELECT *, origin = 'sheet_column' AS explicit FROM ref_tokens
)
SELECT d.*, s.source AS from_source, s.tool AS from_tool,
    CASE
        WHEN token_kind = 'item_id' THEN token
        ELSE NULL
    END AS exact_item_id,
    CASE
        WHEN token_kind IN ('jira_key', 'row_id', 'asana_gid') THEN token
        WHEN token_kind = 'url' AND regexp_matches(token, {_lit(JIRA_BROWSE_URL)})
            THEN regexp_extract(token, {_lit(JIRA_BROWSE_URL)}, 2)
        WHEN token_kind = 'url' AND regexp_matches(token, {_lit(ASANA_OLD_URL)})
            THEN regexp_extract(token, {_lit(ASANA_OLD_URL)}, 1)
        WHEN token_kind = 'url' AND regexp_matches(token, {_lit(ASANA_NEW_URL)})
            THEN regexp_extract(token, {_lit(ASANA_NEW_URL)}, 1)
        ELSE NULL
    END AS key_ref,
    CASE
        WHEN token_kind = 'url' AND regexp_matches(token, {_lit(JIRA_BROWSE_URL)}) THEN 'jira'
        WHEN token_kind = 'url' AND regexp_matches(token, 'app\\.asana\\.com/') THEN 'asana'
        WHEN token_kind = 'asana_gid' THEN 'asana'
        ELSE NULL
    END AS want_tool,
    CASE
        WHEN token_kind = 'url' AND regexp_matches(token, {_lit(JIRA_BROWSE_URL)})
            THEN regexp_extract(token, {_lit(JIRA_BROWSE_URL)}, 1)
        ELSE NULL
    END AS want_host
FROM direct d
JOIN stg_items s ON s.item_id = d.item_id;
"""

RESOLVE_SQL = """
-- 3. match candidates to items: same source first, then any source of the wanted tool
CREATE OR REPLACE TEMP TABLE ref_matches AS
WITH keyed AS (
    SELECT c.*, row_number() OVER () AS ref_no FROM ref_candidates c
),
matches AS (
    SELECT k.ref_no, i.item_id AS target,
           CASE WHEN k.exact_item_id IS NOT NULL THEN 0
                WHEN i.source = k.from_source THEN 1
                WHEN k.want_host IS NOT NULL AND i.url LIKE '%' || k.want_host || '%' THEN 2
                ELSE 3 END AS preference
    FROM keyed k
    JOIN stg_items i
      ON (k.exact_item_id IS NOT NULL AND i.item_id = k.exact_item_id)
      OR (k.exact_item_id IS NULL AND k.key_ref IS NOT NULL AND i.source_key = k.key_ref
          AND (k.want_tool IS NULL OR i.tool = k.want_tool)
          AND (k.token_kind <> 'row_id' OR i.source = k.from_source))
      OR (k.exact_item_id IS NULL AND k.token_kind = 'url' AND k.key_ref IS NULL AND i.url = k.token)
),
best AS (
    SELECT ref_no, arg_min(target, preference) AS target FROM matches GROUP BY ref_no
),
jira_projects AS (
    SELECT DISTINCT split_part(source_key, '-', 1) AS project FROM stg_items WHERE tool = 'jira'
)
SELECT k.item_id AS referrer, k.token, k.token_kind, k.direction, k.kind, k.origin, k.link_type,
       b.target
FROM keyed k
LEFT JOIN best b USING (ref_no)
WHERE b.target IS NOT NULL
   OR k.explicit
   OR k.token_kind IN ('item_id', 'asana_gid')
   -- a key in free text counts only when it names a synced Jira project (not ISO-9001)
   OR (k.token_kind = 'jira_key' AND split_part(k.token, '-', 1) IN (SELECT project FROM jira_projects))
   OR (k.token_kind = 'url' AND k.want_tool IS NOT NULL);
"""

EDGES_SQL = """
-- 4. orient, merge origins, and write the dependencies table
INSERT INTO dependencies
WITH oriented AS (
    SELECT
        CASE WHEN direction = 'downstream' THEN referrer
             ELSE coalesce(target, 'unresolved:' || token) END AS upstream_id,
        CASE WHEN direction = 'downstream' THEN coalesce(target, 'unresolved:' || token)
             ELSE referrer END AS downstream_id,
        kind, origin, link_type, target IS NOT NULL AS is_resolved, token
    FROM ref_matches
    WHERE target IS NULL OR target <> referrer
),
merged AS (
    SELECT upstream_id, downstream_id,
           CASE WHEN bool_or(kind = 'blocks') THEN 'blocks'
                WHEN bool_or(kind = 'depends_on') THEN 'depends_on' ELSE 'relates' END AS kind,
           min(origin) AS origin,
           list_sort(list_distinct(list(origin))) AS origins,
           list_sort(list_distinct(list(link_type) FILTER (WHERE link_type IS NOT NULL))) AS link_types,
           min(token) FILTER (WHERE NOT is_resolved) AS reference,
           bool_or(is_resolved) AS is_resolved
    FROM oriented GROUP BY upstream_id, downstream_id
)
SELECT m.upstream_id, m.downstream_id, m.kind, m.origin, m.origins, m.link_types,
       CASE WHEN m.is_resolved THEN NULL ELSE m.reference END,
       coalesce(u.tool <> d.tool, false),
       coalesce(u.department <> d.department, false),
       m.is_resolved,
       NULL, NULL, NULL
FROM merged m
LEFT JOIN work_items u ON u.item_id = m.upstream_id
LEFT JOIN work_items d ON d.item_id = m.downstream_id
WHERE NOT (m.upstream_id LIKE 'unresolved:%' AND m.downstream_id LIKE 'unresolved:%');
"""


def resolve_references(con: duckdb.DuckDBPyConnection) -> None:
    """Fill `dependencies` from `stg_references`; needs `stg_items` and `work_items` filled."""
    con.execute(TOKENS_SQL)
    con.execute(CANDIDATES_SQL)
    con.execute(RESOLVE_SQL)
    con.execute(EDGES_SQL)
    con.execute("DROP TABLE ref_tokens; DROP TABLE ref_candidates; DROP TABLE ref_matches;")


def extract_tokens(con: duckdb.DuckDBPyConnection, text: str) -> list[tuple[str, str, str]]:
    """The (token, kind, direction) references the resolver would read in `text`.

    Runs the same SQL as the model build on a one-row staging table, so tests exercise the real
    parser.
    """
    con.execute(
        "CREATE OR REPLACE TEMP TABLE stg_references AS SELECT * FROM (VALUES "
        "('x', ?, 'text', 'upstream', 'depends_on', 'text_reference', NULL::VARCHAR)) "
        "t(item_id, ref, ref_kind, direction, kind, origin, link_type)",
        [text],
    )
    con.execute(TOKENS_SQL)
    rows = con.execute(
        "SELECT token, token_kind, direction FROM ref_tokens ORDER BY ALL"
    ).fetchall()
    con.execute("DROP TABLE ref_tokens; DROP TABLE stg_references")
    return [(str(a), str(b), str(c)) for a, b, c in rows]
