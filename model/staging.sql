-- Staging tables: what each tool's normaliser (model/normalise/<tool>.py) writes in the build
-- database before the shared steps (references, people, departments, history) fill the public
-- model. One row per item / reference / status change; every id is already source-qualified.

CREATE TABLE stg_items (
    item_id           VARCHAR NOT NULL,   -- '<source>:<source_key>'
    source            VARCHAR NOT NULL,
    tool              VARCHAR NOT NULL,   -- 'jira' | 'asana' | 'gsheets' | 'xlsx' | 'csv'
    source_key        VARCHAR NOT NULL,   -- OPS-42, Asana gid, sheet row id
    url               VARCHAR,
    title             VARCHAR,
    item_type         VARCHAR,
    is_milestone      BOOLEAN NOT NULL DEFAULT false,
    status            VARCHAR,
    status_category   VARCHAR,            -- todo | in_progress | done
    department        VARCHAR,            -- from the item itself (sheet column, Asana field); rules may override
    owner_email       VARCHAR,
    owner_name        VARCHAR,
    owner_account     VARCHAR,            -- tool account id (Jira accountId, Asana gid)
    due_date          DATE,
    start_date        DATE,
    created_at        TIMESTAMP,
    updated_at        TIMESTAMP,
    completed_at      TIMESTAMP,
    status_changed_at TIMESTAMP,          -- last status change known from the tool's history
    parent_key        VARCHAR,            -- parent's item_id (epic, parent task, summary row)
    milestone_key     VARCHAR,            -- item_id of the milestone it rolls up to, if the tool says
    project           VARCHAR,            -- Jira project key, Asana project name, sheet/worksheet name
    project_id        VARCHAR,            -- the tool's own project id when it has one (Asana project gid)
    labels            VARCHAR[],
    components        VARCHAR[],
    custom            JSON,               -- configured custom fields, by model name
    is_deleted        BOOLEAN NOT NULL DEFAULT false,
    synced_at         TIMESTAMP
);

-- A reference found in an item: resolved to an item_id later, set-based, across all sources.
CREATE TABLE stg_references (
    item_id     VARCHAR NOT NULL,   -- the item where the reference was found
    ref         VARCHAR NOT NULL,   -- the reference as written: OPS-42, a URL, an item_id, a row id
    ref_kind    VARCHAR NOT NULL,   -- 'item_id' (already resolved), 'jira_key', 'url', 'asana_gid', 'row_id', 'text'
    direction   VARCHAR NOT NULL,   -- 'upstream': the item depends on ref; 'downstream': ref depends on the item
    kind        VARCHAR NOT NULL,   -- 'blocks' | 'depends_on' | 'relates'
    origin      VARCHAR NOT NULL,   -- jira_link, jira_remote_link, asana_dependency, sheet_column, text_reference, custom_field
    link_type   VARCHAR             -- the tool's own name for the link, e.g. Jira 'Blocks'
);

CREATE TABLE stg_status_changes (
    item_id       VARCHAR NOT NULL,
    changed_at    TIMESTAMP NOT NULL,
    from_status   VARCHAR,
    to_status     VARCHAR,
    from_category VARCHAR,
    to_category   VARCHAR,
    source        VARCHAR NOT NULL  -- 'jira_changelog' | 'asana_story' | ...
);

-- What teams report: an Asana project status update, a Jira health field, a sheet RAG column.
CREATE TABLE stg_status_reports (
    subject_id      VARCHAR NOT NULL,   -- item_id, or '<source>:project/<gid>'
    subject_kind    VARCHAR NOT NULL,   -- 'item' | 'project'
    source          VARCHAR NOT NULL,
    project         VARCHAR,
    reported_status VARCHAR,
    reported_at     TIMESTAMP,          -- null: a field without its own date (the sync dates it)
    reporter        VARCHAR,
    text            VARCHAR,
    origin          VARCHAR NOT NULL,   -- 'asana_status_update' | 'jira_field' | 'sheet_column'
    rag             VARCHAR             -- set when the source maps its own words (sheet rag_map)
);

CREATE TABLE stg_due_date_changes (
    item_id    VARCHAR NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    from_due   DATE,
    to_due     DATE,
    source     VARCHAR NOT NULL        -- 'jira_changelog' | 'asana_story'
);

-- When a tool says a dependency was added: both ends as item_ids, upstream first.
CREATE TABLE stg_dependency_dates (
    upstream_id   VARCHAR NOT NULL,
    downstream_id VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    source        VARCHAR NOT NULL     -- 'jira_changelog' | 'asana_story'
);
