-- The public governance model: the contract analysts query. Every table and column carries a
-- COMMENT (docs/data-dictionary.md is generated from them). Every build creates a new file from
-- this schema; see model/schema.py for what carries over from the previous one.

CREATE TABLE schema_info (
    schema_version INTEGER NOT NULL,
    built_at       TIMESTAMP NOT NULL,
    run_id         VARCHAR NOT NULL
);
COMMENT ON TABLE schema_info IS 'Version of this model''s schema and when this database file was built.';
COMMENT ON COLUMN schema_info.schema_version IS 'Version of schema.sql this file was built with; raised by every schema change.';
COMMENT ON COLUMN schema_info.built_at IS 'UTC time this database file was built and published.';
COMMENT ON COLUMN schema_info.run_id IS 'The sync run that built this file (see sync_runs).';

CREATE TABLE work_items (
    item_id           VARCHAR PRIMARY KEY,
    source            VARCHAR NOT NULL,
    tool              VARCHAR NOT NULL,
    source_key        VARCHAR NOT NULL,
    url               VARCHAR,
    title             VARCHAR,
    item_type         VARCHAR,
    is_milestone      BOOLEAN NOT NULL,
    status            VARCHAR,
    status_category   VARCHAR,
    department        VARCHAR,
    owner_id          VARCHAR,
    owner_name        VARCHAR,
    steward_id        VARCHAR,
    due_date          DATE,
    start_date        DATE,
    created_at        TIMESTAMP,
    updated_at        TIMESTAMP,
    completed_at      TIMESTAMP,
    status_changed_at TIMESTAMP,
    parent_id         VARCHAR,
    milestone_id      VARCHAR,
    project           VARCHAR,
    labels            VARCHAR[],
    components        VARCHAR[],
    is_deleted        BOOLEAN NOT NULL,
    synced_at         TIMESTAMP NOT NULL,
    item_no           INTEGER
);
COMMENT ON TABLE work_items IS 'One row per work item from any tool (Jira issue, Asana task, sheet row), including tombstones of deleted items.';
COMMENT ON COLUMN work_items.item_id IS 'Stable id unique across sources: <source>:<source_key>, e.g. it-jira:OPS-42.';
COMMENT ON COLUMN work_items.source IS 'Name of the configured source the item came from.';
COMMENT ON COLUMN work_items.tool IS 'Tool kind: jira, asana, gsheets, xlsx or csv.';
COMMENT ON COLUMN work_items.source_key IS 'The item''s own key in its tool (Jira key, Asana gid, sheet id column).';
COMMENT ON COLUMN work_items.url IS 'Link back to the item in its tool.';
COMMENT ON COLUMN work_items.title IS 'Summary, task name or row title as written in the tool.';
COMMENT ON COLUMN work_items.item_type IS 'Tool item type (Epic, Story, Task, milestone, sheet type column).';
COMMENT ON COLUMN work_items.is_milestone IS 'True for milestones: Jira epics/versions per config, Asana milestones, flagged sheet rows.';
COMMENT ON COLUMN work_items.status IS 'Status as named in the tool (Jira status, Asana section, sheet status).';
COMMENT ON COLUMN work_items.status_category IS 'Normalised status: todo, in_progress or done.';
COMMENT ON COLUMN work_items.department IS 'Owning department, from the ordered department rules in the config.';
COMMENT ON COLUMN work_items.owner_id IS 'person_id of the owner/assignee (see people); null when unassigned.';
COMMENT ON COLUMN work_items.owner_name IS 'Display name of the owner as the tool shows it.';
COMMENT ON COLUMN work_items.steward_id IS 'For milestones: the person accountable (config steward, else the owner).';
COMMENT ON COLUMN work_items.due_date IS 'Due date (Jira duedate, Asana due_on, sheet due column).';
COMMENT ON COLUMN work_items.start_date IS 'Planned start date when the tool has one.';
COMMENT ON COLUMN work_items.created_at IS 'When the item was created in its tool (UTC).';
COMMENT ON COLUMN work_items.updated_at IS 'When the item last changed in its tool (UTC).';
COMMENT ON COLUMN work_items.completed_at IS 'When the item was completed/resolved (UTC); null while open.';
COMMENT ON COLUMN work_items.status_changed_at IS 'Last status change: from tool history, else the first sync that saw the current status.';
COMMENT ON COLUMN work_items.parent_id IS 'item_id of the parent (epic, parent task).';
COMMENT ON COLUMN work_items.milestone_id IS 'item_id of the milestone the item rolls up to (parent chain or fix version).';
COMMENT ON COLUMN work_items.project IS 'Jira project key, Asana project name or worksheet name.';
COMMENT ON COLUMN work_items.labels IS 'Labels/tags as written in the tool.';
COMMENT ON COLUMN work_items.components IS 'Jira components (empty for other tools).';
COMMENT ON COLUMN work_items.is_deleted IS 'True when the item was deleted in its tool (a tombstone kept for history).';
COMMENT ON COLUMN work_items.synced_at IS 'UTC time of the sync that last saw the item.';
COMMENT ON COLUMN work_items.item_no IS 'Integer standing for item_id within this database file (1, 2, ... in item_id order), for fast joins with dependencies.upstream_no/downstream_no. Numbers are per build, not stable across nights: keep item_id for anything stored or compared between runs.';

