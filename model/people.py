"""One person across tools: matched by normalised e-mail, then by the config's aliases.

Tools disagree on who someone is: Jira Cloud may hide the e-mail behind an accountId, sheets
only have a display name, people use plus-addresses. E-mails are compared lower-case without a
`+tag`; accounts and names without an e-mail take the e-mail of the config alias that lists them.
Whoever still has no e-mail is `name:<display name>`, so one name in one sheet stays one person.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from handoff.config import PersonAlias

# lower-case, drop a +tag before the @: Ann.Lee+jira@x.com -> ann.lee@x.com
NORMALISED_EMAIL = "nullif(regexp_replace(lower(trim({col})), '\\+[^@]*@', '@'), '')"
# names compare lower-case with runs of spaces collapsed: "Ann  Lee " -> "ann lee"
NORMALISED_NAME = "nullif(regexp_replace(lower(trim({col})), '\\s+', ' ', 'g'), '')"


def normalised_email(email: str) -> str:
    """The Python twin of NORMALISED_EMAIL, for config aliases."""
    local, _, domain = email.strip().lower().partition("@")
    return f"{local.split('+', 1)[0]}@{domain}" if domain else local


def normalised_name(name: str) -> str:
    """The Python twin of NORMALISED_NAME."""
    return " ".join(name.lower().split())


def _alias_table(aliases: list[PersonAlias]) -> pa.Table:
    rows: list[tuple[str, str | None, str | None]] = [
        (normalised_email(a.email), normalised_name(n), None) for a in aliases for n in a.names
    ]
    rows += [
        (normalised_email(a.email), None, acct.strip()) for a in aliases for acct in a.account_ids
    ]
    return pa.table(
        {
            "email": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "account": [r[2] for r in rows],
        },
        schema=pa.schema([("email", pa.string()), ("name", pa.string()), ("account", pa.string())]),
    )


def build_people(con: duckdb.DuckDBPyConnection, aliases: list[PersonAlias]) -> None:
    """Fill `people` and the temp table `owner_map` (item_id -> person_id)."""
    con.register("alias_rows", _alias_table(aliases))
    email = NORMALISED_EMAIL.format(col="i.owner_email")
    name = NORMALISED_NAME.format(col="i.owner_name")
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE owner_map AS
            SELECT i.item_id, i.source, i.owner_name, i.owner_account,
                   coalesce({email}, by_account.email, by_name.email) AS email,
                   {name} AS name_key
            FROM stg_items i
            LEFT JOIN (SELECT account, min(email) AS email FROM alias_rows
                       WHERE account IS NOT NULL GROUP BY account) by_account
                   ON by_account.account = i.owner_account
            LEFT JOIN (SELECT name, min(email) AS email FROM alias_rows
                       WHERE name IS NOT NULL GROUP BY name) by_name
                   ON by_name.name = {name}
            WHERE nullif(trim(i.owner_email), '') IS NOT NULL
               OR nullif(trim(i.owner_name), '') IS NOT NULL
               OR nullif(trim(i.owner_account), '') IS NOT NULL
            """
        )
        con.execute(
            """
            ALTER TABLE owner_map ADD COLUMN person_id VARCHAR;
            UPDATE owner_map SET person_id = coalesce(
                email, 'name:' || coalesce(name_key, lower(trim(owner_account))));
            INSERT INTO people
            SELECT person_id, any_value(email),
                   coalesce(max(nullif(trim(owner_name), '')), any_value(email),
                            substr(person_id, 6)),
                   list_sort(list_distinct(list(
                       source || ':' || coalesce(nullif(trim(owner_account), ''),
                                                 nullif(trim(owner_name), ''), email))))
            FROM owner_map GROUP BY person_id;
            """
        )
    finally:
        con.unregister("alias_rows")


def assign_stewards(con: duckdb.DuckDBPyConnection, stewards: dict[str, str]) -> None:
    """Milestones named in the config get that steward; the others keep their owner.

    Needs `work_items` filled (its `steward_id` defaults to the milestone's owner). A steward who
    owns nothing yet still becomes a person, so the milestone's steward can be looked up.
    """
    if not stewards:
        return
    con.register(
        "steward_rows",
        pa.table(
            {
                "item_id": list(stewards),
                "email": [normalised_email(e) for e in stewards.values()],
            },
            schema=pa.schema([("item_id", pa.string()), ("email", pa.string())]),
        ),
    )
    try:
        con.execute(
            """
            INSERT INTO people
            SELECT DISTINCT s.email, s.email, s.email, []::VARCHAR[]
            FROM steward_rows s
            WHERE s.email NOT IN (SELECT person_id FROM people);
            UPDATE work_items w SET steward_id = s.email
            FROM steward_rows s
            WHERE w.item_id = s.item_id AND w.is_milestone;
            """
        )
    finally:
        con.unregister("steward_rows")
