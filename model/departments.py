"""Departments for items: ordered config rules, then the item's own value, then the source default.

A rule matches on any of source, project (Jira project key, Asana project gid or name, worksheet),
Jira component and label, and a custom field's value (Jira/Asana custom fields by model name;
`department` also reads the item's own department, e.g. a sheet's department column, so rules can
rename what a tool calls a team). The item's own value is what its tool says: a sheet's department
column, an Asana or Jira department field.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from handoff.config import Department, DepartmentRule, SourceBase


def department_key(name: str) -> str:
    """What makes two spellings one department: case and runs of spaces do not count."""
    return " ".join(name.split()).lower()


def canonicalise_departments(
    con: duckdb.DuckDBPyConnection, departments: Sequence[Department]
) -> None:
    """Rewrite `department_map` so each department has one name: a configured department or
    one of its aliases becomes the configured name; any other value keeps its most common
    spelling (so "store ops" and "Store  Ops" do not split one team in two)."""
    names = {department_key(d.name): d.name for d in departments}
    for department in departments:
        for alias in department.aliases:
            names.setdefault(department_key(alias), department.name)
    con.register(
        "department_names",
        pa.table(
            {"key": list(names), "name": list(names.values())},
            schema=pa.schema([("key", pa.string()), ("name", pa.string())]),
        ),
    )
    con.execute(
        r"""
        CREATE OR REPLACE TEMP TABLE department_map AS
        WITH spaced AS (
            SELECT item_id,
                   nullif(trim(regexp_replace(department, '\s+', ' ', 'g')), '') AS department
            FROM department_map
        ),
        keyed AS (SELECT *, lower(department) AS key FROM spaced),
        spellings AS (
            SELECT key, department, count(*) AS n FROM keyed WHERE key IS NOT NULL GROUP BY ALL
        ),
        spelling AS (
            SELECT key, arg_max(department, (n, department)) AS department
            FROM spellings GROUP BY key
        )
        SELECT k.item_id, coalesce(c.name, s.department) AS department
        FROM keyed k
        LEFT JOIN department_names c ON c.key = k.key
        LEFT JOIN spelling s ON s.key = k.key
        """
    )
    con.unregister("department_names")


def build_department_map(
    con: duckdb.DuckDBPyConnection,
    department_rules: list[DepartmentRule],
    sources: Sequence[SourceBase],
) -> None:
    """Fill the temp table `department_map` (item_id -> department).

    The first matching rule wins; rules are matched set-based with the rule's position as rank.
    """
    con.register(
        "department_rules",
        pa.table(
            {
                "rank": list(range(len(department_rules))),
                "department": [r.department for r in department_rules],
                "source": [r.source for r in department_rules],
                "project": [r.project for r in department_rules],
                "component": [r.component for r in department_rules],
                "label": [r.label for r in department_rules],
                "custom_field": [r.custom_field for r in department_rules],
                "value": [r.value for r in department_rules],
            },
            schema=pa.schema(
                [("rank", pa.int64())]
                + [
                    (n, pa.string())
                    for n in (
                        "department",
                        "source",
                        "project",
                        "component",
                        "label",
                        "custom_field",
                        "value",
                    )
                ]
            ),
        ),
    )
    con.register(
        "source_defaults",
        pa.table(
            {"source": [s.name for s in sources], "department": [s.department for s in sources]},
            schema=pa.schema([("source", pa.string()), ("department", pa.string())]),
        ),
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE department_map AS
        WITH matched AS (
            SELECT i.item_id, arg_min(r.department, r.rank) AS department
            FROM stg_items i JOIN department_rules r
              ON (r.source IS NULL OR r.source = i.source)
             AND (r.project IS NULL OR lower(r.project) = lower(i.project)
                  OR r.project = i.project_id)
             AND (r.component IS NULL OR list_contains(i.components, r.component))
             AND (r.label IS NULL OR list_contains(i.labels, r.label))
             AND (r.custom_field IS NULL OR lower(trim(coalesce(
                      json_extract_string(i.custom, '$."' || r.custom_field || '"'),
                      CASE WHEN lower(r.custom_field) = 'department' THEN i.department END)))
                  = lower(trim(r.value)))
            GROUP BY i.item_id
        )
        SELECT i.item_id, coalesce(m.department, nullif(trim(i.department), ''), d.department) AS department
        FROM stg_items i
        LEFT JOIN matched m USING (item_id)
        LEFT JOIN source_defaults d ON d.source = i.source
        """
    )
    con.unregister("department_rules")
    con.unregister("source_defaults")
