"""The public model documents itself: every table, view and column carries a comment."""

from __future__ import annotations

from pathlib import Path

import duckdb

from model.dictionary import DICTIONARY, render
from model.history import carry_previous
from model.schema import PUBLIC_TABLES, PUBLIC_VIEWS, create_schema


def test_every_public_table_and_column_has_a_comment() -> None:
    con = duckdb.connect()
    create_schema(con)
    names = (*PUBLIC_TABLES, *PUBLIC_VIEWS)
    columns = con.execute(
        "SELECT table_name, column_name, comment FROM duckdb_columns() "
        "WHERE schema_name = 'main' AND NOT internal AND database_name = current_database()"
    ).fetchall()
    assert {t for t, _, _ in columns} == set(names)
    undocumented = [f"{t}.{c}" for t, c, comment in columns if not comment]
    assert undocumented == []
    objects = con.execute(
        "SELECT table_name, comment FROM duckdb_tables() UNION ALL SELECT view_name, comment FROM duckdb_views() "
        "WHERE NOT internal"
    ).fetchall()
    assert [n for n, comment in objects if n in names and not comment] == []


def test_data_dictionary_is_generated_from_the_current_schema() -> None:
    assert DICTIONARY.read_text() == render(), "run `python -m model.dictionary`"


def test_history_carries_over_from_a_file_written_before_a_column_was_added(
    tmp_path: Path,
) -> None:
    """No migration step exists: a build copies the accumulating tables by column name, so a
    previous file that lacks a newer nullable column still hands over its history."""
    previous = tmp_path / "previous.duckdb"
    old = duckdb.connect(str(previous))
    create_schema(old)
    old.execute("DROP VIEW open_exceptions")  # depends on the column the older shape lacks
    old.execute("ALTER TABLE exceptions DROP COLUMN waiver_reason")
    old.execute("ALTER TABLE status_changes DROP COLUMN from_category")
    old.execute(
        "INSERT INTO exceptions BY NAME SELECT 'x1' AS exception_id, 'stale_source' AS rule_id, "
        "'warn' AS severity, ['jira:OPS-1'] AS subject_ids, 'stale' AS message, "
        "'new' AS classification, 'open' AS status, now() AS first_seen, now() AS last_seen, "
        "1 AS occurrences, 1 AS blast_radius"
    )
    old.execute(
        "INSERT INTO status_changes BY NAME SELECT 'jira:OPS-1' AS item_id, now() AS changed_at, "
        "'To Do' AS from_status, 'Done' AS to_status, 'done' AS to_category, 'observed' AS source"
    )
    old.close()

    con = duckdb.connect(str(tmp_path / "new.duckdb"))
    create_schema(con)
    con.execute(f"ATTACH '{previous}' AS prev (READ_ONLY)")
    carry_previous(con, has_prev=True)

    assert con.execute("SELECT exception_id, waiver_reason FROM exceptions").fetchall() == [
        ("x1", None)
    ]
    assert con.execute(
        "SELECT item_id, from_status, from_category, to_category FROM status_changes"
    ).fetchall() == [("jira:OPS-1", "To Do", None, "done")]
