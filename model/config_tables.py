"""Config-declared tables (departments, KPIs, tensions, contracts) and the edges they cover."""

from __future__ import annotations

import duckdb

from handoff.config import HandoffConfig


def fill(con: duckdb.DuckDBPyConnection, config: HandoffConfig) -> None:
    """Departments, KPIs, KPI tensions ("Department.kpi" on each side) and contracts."""
    for dept in config.departments:
        con.execute("INSERT INTO departments VALUES (?, ?)", [dept.name, dept.description])
        for kpi in dept.kpis:
            con.execute("INSERT INTO kpis VALUES (?, ?, ?)", [dept.name, kpi.name, kpi.description])
    for tension in config.kpi_tensions:
        (dept_a, _, kpi_a), (dept_b, _, kpi_b) = (side.rpartition(".") for side in tension.between)
        con.execute(
            "INSERT INTO kpi_tensions VALUES (?, ?, ?, ?, ?)",
            [
                dept_a or kpi_a,
                kpi_a if dept_a else "",
                dept_b or kpi_b,
                kpi_b if dept_b else "",
                tension.note,
            ],
        )
    for c in config.contracts:
        con.execute(
            "INSERT INTO contracts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                c.id,
                c.provider,
                c.consumer,
                c.notice_days,
                c.description,
                c.filters.labels,
                c.filters.item_types,
                c.filters.projects,
            ],
        )


def mark_contracts_and_tensions(con: duckdb.DuckDBPyConnection) -> None:
    """Set `contract_id` and `kpi_tension` on cross-department edges.

    A contract covers an edge from its provider (upstream) department to its consumer
    (downstream) department whose upstream item passes the contract's filters (any of its labels,
    one of its item types, one of its projects; an empty filter passes everything). A KPI tension
    marks edges between its two departments in either direction.
    """
    con.execute(
        """
        UPDATE dependencies d SET contract_id = m.contract_id FROM (
            -- the most specific covering contract wins (more filters first), then by id
            SELECT d.upstream_id, d.downstream_id,
                   min({'generality': -(coalesce(len(c.labels), 0) > 0)::INTEGER
                                      - (coalesce(len(c.item_types), 0) > 0)::INTEGER
                                      - (coalesce(len(c.projects), 0) > 0)::INTEGER,
                        'contract_id': c.contract_id}).contract_id AS contract_id
            FROM dependencies d
            JOIN work_items u ON u.item_id = d.upstream_id
            JOIN work_items w ON w.item_id = d.downstream_id
            JOIN contracts c ON c.provider = u.department AND c.consumer = w.department
            WHERE d.is_cross_department
              AND (coalesce(len(c.labels), 0) = 0
                   OR len(list_intersect(c.labels, u.labels)) > 0)
              AND (coalesce(len(c.item_types), 0) = 0 OR list_contains(c.item_types, u.item_type))
              AND (coalesce(len(c.projects), 0) = 0 OR list_contains(c.projects, u.project))
            GROUP BY ALL
        ) m WHERE d.upstream_id = m.upstream_id AND d.downstream_id = m.downstream_id;

        UPDATE dependencies d SET kpi_tension = m.tension FROM (
            SELECT d.upstream_id, d.downstream_id,
                   string_agg(t.department_a || '.' || t.kpi_a || ' vs ' || t.department_b || '.'
                              || t.kpi_b || coalesce(': ' || nullif(t.note, ''), ''), '; ') AS tension
            FROM dependencies d
            JOIN work_items u ON u.item_id = d.upstream_id
            JOIN work_items w ON w.item_id = d.downstream_id
            JOIN kpi_tensions t
              ON (t.department_a = u.department AND t.department_b = w.department)
              OR (t.department_b = u.department AND t.department_a = w.department)
            WHERE d.is_cross_department
            GROUP BY ALL
        ) m WHERE d.upstream_id = m.upstream_id AND d.downstream_id = m.downstream_id;
        """
    )