CREATE TABLE dependencies (
    upstream_id         VARCHAR NOT NULL,
    downstream_id       VARCHAR NOT NULL,
    kind                VARCHAR NOT NULL,
    origin              VARCHAR NOT NULL,
    origins             VARCHAR[] NOT NULL,
    link_types          VARCHAR[],
    reference           VARCHAR,
    is_cross_tool       BOOLEAN NOT NULL,
    is_cross_department BOOLEAN NOT NULL,
    is_resolved         BOOLEAN NOT NULL,
    contract_id         VARCHAR,
    kpi_tension         VARCHAR,
    created_at          TIMESTAMP,
    resolution          VARCHAR NOT NULL DEFAULT 'resolved',
    upstream_no         INTEGER,
    downstream_no       INTEGER,
    -- one row per (upstream_id, downstream_id) by construction (edges are merged by that pair)
);
COMMENT ON TABLE dependencies IS 'One row per "downstream needs upstream" edge, merged across every origin that declares it.';
COMMENT ON COLUMN dependencies.upstream_id IS 'item_id of the work that must happen first; for unresolved references: unresolved:<reference>.';
COMMENT ON COLUMN dependencies.downstream_id IS 'item_id of the work that waits on the upstream.';
COMMENT ON COLUMN dependencies.kind IS 'blocks, depends_on or relates (strongest kind over all origins).';
COMMENT ON COLUMN dependencies.origin IS 'First origin found: jira_link, jira_remote_link, asana_dependency, sheet_column, custom_field or text_reference.';
COMMENT ON COLUMN dependencies.origins IS 'Every origin that declares this edge.';
COMMENT ON COLUMN dependencies.link_types IS 'The tools'' own link type names (e.g. Jira "Blocks").';
COMMENT ON COLUMN dependencies.reference IS 'The reference as written, for unresolved edges (e.g. OPS-999 or a URL).';
COMMENT ON COLUMN dependencies.is_cross_tool IS 'True when both ends live in different tools.';
COMMENT ON COLUMN dependencies.is_cross_department IS 'True when both ends have a department and they differ.';
COMMENT ON COLUMN dependencies.is_resolved IS 'False when the upstream was referenced but found in no synced source: an unmapped dependency.';
COMMENT ON COLUMN dependencies.contract_id IS 'The declared contract covering this handoff (provider = upstream department, consumer = downstream department), if any.';
COMMENT ON COLUMN dependencies.kpi_tension IS 'Description of the KPI tension between the two departments, if one is declared.';
COMMENT ON COLUMN dependencies.created_at IS 'When the edge was first seen by a sync.';
COMMENT ON COLUMN dependencies.upstream_no IS 'work_items.item_no of the upstream; null when the upstream is no synced item (unresolved). Per build, like item_no.';
COMMENT ON COLUMN dependencies.downstream_no IS 'work_items.item_no of the downstream. Per build, like item_no.';
COMMENT ON COLUMN dependencies.resolution IS 'resolved; unmapped (found in no synced source); pending_source (it points into a configured source that failed or has not synced yet: it waits, no finding).';

