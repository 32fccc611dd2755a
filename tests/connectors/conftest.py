"""Session-wide check: every request the connector tests sent to an Asana sandbox is one that
Asana's OpenAPI document (version 1.0, github.com/Asana/openapi defs/asana_oas.yaml at fc9f8dcf,
kept as sandbox/asana/asana_oas.subset.json) accepts. Only requests made while a test of this
folder runs count: the sandbox's own tests send invalid requests on purpose."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.asana.contract import Check, session_checks

_CONNECTOR_CHECKS: list[Check] = []


@pytest.fixture(autouse=True)
def _collect_asana_requests() -> Iterator[None]:
    before = len(session_checks())
    yield
    _CONNECTOR_CHECKS.extend(c for c in session_checks()[before:] if c.kind == "request")


@pytest.fixture(scope="session", autouse=True)
def asana_requests_follow_the_document() -> Iterator[None]:
    yield
    invalid = [c for c in _CONNECTOR_CHECKS if not c.ok]
    assert invalid == [], f"{len(invalid)} Asana requests break the document: {invalid[:5]}"
