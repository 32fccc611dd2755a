"""Builds the connector for a configured source by its kind."""

from __future__ import annotations

import importlib
from typing import Any

from connectors.base import Connector

CLASS_BY_KIND = {
    "csv": ("connectors.files", "CsvConnector"),
    "xlsx": ("connectors.files", "ExcelConnector"),
    "gsheets": ("connectors.gsheets", "GoogleSheetsConnector"),
    "jira": ("connectors.jira", "JiraConnector"),
    "asana": ("connectors.asana", "AsanaConnector"),
}


def build_connector(source: Any) -> Connector:
    """Instantiate the connector for `source` (a typed source config)."""
    module_name, class_name = CLASS_BY_KIND[source.kind]
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(source)  # type: ignore[no-any-return]