CREATE TABLE work_item_history (
    item_id         VARCHAR NOT NULL,
    valid_from      TIMESTAMP NOT NULL,
    valid_to        TIMESTAMP,
    status          VARCHAR,
    status_category VARCHAR,
    due_date        DATE,
    owner_id        VARCHAR,
    department      VARCHAR,
    is_deleted      BOOLEAN NOT NULL
);
COMMENT ON TABLE work_item_history IS 'How each item looked at each sync: one row per version (slowly changing, valid_from/valid_to).';
COMMENT ON COLUMN work_item_history.item_id IS 'The work item (see work_items).';
COMMENT ON COLUMN work_item_history.valid_from IS 'Sync time this version was first seen (UTC).';
COMMENT ON COLUMN work_item_history.valid_to IS 'Sync time a newer version replaced it; null for the current version.';
COMMENT ON COLUMN work_item_history.status IS 'Status in this version.';
COMMENT ON COLUMN work_item_history.status_category IS 'Status category in this version.';
COMMENT ON COLUMN work_item_history.due_date IS 'Due date in this version (count versions to see how often it slipped).';
COMMENT ON COLUMN work_item_history.owner_id IS 'Owner in this version.';
COMMENT ON COLUMN work_item_history.department IS 'Department in this version.';
COMMENT ON COLUMN work_item_history.is_deleted IS 'True once the item was deleted.';

CREATE TABLE status_changes (
    item_id       VARCHAR NOT NULL,
    changed_at    TIMESTAMP NOT NULL,
    from_status   VARCHAR,
    to_status     VARCHAR,
    from_category VARCHAR,
    to_category   VARCHAR,
    source        VARCHAR NOT NULL
);
COMMENT ON TABLE status_changes IS 'Every known status change: from tool history (Jira changelog, Asana stories) or observed between two syncs.';
COMMENT ON COLUMN status_changes.item_id IS 'The work item.';
COMMENT ON COLUMN status_changes.changed_at IS 'When the status changed (UTC).';
COMMENT ON COLUMN status_changes.from_status IS 'Status before the change.';
COMMENT ON COLUMN status_changes.to_status IS 'Status after the change.';
COMMENT ON COLUMN status_changes.from_category IS 'Status category before the change.';
COMMENT ON COLUMN status_changes.to_category IS 'Status category after the change.';
COMMENT ON COLUMN status_changes.source IS 'Where the change is known from: jira_changelog, asana_story or observed (between syncs).';

CREATE TABLE people (
    person_id    VARCHAR PRIMARY KEY,
    email        VARCHAR,
    display_name VARCHAR,
    accounts     VARCHAR[]
);
COMMENT ON TABLE people IS 'One person across tools, matched by normalised e-mail and the aliases in the config.';
COMMENT ON COLUMN people.person_id IS 'Stable id: the normalised e-mail, else name:<display name>.';
COMMENT ON COLUMN people.email IS 'E-mail address (lower case, plus-address removed); null when no tool shows one.';
COMMENT ON COLUMN people.display_name IS 'A display name seen for the person.';
COMMENT ON COLUMN people.accounts IS 'Tool accounts seen for the person (source:account or source:name).';

CREATE TABLE departments (
    name        VARCHAR PRIMARY KEY,
    description VARCHAR
);
COMMENT ON TABLE departments IS 'Departments declared in the config.';
COMMENT ON COLUMN departments.name IS 'Department name, as used in work_items.department.';
COMMENT ON COLUMN departments.description IS 'What the department does.';

CREATE TABLE kpis (
    department  VARCHAR NOT NULL,
    name        VARCHAR NOT NULL,
    description VARCHAR
);
COMMENT ON TABLE kpis IS 'The KPIs each department is measured on (from the config).';
COMMENT ON COLUMN kpis.department IS 'Department measured on the KPI.';
COMMENT ON COLUMN kpis.name IS 'KPI name.';
COMMENT ON COLUMN kpis.description IS 'What the KPI measures.';

