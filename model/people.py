"""One person across tools: matched by normalised e-mail, then by the config's aliases."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from handoff.config import PersonAlias

# lower-case, drop a +tag before the @: Ann.Lee+jira@x.com -> ann.lee@x.com
NORMALISED_EMAIL = "nullif(regexp_replace(lower(trim({col})), '\\+[^@]*@', '@'), '')"


def build_people(con: duckdb.DuckDBPyConnection, aliases: list[PersonAlias]) -> None:
    """Fill `people` and the temp table `owner_map` (item_id -> person_id)."""
    rows = [
        (NORMALISED_EMAIL_PY(a.email), name.strip().lower(), None)
        for a in aliases
        for name in a.names
    ] + [(NORMALISED_EMAIL_PY(a.email), None, acct) for a in aliases for acct in a.account_ids]
    con.register(
        "alias_rows",
        pa.table(
            {
                "email": [r[0] for r in rows],
                "name": [r[1] for r in rows],
                "account": [r[2] for r in rows],
            },
            schema=pa.schema(
                [("email", pa.string()), ("name", pa.string()), ("account", pa.string())]
            ),
        ),
    )
    email = NORMALISED_EMAIL.format(col="i.owner_email")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE owner_map AS
        SELECT i.item_id, i.source, i.owner_name, i.owner_account,
               coalesce({email}, by_account.email, by_name.email) AS email
        FROM stg_items i
        LEFT JOIN (SELECT account, any_value(email) AS email FROM alias_rows
                   WHERE account IS NOT NULL GROUP BY account) by_account
               ON by_account.account = i.owner_account
        LEFT JOIN (SELECT name, any_value(email) AS email FROM alias_rows
                   WHERE name IS NOT NULL GROUP BY name) by_name
               ON by_name.name = lower(trim(i.owner_name))
        WHERE i.owner_email IS NOT NULL OR i.owner_name IS NOT NULL OR i.owner_account IS NOT NULL
        """
    )
    con.execute(
        """
        ALTER TABLE owner_map ADD COLUMN person_id VARCHAR;
        UPDATE owner_map SET person_id = coalesce(email, 'name:' || lower(trim(coalesce(owner_name, owner_account))));
        INSERT INTO people
        SELECT person_id, any_value(email), coalesce(max(owner_name), any_value(email)),
               list_sort(list_distinct(list(source || ':' || coalesce(owner_account, owner_name))))
        FROM owner_map GROUP BY person_id;
        """
    )
    con.unregister("alias_rows")


def NORMALISED_EMAIL_PY(email: str) -> str:
    """The Python twin of NORMALISED_EMAIL, for config aliases."""
    local, _, domain = email.strip().lower().partition("@")
    return f"{local.split('+', 1)[0]}@{domain}" if domain else local
