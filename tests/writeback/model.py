"""A published model whose findings point at real sandbox items, for the write-back tests."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

SCHEMA = Path(__file__).resolve().parents[2] / "model" / "schema.sql"
HOSTILE = "<script>alert(1)</script> {color:red}*Pay* [now|http://evil.example]"


def write_model(path: Path, items: list[dict[str, Any]], findings: list[dict[str, Any]],
                now: datetime) -> None:  # fmt: skip
    """A model file with `items` (item_id, source, tool, key, title, url) and `findings`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute(SCHEMA.read_text())
    con.execute("INSERT INTO schema_info VALUES (1, ?, 'run-1')", [now])
    con.execute("INSERT INTO departments VALUES ('IT', NULL), ('Marketing', NULL)")
    con.execute(
        "INSERT INTO people VALUES ('ravi@example.com', 'ravi@example.com', 'Ravi Patel', []),"
        " ('maria@example.com', 'maria@example.com', 'Maria Garcia', [])"
    )
    for it in items:
        con.execute(
            "INSERT INTO work_items (item_id, source, tool, source_key, url, title, is_milestone,"
            " status, status_category, department, owner_id, owner_name, due_date, updated_at,"
            " is_deleted, synced_at) VALUES (?, ?, ?, ?, ?, ?, false, 'To Do', 'todo', ?, ?, ?,"
            " ?, ?, false, ?)",
            [it["item_id"], it["source"], it["tool"], it["key"], it.get("url"), it["title"],
             it.get("department", "IT"), it.get("owner"), it.get("owner_name"),
             (now + timedelta(days=10)).date(), it.get("updated_at", now - timedelta(days=1)),
             now],
        )  # fmt: skip
    for f in findings:
        con.execute(
            "INSERT INTO exceptions VALUES (?, ?, ?, ?, ['IT', 'Marketing'], ?, ?, ?, 'surprise',"
            " ?, ?, ?, ?, 1, 2, NULL, NULL, NULL, NULL)",
            [f["id"], f.get("rule", "blocked_by_late_upstream"), f.get("severity", "fail"),
             f["subjects"], f.get("owner", "ravi@example.com"), f["message"],
             json.dumps({}), f.get("status", "open"), now - timedelta(days=3), now,
             now if f.get("status") == "resolved" else None],
        )  # fmt: skip
    con.execute("INSERT INTO exception_runs VALUES ('run-1', ?, 1, 0, 0, 1, 0, 0)", [now])
    con.close()