CREATE TABLE kpi_tensions (
    department_a VARCHAR NOT NULL,
    kpi_a        VARCHAR NOT NULL,
    department_b VARCHAR NOT NULL,
    kpi_b        VARCHAR NOT NULL,
    note         VARCHAR
);
COMMENT ON TABLE kpi_tensions IS 'Pairs of department KPIs declared to pull against each other on shared deliverables.';
COMMENT ON COLUMN kpi_tensions.department_a IS 'First department.';
COMMENT ON COLUMN kpi_tensions.kpi_a IS 'KPI of the first department.';
COMMENT ON COLUMN kpi_tensions.department_b IS 'Second department.';
COMMENT ON COLUMN kpi_tensions.kpi_b IS 'KPI of the second department.';
COMMENT ON COLUMN kpi_tensions.note IS 'Why the KPIs are in tension.';

CREATE TABLE contracts (
    contract_id VARCHAR PRIMARY KEY,
    provider    VARCHAR NOT NULL,
    consumer    VARCHAR NOT NULL,
    notice_days INTEGER NOT NULL,
    description VARCHAR,
    labels      VARCHAR[],
    item_types  VARCHAR[],
    projects    VARCHAR[]
);
COMMENT ON TABLE contracts IS 'Declared handoff contracts: the provider department delivers to the consumer with notice.';
COMMENT ON COLUMN contracts.contract_id IS 'Contract id from the config.';
COMMENT ON COLUMN contracts.provider IS 'Department that delivers (the upstream side).';
COMMENT ON COLUMN contracts.consumer IS 'Department that waits (the downstream side).';
COMMENT ON COLUMN contracts.notice_days IS 'Days of notice the provider needs before the consumer''s due date.';
COMMENT ON COLUMN contracts.description IS 'What the contract covers.';
COMMENT ON COLUMN contracts.labels IS 'When set, only upstream items with one of these labels are covered.';
COMMENT ON COLUMN contracts.item_types IS 'When set, only upstream items of these types are covered.';
COMMENT ON COLUMN contracts.projects IS 'When set, only upstream items in these projects are covered.';

CREATE TABLE exceptions (
    exception_id   VARCHAR NOT NULL,  -- one row per id by construction (rules/lifecycle.py): no key index to build, maintain and checkpoint
    rule_id        VARCHAR NOT NULL,
    severity       VARCHAR NOT NULL,
    subject_ids    VARCHAR[] NOT NULL,
    departments    VARCHAR[],
    owner          VARCHAR,
    message        VARCHAR NOT NULL,
    evidence       JSON,
    classification VARCHAR NOT NULL,
    status         VARCHAR NOT NULL,
    first_seen     TIMESTAMP NOT NULL,
    last_seen      TIMESTAMP NOT NULL,
    resolved_at    TIMESTAMP,
    occurrences    INTEGER NOT NULL,
    blast_radius   INTEGER NOT NULL,
    waiver_reason  VARCHAR,
    waived_until   DATE,
    waived_by      VARCHAR,
    waived_at      TIMESTAMP
);
COMMENT ON TABLE exceptions IS 'One row per finding of a rule, with its lifecycle across runs. Join exception_subjects for the items a finding is about.';
COMMENT ON COLUMN exceptions.exception_id IS 'Unique key (one row per id): stable fingerprint of rule id and subject ids; the same finding keeps its id across runs.';
COMMENT ON COLUMN exceptions.rule_id IS 'The rule that found it (see handoff rules list).';
COMMENT ON COLUMN exceptions.severity IS 'info, warn or fail (tiered rules pick it from their tier column).';
COMMENT ON COLUMN exceptions.subject_ids IS 'The item_ids (or source names) the finding is about, upstream first.';
COMMENT ON COLUMN exceptions.departments IS 'Departments involved, upstream first.';
COMMENT ON COLUMN exceptions.owner IS 'Who should act: a person_id or department, per the rule''s owner routing.';
COMMENT ON COLUMN exceptions.message IS 'One-line explanation for leaders.';
COMMENT ON COLUMN exceptions.evidence IS 'The rule''s evidence columns as JSON.';
COMMENT ON COLUMN exceptions.classification IS 'planned when a declared contract covers the handoff (a known bottleneck), else surprise.';
COMMENT ON COLUMN exceptions.status IS 'open, waived or resolved.';
COMMENT ON COLUMN exceptions.first_seen IS 'Run time the finding first appeared (stable across runs).';
COMMENT ON COLUMN exceptions.last_seen IS 'Run time the finding was last found.';
COMMENT ON COLUMN exceptions.resolved_at IS 'Run time the finding disappeared; cleared if it returns.';
COMMENT ON COLUMN exceptions.occurrences IS 'Number of runs that found it.';
COMMENT ON COLUMN exceptions.blast_radius IS 'How many open items transitively wait on the finding''s subject.';
COMMENT ON COLUMN exceptions.waiver_reason IS 'Why the finding is waived (from waivers.yaml / handoff waive).';
COMMENT ON COLUMN exceptions.waived_until IS 'The waiver''s expiry date; the finding reopens after it.';
COMMENT ON COLUMN exceptions.waived_by IS 'Who recorded the waiver (handoff waive --by, default the OS user).';
COMMENT ON COLUMN exceptions.waived_at IS 'When the waiver was recorded (UTC).';

