"""One write-back pass: compare what the findings call for with what was written, then write.

The plan is made first, with reads only (a stored comment whose item changed since it was
written is looked for again; a comment with no stored id is searched by its marker), so a dry
run prints exactly what a real run then writes. Each finding gets at most one write per item
per run; `max_writes_per_run` caps each source; a refused write is reported and the rest go on;
quota waits (429) happen inside the clients under the shared retry policy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from handoff.comments import CommentClient, CommentGone, Posted, Unavailable, WriteRefused
from rules.writeback import state as st
from rules.writeback.compose import SEVERITY_RANK, Intent, Line, digest, marker, resolved_lines

log = logging.getLogger(__name__)
Kind = Literal["create", "update", "resolve", "delete"]
CLOCK_SKEW = timedelta(seconds=5)  # an item updated this soon after our write was our write


@dataclass
class Op:
    """One write the pass will make (or, dry, would make)."""

    kind: Kind
    source: str
    item_id: str
    item_key: str
    exception_id: str
    severity: str
    lines: list[Line]
    body: Any  # exactly what is sent: ADF, wiki markup or text
    comment_id: str | None = None
    summary: str = ""
    recreate: bool = False  # the stored comment was deleted by a person

    def describe(self) -> str:
        where = f"{self.source} {self.item_key}"
        target = f" comment {self.comment_id}" if self.comment_id else ""
        head = f"{self.kind.upper()} {where}{target} [{self.exception_id}]"
        if self.kind == "delete":
            return head
        text = self.body if isinstance(self.body, str) else json.dumps(self.body, sort_keys=True)
        return head + "\n" + "\n".join("    " + line for line in text.splitlines())


@dataclass
class SourcePolicy:
    min_severity: str
    on_resolve: Literal["edit", "delete"]
    max_writes: int
    also_blocking: bool = False


@dataclass
class Outcome:
    """What a pass did: the plan, the writes made, what it could not write, and its cost."""

    planned: list[Op] = field(default_factory=list)
    written: list[Op] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    deferred: int = 0
    requests: int = 0
    notes: list[str] = field(default_factory=list)

    def text(self, dry: bool) -> str:
        verb = "would write" if dry else "wrote"
        ops = self.planned if dry else self.written
        lines = [op.describe() for op in ops]
        lines.append(
            f"write-back {verb} {len(ops)} comment change(s)"
            + (f"; {self.deferred} deferred by max_writes_per_run" if self.deferred else "")
            + (f"; {len(self.refused)} refused" if self.refused else "")
        )
        lines += [f"refused: {r}" for r in self.refused] + [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def plan(
    intents: list[Intent],
    stored: Mapping[tuple[str, str], st.Stored],
    clients: Mapping[str, CommentClient],
    policies: Mapping[str, SourcePolicy],
    item_updated: Mapping[str, datetime | None],
    today: date,
    outcome: Outcome,
) -> list[Op]:
    """The writes that bring the tools in line with the findings (reads only, no writes)."""
    ops: list[Op] = []
    wanted = {(i.exception_id, i.item_id): i for i in intents if i.source in clients}
    for key, intent in wanted.items():
        client = clients[intent.source]
        row = stored.get(key)
        body = client.body(intent.lines)
        op = Op("create", intent.source, intent.item_id, intent.item_key, intent.exception_id,
                intent.severity, intent.lines, body, summary=intent.summary)  # fmt: skip
        if row is None or row.status == "deleted" or row.comment_id is None:
            found = _find(client, intent.item_key, intent.exception_id, outcome)
            if found is not None:
                if found.body == body:
                    continue  # already there (written before the state was saved)
                op.kind, op.comment_id = "update", found.comment_id
            ops.append(op)
            continue
        if row.status == "suppressed":
            continue
        op.comment_id = row.comment_id
        changed_since = item_updated.get(intent.item_id)
        # the item changed after our write: make sure our comment is still there
        moved = changed_since is not None and changed_since > row.written_at + CLOCK_SKEW
        if moved and _find(client, intent.item_key, intent.exception_id, outcome) is None:
            if row.recreated >= 1:
                outcome.notes.append(
                    f"{intent.source} {intent.item_key}: the comment was deleted again by "
                    "someone; Handoff does not write it a third time"
                )
                continue
            op.kind, op.comment_id, op.recreate = "create", None, True
            ops.append(op)
            continue
        if row.body_hash != intent.body_hash or row.status != "open":
            op.kind = "update"
            ops.append(op)
    for key, row in stored.items():
        if key in wanted or row.status != "open" or row.source not in clients:
            continue
        client = clients[row.source]
        lines = resolved_lines(row.exception_id, row.summary, today)
        kind: Kind = "delete" if policies[row.source].on_resolve == "delete" else "resolve"
        ops.append(
            Op(
                kind,
                row.source,
                row.item_id,
                row.item_key,
                row.exception_id,
                "info",
                lines,
                client.body(lines),
                row.comment_id,
                row.summary,
            )
        )
    order = {"resolve": 0, "delete": 0, "update": 1, "create": 2}
    ops.sort(key=lambda o: (SEVERITY_RANK.get(o.severity, 9), order[o.kind], o.item_id))
    return ops


def _find(client: CommentClient, key: str, exception_id: str, outcome: Outcome) -> Posted | None:
    try:
        return client.find(key, marker(exception_id))
    except CommentGone:
        return None
    except WriteRefused as err:
        outcome.refused.append(str(err))
        return None


def execute(
    ops: list[Op],
    stored: Mapping[tuple[str, str], st.Stored],
    clients: Mapping[str, CommentClient],
    policies: Mapping[str, SourcePolicy],
    state_file: Path,
    outcome: Outcome,
) -> None:
    """Make the planned writes, saving each in the state as soon as the tool accepted it."""
    budget = {name: p.max_writes for name, p in policies.items()}
    for op in ops:
        if budget.get(op.source, 0) <= 0:
            outcome.deferred += 1
            continue
        client = clients[op.source]
        row = stored.get((op.exception_id, op.item_id))
        recreated = (row.recreated if row else 0) + (1 if op.recreate else 0)
        try:
            status, comment_id = _write(client, op)
        except CommentGone:
            if op.kind in ("resolve", "delete"):
                status, comment_id = "deleted", None  # gone already: nothing left to resolve
            elif recreated >= 1:
                outcome.notes.append(f"{op.source} {op.item_key}: comment deleted again; left")
                status, comment_id = "suppressed", None
            else:
                retry = Op("create", op.source, op.item_id, op.item_key, op.exception_id,
                           op.severity, op.lines, op.body, None, op.summary, True)  # fmt: skip
                try:
                    status, comment_id = _write(client, retry)
                except (CommentGone, WriteRefused) as err:
                    outcome.refused.append(str(err))
                    continue
                op, recreated = retry, 1
        except WriteRefused as err:
            outcome.refused.append(str(err))
            continue
        except Unavailable as err:  # the tool stayed unavailable: the rest waits a run
            outcome.refused.append(str(err))
            break
        budget[op.source] -= 1
        if status != "deleted" or op.kind == "delete":
            outcome.written.append(op)
        st.save(
            state_file,
            st.Stored(
                op.exception_id,
                op.item_id,
                op.source,
                op.item_key,
                comment_id,
                digest(op.lines),
                status,
                recreated,
                op.summary,
                st.utc_now(),
            ),
        )


def _write(client: CommentClient, op: Op) -> tuple[str, str | None]:
    if op.kind == "create":
        return "open", client.create(op.item_key, op.body).comment_id
    assert op.comment_id is not None
    if op.kind == "delete":
        client.delete(op.item_key, op.comment_id)
        return "deleted", None
    posted = client.update(op.item_key, op.comment_id, op.body)
    return ("resolved" if op.kind == "resolve" else "open"), posted.comment_id
