"""The commented `handoff.yaml` template written by `handoff init`."""

CONFIG_TEMPLATE = """\
# Handoff configuration. Paths are relative to this file. Secrets are never written here:
# write ${ENV_VAR} and set the variable in the environment of the sync (or the Dagster daemon).
version: 1
organisation: My company

database: data/handoff.duckdb      # the analysts' database, replaced atomically after each run
data_dir: data                     # raw stores per source, build files, run state
report:
  html: reports/handoff.html
  markdown: reports/handoff.md
  json: reports/handoff.json

schedule:
  cron: "0 2 * * *"                # nightly at 02:00 ...
  timezone: Europe/Berlin          # ... in this time zone

sync:
  retries: 2                       # Dagster retries of a failed source (with backoff)
  retry_delay_seconds: 30
  parallel_sources: 4              # sources fetched at once (multiprocess executor)
  executor: in_process             # or multiprocess: one process per source step

departments:
  - name: Marketing
    kpis: [{name: user_acquisition, description: New loyalty members per month}]
  - name: IT Operations
    kpis: [{name: uptime}, {name: server_cost}]
    # other spellings tools use for this department (case and spacing never matter);
    # a department no entry declares is kept, and `handoff sync` warns about it
    aliases: ["IT Ops", "Information Technology"]
  - name: Finance

kpi_tensions:
  - between: [Marketing.user_acquisition, IT Operations.server_cost]
    note: Campaign traffic needs capacity that raises server cost

contracts:
  - id: it-capacity-for-marketing
    provider: IT Operations        # delivers (upstream)
    consumer: Marketing            # waits (downstream)
    notice_days: 14
    filters: {labels: [capacity]}

department_rules:                  # first match wins; else the item's own column; else the source's department
  - {source: it-jira, project: OPS, department: IT Operations}

milestone_stewards: {}             # who stewards a milestone when it is not its owner, e.g.
                                   # {"it-jira:OPS-1": ana.lopez@example.com}

people:                            # accounts without a visible e-mail, or sheet names
  - email: ana.lopez@example.com
    names: [Ana Lopez, A. Lopez]

rules:
  paths: []                        # your own rule folders, next to the built-in pack
  params:
    stalled_dependency: {stall_days: 10}
  disabled: []
  waivers: waivers.yaml

# webhook:
#   url: ${HANDOFF_WEBHOOK_URL}
#   format: slack                  # or teams

sources:
  - name: finance-plan
    kind: csv
    department: Finance
    path: plans/finance.csv
    date_order: dmy                # 31.12.2026
    columns: {id: ID, title: Task, status: Status, owner: Owner, due: Due, depends_on: Depends on}
    status_map: {Approved: done, Pending: todo}

  # Every source also takes: department, enabled, max_drop_share (0.5: a blocking check stops
  # the publish when a source loses more than half its items), max_retry_wait_seconds (300: how
  # long one request may keep retrying; a longer Retry-After fails the sync at once).
  # - name: it-jira
  #   kind: jira
  #   url: https://your-site.atlassian.net
  #   email: ops-bot@example.com
  #   token: ${JIRA_API_TOKEN}
  #   projects: [OPS]

  # - name: marketing-asana
  #   kind: asana
  #   token: ${ASANA_TOKEN}
  #   workspace: "1200000000000"
  #   custom_fields: {department: Department, jira_key: Jira key}

  # - name: store-ops
  #   kind: xlsx
  #   path: plans/store-ops.xlsx

  # - name: finance-budget
  #   kind: gsheets
  #   spreadsheet_id: 1AbC...
  #   credentials_file: secrets/service-account.json
"""
