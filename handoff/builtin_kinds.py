"""The source kinds Handoff ships with: the one list of them, read through `handoff.kinds`.

Parts are named by import path so that reading a config imports no vendor SDK.
"""

from __future__ import annotations

from handoff.config import AsanaSource, CsvSource, ExcelSource, GoogleSheetsSource, JiraSource
from handoff.kinds import SourceKind, register_kind

SPREADSHEET_NORMALISER = "model.normalise.spreadsheet:normalise"

BUILTIN_KINDS = (
    SourceKind(
        name="csv",
        config=CsvSource,
        connector="connectors.files:CsvConnector",
        normaliser=SPREADSHEET_NORMALISER,
    ),
    SourceKind(
        name="xlsx",
        config=ExcelSource,
        connector="connectors.files:ExcelConnector",
        normaliser=SPREADSHEET_NORMALISER,
    ),
    SourceKind(
        name="gsheets",
        config=GoogleSheetsSource,
        connector="connectors.gsheets:GoogleSheetsConnector",
        normaliser=SPREADSHEET_NORMALISER,
        sandbox="sandbox.gsheets.generated:start_generated",
    ),
    SourceKind(
        name="jira",
        config=JiraSource,
        connector="connectors.jira:JiraConnector",
        normaliser="model.normalise.jira:normalise",
        sandbox="sandbox.jira.generated:start_generated",
    ),
    SourceKind(
        name="asana",
        config=AsanaSource,
        connector="connectors.asana:AsanaConnector",
        normaliser="model.normalise.asana:normalise",
        sandbox="sandbox.asana.generated:start_generated",
    ),
)

for _kind in BUILTIN_KINDS:
    register_kind(_kind)
