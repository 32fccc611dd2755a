"""Asana: projects, sections, tasks, stories and events through the official SDK."""

from connectors.asana.connector import AsanaConnector

__all__ = ["AsanaConnector"]
