"""A new source kind declared in one place reaches config parsing, sync, normalisation and doctor.

The kind below ("jsonl": one work item per line of a JSON-lines file) is defined only here and
registered for each test; nothing else in the product names it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Literal

import duckdb
import pytest
import yaml
from rich.console import Console

from connectors.base import Batch, Census, ConnectorError, Cursor, FetchStats, Page, RawRecord
from connectors.registry import check_source
from handoff.config import SourceBase, load_config, parse_config
from handoff.errors import ConfigError
from handoff.kinds import SourceKind, kind_names, kind_registered, registered_kinds
from pipelines.doctor import run_doctor
from pipelines.runner import run_sync

NOW = datetime(2026, 11, 20, 2, 0)
PAGE_SIZE = 2  # small, so that a three-line file lands in more than one page


# -- the fake kind -----------------------------------------------------------------------------
class JsonlSource(SourceBase):
    kind: Literal["jsonl"]
    path: Path
    id_field: str = "id"


class JsonlConnector:
    """Every line is one item; each fetch reads the whole file and ends with a census."""

    def __init__(self, source: JsonlSource):
        self.source = source
        self.stats = FetchStats()

    def fetch(self, cursor: Cursor | None, *, full: bool = False) -> Iterator[Batch]:
        keys: set[str] = set()
        page = Page()
        for line in self.source.path.read_text().splitlines():
            item = json.loads(line)
            key = str(item[self.source.id_field])
            keys.add(key)
            page.records.append(RawRecord("line", key, item))
            if len(page.records) == PAGE_SIZE:
                yield page
                page = Page()
        yield Page(page.records, cursor={"lines": len(keys)})
        yield Census("line", keys)

    def check(self) -> str:
        raise AssertionError("the kind declares its own doctor check")


def check_jsonl(source: JsonlSource) -> str:
    if not source.path.is_file():
        raise ConnectorError(f"source {source.name!r}: file {source.path} not found")
    return f"{source.path.name}: {len(source.path.read_text().splitlines())} lines"


def normalise_jsonl(
    con: duckdb.DuckDBPyConnection, source: JsonlSource, raw: str, synced_at: datetime
) -> None:
    con.execute(
        f"""
        INSERT INTO stg_items (item_id, source, tool, source_key, title, status,
                               status_category, due_date, is_deleted, synced_at)
        SELECT $source || ':' || record_key, $source, 'jsonl', record_key,
               payload ->> '$.title', payload ->> '$.status',
               CASE WHEN payload ->> '$.status' = 'shipped' THEN 'done' ELSE 'todo' END,
               TRY_CAST(payload ->> '$.due' AS DATE), is_deleted, $synced_at
        FROM "{raw}".raw_records WHERE record_type = 'line'
        """,
        {"source": source.name, "synced_at": synced_at},
    )


JSONL = SourceKind(
    name="jsonl",
    config=JsonlSource,
    connector=JsonlConnector,
    normaliser=normalise_jsonl,
    doctor=check_jsonl,
)


@pytest.fixture
def jsonl_kind() -> Iterator[SourceKind]:
    with kind_registered(JSONL) as kind:
        yield kind


def write_feed(root: Path, items: list[dict[str, object]]) -> Path:
    """A JSON-lines feed plus a handoff.yaml with one jsonl source reading it."""
    (root / "feeds").mkdir(parents=True, exist_ok=True)
    (root / "feeds" / "launch.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    config = root / "handoff.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "sync": {"retries": 0, "retry_delay_seconds": 0},
                "sources": [
                    {
                        "name": "launch-feed",
                        "kind": "jsonl",
                        "path": "feeds/launch.jsonl",
                        "id_field": "key",
                        "department": "Marketing",
                    }
                ],
            }
        )
    )
    return config


ITEMS: list[dict[str, object]] = [
    {"key": "L-1", "title": "Print flyers", "status": "shipped", "due": "2026-11-02"},
    {"key": "L-2", "title": "Book the venue", "status": "open", "due": "2026-12-01"},
    {"key": "L-3", "title": "Invite press", "status": "open"},
]


# -- config validation -------------------------------------------------------------------------
def test_config_accepts_the_new_kind_and_anchors_its_path(
    jsonl_kind: SourceKind, tmp_path: Path
) -> None:
    config = load_config(write_feed(tmp_path, ITEMS))
    source = config.source("launch-feed")
    assert isinstance(source, JsonlSource)
    assert source.path == tmp_path / "feeds" / "launch.jsonl"
    assert source.id_field == "key"


def test_a_wrong_field_of_the_new_kind_names_its_key_path(
    jsonl_kind: SourceKind, tmp_path: Path
) -> None:
    text = "sources:\n  - name: feed\n    kind: jsonl\n    path: f.jsonl\n    id_feild: key\n"
    with pytest.raises(ConfigError) as err:
        parse_config(text, origin="handoff.yaml", base_dir=tmp_path)
    assert str(err.value) == (
        "handoff.yaml: sources[0](feed).id_feild (line 5): Extra inputs are not permitted"
    )


def test_unknown_kind_lists_the_registered_kinds_and_registration_is_undone(
    tmp_path: Path,
) -> None:
    text = "sources:\n  - name: feed\n    kind: jsonl\n    path: f.jsonl\n"
    with kind_registered(JSONL):
        assert kind_names()[-1] == "jsonl"
        parse_config(text, origin="h.yaml", base_dir=tmp_path)
        with pytest.raises(
            ConfigError, match=r"expected one of csv, xlsx, gsheets, jira, asana, jsonl$"
        ):
            parse_config(text.replace("jsonl", "trello", 1), origin="h.yaml", base_dir=tmp_path)
    assert "jsonl" not in kind_names()
    with pytest.raises(ConfigError) as err:
        parse_config(text, origin="h.yaml", base_dir=tmp_path)
    assert "unknown source kind 'jsonl'; expected one of csv, xlsx, gsheets, jira, asana" in str(
        err.value
    )


def test_a_kind_model_must_carry_its_own_tag() -> None:
    with pytest.raises(TypeError, match=r'JsonlSource.kind must be Literal\["ndjson"\]'):
        SourceKind("ndjson", JsonlSource, JsonlConnector, normalise_jsonl)


def test_parsing_a_config_imports_no_connector_or_vendor_sdk(tmp_path: Path) -> None:
    """Kinds name their parts by import path: `handoff rules list` must not pay for gspread."""
    config = tmp_path / "handoff.yaml"
    config.write_text(
        "sources:\n  - {name: j, kind: jira, url: 'https://j.example', token: t}\n"
        "  - {name: a, kind: asana, token: t}\n  - {name: s, kind: gsheets, spreadsheet_id: x}\n"
    )
    probe = (
        "import sys; from handoff.config import load_config; "
        f"load_config({str(config)!r}); "
        "print(sorted(m for m in ('gspread', 'asana', 'jira', 'connectors', 'model') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


# -- fetch, landing, normalisation and publication --------------------------------------------
def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_sync_lands_and_publishes_the_new_kinds_items(
    jsonl_kind: SourceKind, tmp_path: Path
) -> None:
    config_path = write_feed(tmp_path, ITEMS)
    report = run_sync(config_path, now=NOW)
    assert report.success, report.errors
    assert report.outcomes["launch-feed"].status == "success"
    assert report.outcomes["launch-feed"].changed == 3
    db = load_config(config_path).database_path
    rows = query(
        db,
        "SELECT item_id, tool, title, status_category, due_date, department, is_deleted "
        "FROM work_items ORDER BY item_id",
    )
    assert [(r[0], r[1], r[2], r[3], str(r[4]), r[5], r[6]) for r in rows] == [
        ("launch-feed:L-1", "jsonl", "Print flyers", "done", "2026-11-02", "Marketing", False),
        ("launch-feed:L-2", "jsonl", "Book the venue", "todo", "2026-12-01", "Marketing", False),
        ("launch-feed:L-3", "jsonl", "Invite press", "todo", "None", "Marketing", False),
    ]

    # a line removed from the feed: the census turns its item into a tombstone at the next sync
    write_feed(tmp_path, ITEMS[:2])
    assert run_sync(config_path, now=NOW.replace(hour=3)).success
    deleted = query(db, "SELECT item_id FROM work_items WHERE is_deleted")
    assert deleted == [("launch-feed:L-3",)]


# -- doctor ------------------------------------------------------------------------------------
def doctor_output(config_path: Path) -> tuple[bool, str]:
    console = Console(record=True, width=300)
    ok = run_doctor(config_path, console)
    return ok, console.export_text()


def test_doctor_runs_the_kinds_own_check(jsonl_kind: SourceKind, tmp_path: Path) -> None:
    config_path = write_feed(tmp_path, ITEMS)
    ok, text = doctor_output(config_path)
    assert ok, text
    assert "source launch-feed" in text and "launch.jsonl: 3 lines" in text

    (tmp_path / "feeds" / "launch.jsonl").unlink()
    ok, text = doctor_output(config_path)
    assert not ok
    assert "launch.jsonl not found" in text
    assert "check the path or id configured for source 'launch-feed'" in text


# -- the sandbox CLI ---------------------------------------------------------------------------
def test_sandbox_serve_starts_every_kind_that_declares_a_sandbox(tmp_path: Path) -> None:
    from pipelines.cli_sandbox import start_generated

    servers, sources, env = start_generated(
        size=20, seed=3, faults=None, tls=False, deployment="cloud"
    )
    try:
        with_sandbox = {k.name for k in registered_kinds() if k.sandbox is not None}
        assert {s["kind"] for s in sources} == with_sandbox
        text = yaml.safe_dump({"version": 1, "sources": sources})
        config = parse_config(text, origin="sandbox.yaml", base_dir=tmp_path, env=env)
        assert {s.kind for s in config.sources} == with_sandbox
        for source in config.sources:  # each entry reaches its server through its connector
            assert check_source(source)
    finally:
        for server in servers:
            server.stop()
