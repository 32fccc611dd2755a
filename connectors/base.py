"""The contract every connector follows: typed config in, pages of the tool's own JSON out.

Connectors are pure Python (no Dagster, no DuckDB). The landing step (`model.landing`) stores
what they yield into the source's own raw store, so a connector never knows where data goes.

Resuming a long fetch: a connector may mark pages with a `checkpoint`, a small JSON-able
cursor meaning "every batch yielded up to and including this page is complete; a fetch
restarted with `resume=<this checkpoint>` yields the rest". The landing step commits staged
pages with the latest checkpoint every few checkpoints (or seconds); after a crash or kill it
hands that checkpoint back as `resume`. The `resume` cursor is distinct from the incremental
`cursor`: a resumed fetch receives the same incremental cursor its interrupted run started from
and must yield, after the checkpoint, everything an uninterrupted fetch would have yielded
after that point (a census included: it must cover the keys of the interrupted part too).
Connectors that never set `checkpoint` simply restart from scratch. A checkpoint value may be
a `CheckpointLog`, which the landing step saves incrementally.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

Cursor = Mapping[str, Any]


@dataclass
class RawRecord:
    """One record exactly as the tool returned it, keyed by its type and the tool's own id."""

    record_type: str  # e.g. "issue", "changelog", "remotelink", "task", "story", "row"
    key: str  # the tool's id for the record, unique within record_type
    payload: Mapping[str, Any]


@dataclass
class Page:
    """A batch of records to upsert; `cursor`, when set, is stored once the whole fetch lands.

    `checkpoint`, when set, is where a resumed fetch continues from: everything up to and
    including this page is complete (see the module docstring)."""

    records: list[RawRecord] = field(default_factory=list)
    cursor: Cursor | None = None
    checkpoint: Cursor | None = None


class CheckpointLog:
    """A checkpoint entry that only grows, such as every key seen with its version: the
    landing step stores the entries added since its last save rather than all of them at
    every save (rewriting a mapping of every issue seen made a long fetch quadratic). A
    resumed fetch gets it back as a plain mapping, later entries winning."""

    def __init__(self) -> None:
        self._new: list[tuple[str, str]] = []

    def add(self, key: str, value: str) -> None:
        self._new.append((key, value))

    def take(self) -> list[tuple[str, str]]:
        """The entries added since the last `take` (the landing step's, as it saves)."""
        new, self._new = self._new, []
        return new


@dataclass
class Census:
    """The complete set of live keys of one record type: every other stored key is tombstoned.

    A connector yields this only when it knows the set is complete (a full listing or a cheap
    key census), never from a partial or failed listing.
    """

    record_type: str
    keys: set[str]


@dataclass
class Rejection:
    """Input the connector could not read (a sheet row with no id, an item it cannot parse)."""

    location: str  # e.g. "plan.xlsx / Budget / row 14" or "issue OPS-42"
    reason: str
    raw: Mapping[str, Any] | None = None
    column: str | None = None


Batch = Page | Census | Rejection


class ConnectorError(Exception):
    """A failure a user can act on; the message names the source and what to do."""


class PermanentConnectorError(ConnectorError):
    """A failure that trying again cannot fix (refused credentials, a missing file): the sync
    reports it at once instead of spending its retries on it."""


@dataclass
class FetchStats:
    """What a fetch cost, for `sync_runs` and the benchmarks."""

    requests: int = 0
    retries: int = 0
    warnings: list[str] = field(default_factory=list)  # what the fetch had to do without
    waited_seconds: float = 0.0  # retry and throttle waits, summed over threads (a cost only)
    items_total: int | None = None  # items the fetch expects, when the tool says (for an ETA)
    items_done: int = 0


class Connector(Protocol):
    """Pulls one configured source. `fetch` streams batches; memory must not grow with size."""

    stats: FetchStats

    def fetch(self, cursor: Cursor | None, *, full: bool = False) -> Iterator[Batch]:
        """Yield pages since `cursor` (everything when `full` or no cursor)."""
        ...

    def check(self) -> str:
        """One cheap authenticated request; returns a short description for `handoff doctor`."""
        ...


class ResumableConnector(Connector, Protocol):
    """A connector that yields checkpoints and can continue from one of them."""

    def fetch(
        self, cursor: Cursor | None, *, full: bool = False, resume: Cursor | None = None
    ) -> Iterator[Batch]:
        """As `Connector.fetch`; with `resume` (a checkpoint this connector yielded in a fetch
        from the same `cursor` and configuration) only what comes after that checkpoint."""
        ...