CREATE TABLE exception_subjects (
    exception_id VARCHAR NOT NULL,
    item_id      VARCHAR NOT NULL,
    role         VARCHAR NOT NULL,
    position     INTEGER NOT NULL  -- unique with exception_id by construction (rules/lifecycle.py); no key index to build
);
COMMENT ON TABLE exception_subjects IS 'Bridge from findings to the items they are about: one row per element of exceptions.subject_ids, for BI tools that cannot unnest lists. Rebuilt by every evaluation.';
COMMENT ON COLUMN exception_subjects.exception_id IS 'The finding (exceptions.exception_id).';
COMMENT ON COLUMN exception_subjects.item_id IS 'A subject of the finding: a work_items.item_id, an unresolved:<reference> for an unmapped upstream, or a source name for source-level rules.';
COMMENT ON COLUMN exception_subjects.role IS 'upstream (first of several subjects), downstream (last), member (in between, e.g. a cycle), or subject (the only one).';
COMMENT ON COLUMN exception_subjects.position IS 'Position in exceptions.subject_ids, from 1 (upstream first).';

CREATE TABLE exception_runs (
    run_id      VARCHAR NOT NULL,
    evaluated_at TIMESTAMP NOT NULL,
    open_fail   INTEGER NOT NULL,
    open_warn   INTEGER NOT NULL,
    open_info   INTEGER NOT NULL,
    new_count   INTEGER NOT NULL,
    resolved_count INTEGER NOT NULL,
    waived_count INTEGER NOT NULL
);
COMMENT ON TABLE exception_runs IS 'Totals of each rule evaluation, for trends of open findings over runs.';
COMMENT ON COLUMN exception_runs.run_id IS 'The sync run (see sync_runs).';
COMMENT ON COLUMN exception_runs.evaluated_at IS 'When the rules were evaluated (UTC).';
COMMENT ON COLUMN exception_runs.open_fail IS 'Open findings of severity fail.';
COMMENT ON COLUMN exception_runs.open_warn IS 'Open findings of severity warn.';
COMMENT ON COLUMN exception_runs.open_info IS 'Open findings of severity info.';
COMMENT ON COLUMN exception_runs.new_count IS 'Findings first seen in this run.';
COMMENT ON COLUMN exception_runs.resolved_count IS 'Findings resolved in this run.';
COMMENT ON COLUMN exception_runs.waived_count IS 'Findings suppressed by a waiver in this run.';

