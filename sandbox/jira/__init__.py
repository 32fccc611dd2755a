"""Jira sandbox: a generated or hand-built organisation served as Jira Cloud or Data Center."""

from sandbox.jira.generate import generate_org
from sandbox.jira.org import JiraOrg
from sandbox.jira.server import JiraSandbox

__all__ = ["JiraOrg", "JiraSandbox", "generate_org"]
