"""The public model documents itself: every table, view and column carries a comment."""

from __future__ import annotations

import duckdb

from model.dictionary import DICTIONARY, render
from model.schema import (
    PUBLIC_TABLES,
    PUBLIC_VIEWS,
    SCHEMA_VERSION,
    create_schema,
    migrate,
    pending_migrations,
)


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


def test_schema_version_is_recorded_and_migrations_apply_in_order() -> None:
    con = duckdb.connect()
    create_schema(con)
    con.execute("INSERT INTO schema_info VALUES (?, now(), 'r')", [SCHEMA_VERSION])
    assert pending_migrations(SCHEMA_VERSION) == []
    assert migrate(con) == SCHEMA_VERSION
