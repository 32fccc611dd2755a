"""One person across tools: e-mail matching and config aliases (model.people)."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handoff.config import PersonAlias
from model.build import STAGING_SQL
from model.people import NORMALISED_EMAIL, build_people, normalised_email
from model.schema import create_schema


def people_of(
    owners: list[dict[str, Any]], aliases: list[PersonAlias] | None = None
) -> tuple[dict[str, str], list[tuple[Any, ...]]]:
    """(item_id -> person_id, people rows) for items with the given owner fields."""
    con = duckdb.connect()
    create_schema(con)
    con.execute(STAGING_SQL)
    for n, owner in enumerate(owners):
        item = {"item_id": f"s{n}:{n}", "source": f"s{n}", "tool": "csv", "source_key": str(n)}
        item.update(owner)
        con.execute(
            f"INSERT INTO stg_items ({', '.join(item)}) VALUES ({', '.join('?' * len(item))})",
            list(item.values()),
        )
    build_people(con, aliases or [])
    owner_map = dict(con.execute("SELECT item_id, person_id FROM owner_map").fetchall())
    people = con.execute("SELECT * FROM people ORDER BY person_id").fetchall()
    con.close()
    return {k: str(v) for k, v in owner_map.items()}, people


def test_email_matching_ignores_case_spaces_and_plus_addresses() -> None:
    owners, people = people_of(
        [
            {"owner_email": "Ann.Lee@Acme.example", "owner_name": "Ann Lee"},
            {
                "owner_email": "ann.lee+jira@acme.example",
                "owner_account": "5b10ac8d82e05b22cc7d4ef5",
            },
            {"owner_email": "  ANN.LEE+asana+x@ACME.EXAMPLE ", "owner_account": "1200"},
            {"owner_email": "ann.lee@other.example"},
        ]
    )
    assert set(owners.values()) == {"ann.lee@acme.example", "ann.lee@other.example"}
    ann = next(p for p in people if p[0] == "ann.lee@acme.example")
    assert ann[1:] == (
        "ann.lee@acme.example",
        "Ann Lee",
        ["s0:Ann Lee", "s1:5b10ac8d82e05b22cc7d4ef5", "s2:1200"],
    )


def test_aliases_tie_hidden_email_accounts_and_display_names_to_one_person() -> None:
    aliases = [
        PersonAlias(
            email="Bo.Chen+work@Acme.example",
            names=["Bo Chen", "B. Chen"],
            account_ids=["557058:f00d"],
        )
    ]
    owners, people = people_of(
        [
            # Jira Cloud with the e-mail hidden: only the accountId and display name
            {"owner_account": "557058:f00d", "owner_name": "Bo (IT)"},
            # sheets: a display name only, written differently
            {"owner_name": "  bo   CHEN "},
            {"owner_name": "B. Chen"},
            # Asana with the e-mail
            {"owner_email": "bo.chen@acme.example", "owner_account": "1201"},
            # someone the aliases do not know
            {"owner_name": "Dee Park"},
            {"owner_name": "dee  park"},
        ],
        aliases,
    )
    assert owners == {
        "s0:0": "bo.chen@acme.example",
        "s1:1": "bo.chen@acme.example",
        "s2:2": "bo.chen@acme.example",
        "s3:3": "bo.chen@acme.example",
        "s4:4": "name:dee park",
        "s5:5": "name:dee park",
    }
    assert [p[0] for p in people] == ["bo.chen@acme.example", "name:dee park"]
    assert people[0][3] == ["s0:557058:f00d", "s1:bo   CHEN", "s2:B. Chen", "s3:1201"]
    assert people[1][1] is None  # no e-mail known


def test_items_without_an_owner_have_no_person() -> None:
    owners, people = people_of([{"owner_name": "  "}, {}])
    assert owners == {} and people == []


def test_an_account_without_name_or_alias_is_its_own_person() -> None:
    owners, people = people_of([{"owner_account": "acc-9"}, {"owner_account": "acc-10"}])
    assert owners == {"s0:0": "name:acc-9", "s1:1": "name:acc-10"}
    assert len(people) == 2


CON = duckdb.connect()
local_parts = st.from_regex(r"[a-z][a-z0-9._-]{0,10}", fullmatch=True)
domains = st.from_regex(r"[a-z][a-z0-9-]{0,8}\.(com|example|co\.uk)", fullmatch=True)
tags = st.one_of(st.just(""), st.from_regex(r"\+[a-z0-9.+-]{0,6}", fullmatch=True))


@settings(max_examples=50, deadline=None)
@given(local_parts, domains, tags, st.sampled_from([str.upper, str.lower, str.title]))
def test_sql_and_python_normalise_emails_alike(
    local: str, domain: str, tag: str, case: Any
) -> None:
    written = f" {case(local + tag)}@{case(domain)} "
    sql = NORMALISED_EMAIL.format(col="?")
    (in_sql,) = CON.execute(f"SELECT {sql}", [written]).fetchone() or (None,)
    assert in_sql == normalised_email(written) == f"{local}@{domain}"


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_email_is_no_email(blank: str) -> None:
    (value,) = CON.execute(f"SELECT {NORMALISED_EMAIL.format(col='?')}", [blank]).fetchone() or (
        "x",
    )
    assert value is None
