"""Session-wide check: every request the connector tests sent to an Asana sandbox is one that
Asana's OpenAPI document (version 1.0, github.com/Asana/openapi defs/asana_oas.yaml at fc9f8dcf,
kept as sandbox/asana/asana_oas.subset.json) accepts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.asana.contract import session_checks


@pytest.fixture(scope="session", autouse=True)
def asana_requests_follow_the_document() -> Iterator[None]:
    yield
    invalid = [c for c in session_checks() if c.kind == "request" and not c.ok]
    assert invalid == [], f"{len(invalid)} Asana requests break the document: {invalid[:5]}"
