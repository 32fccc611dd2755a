"""Graph findings on generated models against plain Python references.

The cycle search trims the graph before it searches, and the lifecycle's blast radius walks row
numbers: both are checked against a straightforward traversal of the same rows, so a shortcut
that loses a cycle or miscounts a radius shows up here.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from datetime import datetime
from pathlib import Path

import duckdb

from handoff.config import HandoffConfig
from rules.engine import evaluate

NOW = datetime(2025, 3, 3, 2, 0)
MAX_LENGTH = 6  # dependency_cycle's default max_length
MODEL = Path(__file__).resolve().parents[2] / "model"


def _random_graph(db: Path, seed: int) -> None:
    """300 items wired at random (many short loops), with deleted and done items, `relates`
    links, self links and references to items no tool knows."""
    rng = random.Random(seed)
    items = [f"{rng.choice(['it', 'mkt', 'fin'])}:K-{i}" for i in range(300)]
    con = duckdb.connect(str(db))
    con.execute((MODEL / "schema.sql").read_text())
    con.executemany(
        "INSERT INTO work_items (item_id, source, tool, source_key, title, status_category, "
        "department, is_milestone, is_deleted, synced_at) "
        "VALUES (?, 'src', 'jira', ?, ?, ?, ?, false, ?, ?)",
        [
            [
                item,
                item,
                f"Item {item}",
                rng.choice(["todo", "in_progress", "done", None]),
                rng.choice(["IT", "Marketing", None]),
                rng.random() < 0.05,
                NOW,
            ]
            for item in items
        ],
    )
    edges: set[tuple[str, str]] = set()
    while len(edges) < 700:
        up = f"unresolved:X-{rng.randint(1, 20)}" if rng.random() < 0.03 else rng.choice(items)
        edges.add((up, rng.choice(items)))
    con.executemany(
        "INSERT INTO dependencies (upstream_id, downstream_id, kind, origin, origins, "
        "is_cross_tool, is_cross_department, is_resolved, contract_id) "
        "VALUES (?, ?, ?, 'jira_link', ['jira_link'], false, false, ?, ?)",
        [
            [
                up,
                down,
                rng.choice(["blocks"] * 8 + ["depends_on", "relates"]),
                not up.startswith("unresolved:"),
                "c-1" if rng.random() < 0.05 else None,
            ]
            for up, down in sorted(edges)
        ],
    )
    con.execute(
        "INSERT INTO contracts VALUES ('c-1', 'IT', 'Marketing', 10, NULL, NULL, NULL, NULL)"
    )
    con.execute((MODEL / "item_numbers.sql").read_text())  # as the build numbers them
    con.close()


def _reference_cycles(db: Path) -> set[tuple[str, ...]]:
    """Every loop of at most MAX_LENGTH live items over non-`relates` links, from its smallest id."""
    con = duckdb.connect(str(db), read_only=True)
    live = {
        i for (i,) in con.execute("SELECT item_id FROM work_items WHERE NOT is_deleted").fetchall()
    }
    out: dict[str, list[str]] = defaultdict(list)
    for up, down in con.execute(
        "SELECT upstream_id, downstream_id FROM dependencies WHERE kind <> 'relates'"
    ).fetchall():
        if up in live and down in live and up != down:
            out[up].append(down)
    con.close()
    cycles: set[tuple[str, ...]] = set()

    def walk(path: list[str]) -> None:
        for nxt in out[path[-1]]:
            if nxt == path[0] and len(path) > 1:
                cycles.add(tuple(path))
            elif nxt > path[0] and nxt not in path and len(path) < MAX_LENGTH:
                walk([*path, nxt])

    for start in sorted(live):
        walk([start])
    return cycles


def _reference_radius(con: duckdb.DuckDBPyConnection, start: str) -> int:
    """Open items that transitively wait on `start` through blocks/depends_on links."""
    waits: dict[str, list[str]] = defaultdict(list)
    for up, down in con.execute(
        "SELECT d.upstream_id, d.downstream_id FROM dependencies d "
        "JOIN work_items w ON w.item_id = d.downstream_id "
        "WHERE d.kind <> 'relates' AND NOT w.is_deleted "
        "AND coalesce(w.status_category, 'todo') <> 'done'"
    ).fetchall():
        waits[up].append(down)
    seen: set[str] = set()
    queue = deque([start])
    while queue:
        for nxt in waits[queue.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    seen.discard(start)
    return len(seen)


def _exceptions(db: Path) -> list[tuple[str, list[str], int, str, str | None]]:
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        "SELECT e.rule_id, e.subject_ids, e.blast_radius, e.classification, d.contract_id "
        "FROM exceptions e LEFT JOIN dependencies d "
        "ON d.upstream_id = e.subject_ids[1] AND d.downstream_id = e.subject_ids[2]"
    ).fetchall()
    con.close()
    return rows


def test_cycle_search_finds_every_loop_a_plain_search_finds(tmp_path: Path) -> None:
    db = tmp_path / "handoff.duckdb"
    _random_graph(db, seed=7)
    expected = _reference_cycles(db)
    assert len(expected) >= 20  # the generated graph is loopy enough to mean something
    evaluate(db, HandoffConfig.model_validate({"base_dir": tmp_path}), now=NOW, run_id="r1")
    found = {tuple(s) for rule, s, *_ in _exceptions(db) if rule == "dependency_cycle"}
    assert found == expected


def test_blast_radius_and_classification_match_a_plain_traversal(tmp_path: Path) -> None:
    db = tmp_path / "handoff.duckdb"
    _random_graph(db, seed=11)
    evaluate(db, HandoffConfig.model_validate({"base_dir": tmp_path}), now=NOW, run_id="r1")
    rows = _exceptions(db)
    con = duckdb.connect(str(db), read_only=True)
    radius = {start: _reference_radius(con, start) for start in {s[0] for _, s, *_ in rows}}
    con.close()
    assert sum(1 for r in radius.values() if r > 0) >= 20
    for rule, subjects, blast_radius, classification, edge_contract in rows:
        assert blast_radius == radius[subjects[0]], (rule, subjects)
        if edge_contract is not None:
            assert classification == "planned", (rule, subjects)