CREATE TABLE rule_problems (
    run_id       VARCHAR NOT NULL,
    evaluated_at TIMESTAMP NOT NULL,
    rule_id      VARCHAR,
    rule_file    VARCHAR NOT NULL,
    field        VARCHAR NOT NULL,
    reason       VARCHAR NOT NULL
);
COMMENT ON TABLE rule_problems IS 'Rules (and waivers) the last evaluation could not apply: rejected files, refused SQL, time or row limits, run-time errors. Replaced by every evaluation.';
COMMENT ON COLUMN rule_problems.run_id IS 'The evaluation (sync run or check) that skipped them.';
COMMENT ON COLUMN rule_problems.evaluated_at IS 'When the rules were evaluated (UTC).';
COMMENT ON COLUMN rule_problems.rule_id IS 'The rule skipped, when its file names one.';
COMMENT ON COLUMN rule_problems.rule_file IS 'The rule file (or folder, or waivers file) at fault.';
COMMENT ON COLUMN rule_problems.field IS 'The field of that file at fault, e.g. query.';
COMMENT ON COLUMN rule_problems.reason IS 'Why it was not evaluated; its open findings carry over unchanged.';

CREATE TABLE sync_runs (
    run_id      VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status      VARCHAR NOT NULL,
    full_sync   BOOLEAN,
    items       BIGINT,
    changed     BIGINT,
    deleted     BIGINT,
    rejected    BIGINT,
    requests    BIGINT,
    retries     BIGINT,
    seconds     DOUBLE,
    error       VARCHAR,
    last_success_at TIMESTAMP
);
COMMENT ON TABLE sync_runs IS 'What each run fetched per source: counts, requests, duration and errors.';
COMMENT ON COLUMN sync_runs.run_id IS 'Id of the run.';
COMMENT ON COLUMN sync_runs.source IS 'Configured source name.';
COMMENT ON COLUMN sync_runs.started_at IS 'When the fetch started (UTC).';
COMMENT ON COLUMN sync_runs.finished_at IS 'When the fetch ended (UTC).';
COMMENT ON COLUMN sync_runs.status IS 'success, failed (the source kept its last good data) or skipped.';
COMMENT ON COLUMN sync_runs.full_sync IS 'True for a full sync, false for an incremental one.';
COMMENT ON COLUMN sync_runs.items IS 'Live items of the source in the model after the run.';
COMMENT ON COLUMN sync_runs.changed IS 'Records new or changed in this fetch.';
COMMENT ON COLUMN sync_runs.deleted IS 'Records tombstoned in this fetch.';
COMMENT ON COLUMN sync_runs.rejected IS 'Records rejected in this fetch (see rejected_records).';
COMMENT ON COLUMN sync_runs.requests IS 'HTTP requests made by the fetch.';
COMMENT ON COLUMN sync_runs.retries IS 'Requests retried after 429/5xx.';
COMMENT ON COLUMN sync_runs.seconds IS 'Wall time of the fetch in seconds.';
COMMENT ON COLUMN sync_runs.error IS 'Why the fetch failed (no secrets).';
COMMENT ON COLUMN sync_runs.last_success_at IS 'When the source last synced successfully (drives stale_source).';

CREATE TABLE rejected_records (
    run_id      VARCHAR,
    source      VARCHAR NOT NULL,
    location    VARCHAR NOT NULL,
    column_name VARCHAR,
    reason      VARCHAR NOT NULL,
    raw         JSON
);
COMMENT ON TABLE rejected_records IS 'Input that could not be normalised, kept raw with the place and reason; the run went on without it.';
COMMENT ON COLUMN rejected_records.run_id IS 'The fetch that rejected it.';
COMMENT ON COLUMN rejected_records.source IS 'Configured source name.';
COMMENT ON COLUMN rejected_records.location IS 'Where: file / sheet / row N, or the API item.';
COMMENT ON COLUMN rejected_records.column_name IS 'The column or field at fault, when one is.';
COMMENT ON COLUMN rejected_records.reason IS 'What is wrong and what to fix.';
COMMENT ON COLUMN rejected_records.raw IS 'The raw record as read.';

