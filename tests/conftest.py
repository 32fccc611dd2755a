"""Shared fixtures: a small file-based organisation with a config, written fresh per test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.demo import story
from sandbox.demo.files import write_csv, write_xlsx
from sandbox.gsheets import SheetsSandbox
from sandbox.gsheets.server import Check
from sandbox.jira import JiraSandbox
from sandbox.jira.contract import Checked

SECRET = "s3cr3t-webhook-token-that-must-never-leak"

# A `.env` left by `handoff demo` in the checkout must not hand the tests its tokens and Dagster
# home (the first-hour test runs the CLI with a new user's environment, without this variable).
os.environ["HANDOFF_NO_DOTENV"] = "1"


def file_org_config(
    root: Path, *, extra_sources: list[dict[str, Any]] | None = None, **overrides: Any
) -> Path:
    """Write the story as CSV/xlsx plans plus a handoff.yaml under `root`; returns the config."""
    today = date.today()
    write_csv(root / "plans" / "it.csv", story.IT_OPS, today)
    write_csv(
        root / "plans" / "marketing.csv", story.MARKETING, today, delimiter=",", encoding="cp1252"
    )
    write_csv(root / "plans" / "finance.csv", story.FINANCE, today)
    write_xlsx(
        root / "plans" / "store.xlsx", {"Training": story.STORE_OPS}, today, title="Store Ops plan"
    )
    config: dict[str, Any] = {
        "version": 1,
        "departments": [
            {"name": n, "kpis": [{"name": k} for k in ks]} for n, ks in story.DEPARTMENTS.items()
        ],
        "kpi_tensions": [{"between": ["Marketing.user_acquisition", "IT Operations.server_cost"]}],
        "contracts": [
            {
                "id": "finance-budget",
                "provider": "Finance",
                "consumer": "Marketing",
                "notice_days": 10,
            }
        ],
        "sync": {"retries": 0, "retry_delay_seconds": 0},
        "sources": [
            {
                "name": "it-ops",
                "kind": "csv",
                "path": "plans/it.csv",
                "department": "IT Operations",
                "date_order": "dmy",
            },
            {
                "name": "marketing",
                "kind": "csv",
                "path": "plans/marketing.csv",
                "department": "Marketing",
                "date_order": "dmy",
            },
            {
                "name": "finance",
                "kind": "csv",
                "path": "plans/finance.csv",
                "department": "Finance",
                "date_order": "dmy",
                "status_map": {"Approved": "done", "Pending": "todo"},
            },
            {
                "name": "store-ops",
                "kind": "xlsx",
                "path": "plans/store.xlsx",
                "department": "Store Ops",
            },
            *(extra_sources or []),
        ],
    }
    config.update(overrides)
    path = root / "handoff.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def file_org(tmp_path: Path) -> Callable[..., Path]:
    def make(**kwargs: Any) -> Path:
        return file_org_config(tmp_path, **kwargs)

    return make


# Tests whose Jira requests come from the connector (the strict-sandbox tests send invalid
# requests on purpose and are left out).
JIRA_CONNECTOR_TESTS = (
    "tests/connectors/test_jira",
    "tests/model/test_normalise_jira",
    "tests/pipelines/test_demo",
)
JIRA_REQUESTS_CHECKED: list[Checked] = []


@pytest.fixture(autouse=True)
def jira_requests_follow_the_vendor_documents(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Every request the Jira connector sends to a strict sandbox in these tests must be valid
    against Atlassian's documents: *The Jira Cloud platform REST API* v3, version
    `1001.0.0-SNAPSHOT-57a0ca5b4a0bb0ac5f3fee4764acb1c14e4d7e71`, and the *Jira Software Data
    Center REST API Reference* 10.3.24 (OpenAPI 3.0.1) — the subsets in sandbox/specs/.
    A test fails on the first invalid request its sandboxes logged, naming it."""
    if not request.node.nodeid.startswith(JIRA_CONNECTOR_TESTS):
        yield
        return
    sandboxes: list[JiraSandbox] = []
    original = JiraSandbox.__init__

    def recording(self: JiraSandbox, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        sandboxes.append(self)

    monkeypatch.setattr(JiraSandbox, "__init__", recording)
    yield
    checked = [c for s in sandboxes if s.strict for c in s.contract_log]
    JIRA_REQUESTS_CHECKED.extend(checked)
    invalid = [f"{c.method} {c.path}: {c.problem}" for c in checked if not c.ok]
    assert not invalid, f"requests invalid against the vendor documents: {invalid[:5]}"


# Tests whose Sheets requests come from the connector (the sandbox's own tests send invalid
# requests on purpose and are left out).
SHEETS_CONNECTOR_TESTS = (
    "tests/connectors/test_gsheets",
    "tests/connectors/test_sheets_real_service",
)
SHEETS_SANDBOXES: list[SheetsSandbox] = []
SHEETS_REQUESTS_CHECKED: list[Check] = []


@pytest.fixture(scope="session", autouse=True)
def sheets_sandboxes_are_recorded() -> Iterator[None]:
    """Keep every Sheets sandbox started in the session, module-scoped ones included, so the
    requests each test sends to them can be checked."""
    original = SheetsSandbox.__init__

    def recording(self: SheetsSandbox, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        SHEETS_SANDBOXES.append(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SheetsSandbox, "__init__", recording)
        yield


@pytest.fixture(autouse=True)
def sheets_requests_follow_the_vendor_reference(
    request: pytest.FixtureRequest, sheets_sandboxes_are_recorded: None
) -> Iterator[None]:
    """Every request the Sheets connector sends in these tests must pass the sandbox's checks
    against Google's Sheets API v4 reference (each method's documented query parameters plus
    the system parameters): a test fails on the invalid requests it sent, naming them."""
    if not request.node.nodeid.startswith(SHEETS_CONNECTOR_TESTS):
        yield
        return
    before = {id(s): len(s.checks) for s in SHEETS_SANDBOXES}
    yield
    checked = [c for s in SHEETS_SANDBOXES for c in s.checks[before.get(id(s), 0) :]]
    SHEETS_REQUESTS_CHECKED.extend(checked)
    invalid = [f"{c.method} {c.path}: {c.problem}" for c in checked if not c.ok]
    assert not invalid, f"requests invalid against the Sheets API reference: {invalid[:5]}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """In a parallel run (`-n N --dist loadgroup`, as `make test` does) the tests of a module that
    share a module-scoped fixture go to one worker, so its setup (a synced demo, a PostgreSQL
    server and daemon, a browser) runs once rather than once per worker; the other tests spread
    one by one. Without xdist the mark does nothing."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None or item.get_closest_marker("xdist_group"):
            continue
        shares = any(
            defs and defs[-1].scope == "module"
            for name in info.names_closure
            if (defs := info.name2fixturedefs.get(name))
        )
        if shares:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
