"""dlt's `rest_api` source on Jira Cloud `search/jql` (nextPageToken paging) into DuckDB.

Runs inside dlt's own virtual environment (it imports nothing of this project):

    <dlt venv>/bin/python dlt_jira.py CONFIG_JSON

CONFIG_JSON holds url, email, token (read from the BENCH_JIRA_TOKEN env var when absent),
projects, workdir. A second run with the same workdir is dlt's incremental run: the resource's
`incremental` on `fields.updated` puts the last value into the JQL. Prints one JSON line with
what the DuckDB output holds.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import dlt
from dlt.sources.rest_api import rest_api_source


def jql_minute(value: str) -> str:
    """Jira's `2025-06-01T10:00:00.000+0000` as JQL's `yyyy-MM-dd HH:mm` (UTC user)."""
    return value[:10] + " " + value[11:16]


def source(config: dict[str, Any]) -> Any:
    projects = ", ".join(config["projects"])
    return rest_api_source(
        {
            "client": {
                "base_url": config["url"].rstrip("/") + "/rest/api/3/",
                "auth": {
                    "type": "http_basic",
                    "username": config["email"],
                    "password": os.environ["BENCH_JIRA_TOKEN"],
                },
                "paginator": {
                    "type": "cursor",
                    "cursor_path": "nextPageToken",
                    "cursor_param": "nextPageToken",
                },
            },
            "resources": [
                {
                    "name": "issues",
                    "primary_key": "id",
                    "write_disposition": "merge",
                    "endpoint": {
                        "path": "search/jql",
                        "data_selector": "issues",
                        "params": {
                            "jql": f"project in ({projects}) AND "
                            "updated >= '{incremental.start_value}' ORDER BY updated ASC",
                            "fields": "*all",
                            "expand": "changelog",
                            "maxResults": 100,
                        },
                        "incremental": {
                            "cursor_path": "fields.updated",
                            "initial_value": "2000-01-01T00:00:00.000+0000",
                            "convert": jql_minute,
                        },
                    },
                }
            ],
        }
    )


def contents(pipeline: Any) -> dict[str, Any]:
    """Rows dlt holds: issues, links, changelog histories with a status item."""
    out: dict[str, Any] = {}
    with pipeline.sql_client() as client:
        tables = {row[0] for row in client.execute_sql("SHOW TABLES")}
        out["tables"] = sorted(tables)

        def count(sql: str) -> int:
            return int(client.execute_sql(sql)[0][0])

        out["issues"] = count("SELECT count(*) FROM issues")
        if "issues__fields__issuelinks" in tables:
            out["issue_links"] = count("SELECT count(*) FROM issues__fields__issuelinks")
        if "issues__changelog__histories__items" in tables:
            out["status_histories"] = count(
                "SELECT count(DISTINCT _dlt_parent_id) FROM issues__changelog__histories__items "
                "WHERE field = 'status'"
            )
    return out


def main() -> None:
    config = json.loads(sys.argv[1])
    workdir = Path(config["workdir"])
    pipeline = dlt.pipeline(
        pipeline_name="bench_jira",
        pipelines_dir=str(workdir / "pipelines"),
        destination=dlt.destinations.duckdb(str(workdir / "dlt_out.duckdb")),
        dataset_name="jira_issues",
        progress="log" if config.get("verbose") else None,
    )
    info = pipeline.run(source(config))
    info.raise_on_failed_jobs()
    rows = pipeline.last_trace.last_normalize_info.row_counts if pipeline.last_trace else {}
    print(json.dumps({"loaded_rows": dict(rows), **contents(pipeline)}))


if __name__ == "__main__":
    main()
