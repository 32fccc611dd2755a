"""Asana stand-in: a generated or hand-built organisation served over Asana's REST contract."""

from sandbox.asana.generate import generate_org
from sandbox.asana.org import AsanaOrg
from sandbox.asana.server import AsanaSandbox

__all__ = ["AsanaOrg", "AsanaSandbox", "generate_org"]
