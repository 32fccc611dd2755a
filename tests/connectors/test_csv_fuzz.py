"""Fuzzing the CSV source: whatever the bytes, it fails cleanly or accounts for every known row.

Each example first lands a good plan with ids K-0..K-29 in memory, then reads the fuzzed file.
The connector may raise only ConnectorError; and when it ends with a census, every known id it
leaves out must be explained: the new file's own read of it is gone (the row is not in the
text at all) or a rejection names a reason. A census never leaves out an id the file still has.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import Census, ConnectorError, Page, Rejection
from connectors.files import CsvConnector
from handoff.config import CsvSource

KNOWN = [f"K-{i}" for i in range(30)]
GOOD = "ID,Title,Status,Due\n" + "".join(f"{k},Task {k},todo,2026-01-01\n" for k in KNOWN)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read(content: bytes) -> tuple[set[str] | None, set[str], int]:
    """(census keys or None, loaded keys, rejections) — or ConnectorError propagates."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plan.csv"
        path.write_bytes(content)
        source = CsvSource.model_validate({"name": "fuzz", "kind": "csv", "path": str(path)})
        census: set[str] | None = None
        loaded: set[str] = set()
        rejected = 0
        for batch in CsvConnector(source).fetch(None):
            if isinstance(batch, Page):
                loaded |= {r.key for r in batch.records}
            elif isinstance(batch, Census):
                census = set(batch.keys)
            elif isinstance(batch, Rejection):
                assert batch.reason and batch.location.startswith("plan.csv")
                rejected += 1
        return census, loaded, rejected


def check(content: bytes, text: str | None = None) -> None:
    """`text` is what `content` encodes (the bytes read as UTF-8 when not given)."""
    try:
        census, loaded, rejected = read(content)
    except ConnectorError as err:
        assert "'fuzz'" in str(err)
        return
    if census is None:
        return  # no census: nothing is tombstoned
    assert loaded <= census
    text = content.decode("utf-8", errors="replace") if text is None else text
    for key in set(KNOWN) - census:
        # a known id dropped from the census must have left the text, or its row was rejected
        still_there = f"\n{key}," in "\n" + text.replace("\r", "\n")
        assert not still_there or rejected > 0, f"{key} would be tombstoned silently"


@SETTINGS
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_fail_cleanly_or_account_for_every_row(content: bytes) -> None:
    check(content)


# where a quote or line break does the most harm: at the edges of cells
BOUNDARIES = sorted(
    {i for i, c in enumerate(GOOD) if c in ",\n"}
    | {i + 1 for i, c in enumerate(GOOD) if c in ",\n"}
)
MUTATIONS = st.lists(
    st.tuples(
        st.sampled_from(["insert", "delete", "replace"]),
        st.one_of(st.sampled_from(BOUNDARIES), st.integers(min_value=0, max_value=len(GOOD))),
        st.sampled_from(['"', "\n", "\r", ",", ";", "\x00", "\xff", "K-1", '""', "\t", " "]),
    ),
    min_size=1,
    max_size=4,
)


@SETTINGS
@given(MUTATIONS, st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
def test_mutated_plans_fail_cleanly_or_account_for_every_row(
    mutations: list[tuple[str, int, str]], encoding: str
) -> None:
    text = GOOD
    for kind, at, piece in mutations:
        at = min(at, len(text))
        if kind == "insert":
            text = text[:at] + piece + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + len(piece) :]
        else:
            text = text[:at] + piece + text[at + len(piece) :]
    content = text.encode(encoding, errors="replace")
    check(content, content.decode(encoding, errors="replace"))
