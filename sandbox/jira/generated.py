"""`handoff sandbox serve` for Jira: a generated organisation as Cloud or Data Center."""

from __future__ import annotations

from sandbox.generated import GeneratedSandbox, GeneratedSettings
from sandbox.jira.generate import generate_org
from sandbox.jira.server import JiraSandbox


def start_generated(settings: GeneratedSettings) -> GeneratedSandbox:
    server = JiraSandbox(
        generate_org(settings.size, settings.seed),
        deployment=settings.deployment,
        faults=settings.faults,
        port=settings.port,
        tls=settings.tls,
        ca_bundle=settings.ca_bundle,
    ).start()
    entry, env = server.source_entry("it-jira", "HANDOFF_JIRA_TOKEN")
    return GeneratedSandbox(server, entry, env)