CREATE VIEW handoffs AS
SELECT
    d.upstream_id, d.downstream_id, d.kind, d.origins, d.is_cross_tool,
    u.department AS upstream_department, w.department AS downstream_department,
    u.title AS upstream_title, w.title AS downstream_title,
    u.owner_id AS upstream_owner_id, w.owner_id AS downstream_owner_id,
    u.status AS upstream_status, w.status AS downstream_status,
    u.status_category AS upstream_status_category, w.status_category AS downstream_status_category,
    u.due_date AS upstream_due_date, w.due_date AS downstream_due_date,
    u.status_changed_at AS upstream_status_changed_at, w.status_changed_at AS downstream_status_changed_at,
    d.contract_id, d.kpi_tension
FROM dependencies d
JOIN work_items w ON w.item_id = d.downstream_id
LEFT JOIN work_items u ON u.item_id = d.upstream_id
WHERE d.is_cross_department;
COMMENT ON VIEW handoffs IS 'Cross-department dependencies with both sides'' department, owner, status, due date, last status change, contract and KPI tension. Both sides are always synced items (an unmapped upstream has no department; see dependencies.is_resolved).';

CREATE VIEW open_exceptions AS
SELECT * FROM exceptions WHERE status = 'open';
COMMENT ON VIEW open_exceptions IS 'Findings that are open now (not resolved, not waived).';
COMMENT ON COLUMN handoffs.upstream_id IS 'item_id of the providing side (see dependencies).';
COMMENT ON COLUMN handoffs.downstream_id IS 'item_id of the waiting side.';
COMMENT ON COLUMN handoffs.kind IS 'blocks, depends_on or relates.';
COMMENT ON COLUMN handoffs.origins IS 'Every origin that declares the edge.';
COMMENT ON COLUMN handoffs.is_cross_tool IS 'True when the two sides live in different tools.';
COMMENT ON COLUMN handoffs.upstream_department IS 'Department of the providing side.';
COMMENT ON COLUMN handoffs.downstream_department IS 'Department of the waiting side.';
COMMENT ON COLUMN handoffs.upstream_title IS 'Title of the upstream item.';
COMMENT ON COLUMN handoffs.downstream_title IS 'Title of the downstream item.';
COMMENT ON COLUMN handoffs.upstream_owner_id IS 'person_id owning the upstream item.';
COMMENT ON COLUMN handoffs.downstream_owner_id IS 'person_id owning the downstream item.';
COMMENT ON COLUMN handoffs.upstream_status IS 'Tool status of the upstream item.';
COMMENT ON COLUMN handoffs.downstream_status IS 'Tool status of the downstream item.';
COMMENT ON COLUMN handoffs.upstream_status_category IS 'todo, in_progress or done for the upstream item.';
COMMENT ON COLUMN handoffs.downstream_status_category IS 'todo, in_progress or done for the downstream item.';
COMMENT ON COLUMN handoffs.upstream_due_date IS 'Due date of the upstream item.';
COMMENT ON COLUMN handoffs.downstream_due_date IS 'Due date of the downstream item.';
COMMENT ON COLUMN handoffs.upstream_status_changed_at IS 'Last status change of the upstream item.';
COMMENT ON COLUMN handoffs.downstream_status_changed_at IS 'Last status change of the downstream item.';
COMMENT ON COLUMN handoffs.contract_id IS 'The contract covering the handoff, if any.';
COMMENT ON COLUMN handoffs.kpi_tension IS 'The KPI tension between the two departments, if declared.';

-- Reported status, due-date history and forecasts along the dependency chain.

ALTER TABLE dependencies ADD COLUMN created_from VARCHAR;
COMMENT ON COLUMN dependencies.created_from IS 'Where created_at comes from: jira_changelog (Link history), asana_story (dependency added), first_seen (a sync after the first saw it appear), or null when unknown (edges present at the first sync that no tool history dates).';

