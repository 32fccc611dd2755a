"""Jira Cloud and Data Center: search paging, changelogs, remote links and their retry hooks."""

from connectors.jira.connector import JiraConnector

__all__ = ["JiraConnector"]