CREATE TABLE status_reports (
    subject_id      VARCHAR NOT NULL,
    subject_kind    VARCHAR NOT NULL,
    source          VARCHAR NOT NULL,
    project         VARCHAR,
    reported_status VARCHAR,
    rag             VARCHAR,
    reported_at     TIMESTAMP,
    reporter        VARCHAR,
    text            VARCHAR,
    origin          VARCHAR NOT NULL
);
COMMENT ON TABLE status_reports IS 'What teams report about their work: Asana project status updates, a Jira health/RAG field, a sheet RAG column. History is kept: one row per report (per sync for fields without their own date).';
COMMENT ON COLUMN status_reports.subject_id IS 'The item_id reported on, or <source>:project/<gid> for a whole Asana project.';
COMMENT ON COLUMN status_reports.subject_kind IS 'item or project.';
COMMENT ON COLUMN status_reports.source IS 'Configured source the report came from.';
COMMENT ON COLUMN status_reports.project IS 'Project the report covers (Asana project name, Jira project key, worksheet); items of this source and project inherit a project report.';
COMMENT ON COLUMN status_reports.reported_status IS 'The status as the tool or the team wrote it (on_track, "Green", "At risk"...).';
COMMENT ON COLUMN status_reports.rag IS 'Normalised: green, amber, red, on_hold or complete; null when the value is not recognised.';
COMMENT ON COLUMN status_reports.reported_at IS 'When the report was made (the update''s creation time; for fields, the sync that first saw the value).';
COMMENT ON COLUMN status_reports.reporter IS 'person_id or name of who reported, when known.';
COMMENT ON COLUMN status_reports.text IS 'Title and text of the report, when there is one.';
COMMENT ON COLUMN status_reports.origin IS 'asana_status_update, jira_field or sheet_column.';

CREATE TABLE due_date_changes (
    item_id    VARCHAR NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    from_due   DATE,
    to_due     DATE,
    source     VARCHAR NOT NULL
);
COMMENT ON TABLE due_date_changes IS 'Every known due-date change: Jira changelog (duedate), Asana stories (due date changed), or observed between two syncs.';
COMMENT ON COLUMN due_date_changes.item_id IS 'The work item.';
COMMENT ON COLUMN due_date_changes.changed_at IS 'When the due date changed (UTC).';
COMMENT ON COLUMN due_date_changes.from_due IS 'Due date before the change (null: none was set).';
COMMENT ON COLUMN due_date_changes.to_due IS 'Due date after the change (null: removed).';
COMMENT ON COLUMN due_date_changes.source IS 'jira_changelog, asana_story or observed (between syncs).';

CREATE TABLE forecasts (
    item_id              VARCHAR NOT NULL,
    due_date             DATE,
    own_finish           DATE,
    forecast_finish      DATE NOT NULL,
    slip_days            INTEGER,
    critical_upstream_id VARCHAR,
    chain                VARCHAR[] NOT NULL,
    is_stalled           BOOLEAN NOT NULL
);
COMMENT ON TABLE forecasts IS 'For every open item and milestone with a date: when it will finish if the work upstream finishes when it is forecast to (recomputed by every build).';
COMMENT ON COLUMN forecasts.item_id IS 'The open work item or milestone.';
COMMENT ON COLUMN forecasts.due_date IS 'Its own due date.';
COMMENT ON COLUMN forecasts.own_finish IS 'Its finish ignoring upstream: the due date, not before today; a stalled item (no status change for the typical cycle time) not before today plus the typical cycle time.';
COMMENT ON COLUMN forecasts.forecast_finish IS 'Forecast finish: the latest of its own finish and, for each open upstream (blocking dependencies and the items rolling up to a milestone), the upstream''s forecast plus this item''s planned duration (due - start).';
COMMENT ON COLUMN forecasts.slip_days IS 'forecast_finish - due_date in days (positive: late); null without a due date.';
COMMENT ON COLUMN forecasts.critical_upstream_id IS 'The upstream item that pushes the forecast past its own finish; null when nothing upstream does.';
COMMENT ON COLUMN forecasts.chain IS 'The critical chain, root cause first and this item last.';
COMMENT ON COLUMN forecasts.is_stalled IS 'True when the item itself counts as stalled (idle at least the typical cycle time).';
