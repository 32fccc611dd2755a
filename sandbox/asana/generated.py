"""`handoff sandbox serve` for Asana: a generated workspace with half as many tasks as Jira has
issues."""

from __future__ import annotations

from sandbox.asana.generate import generate_org
from sandbox.asana.server import AsanaSandbox
from sandbox.generated import GeneratedSandbox, GeneratedSettings


def start_generated(settings: GeneratedSettings) -> GeneratedSandbox:
    server = AsanaSandbox(
        generate_org(max(1, settings.size // 2), settings.seed),
        faults=settings.faults,
        port=settings.port,
        tls=settings.tls,
    ).start()
    entry, env = server.source_entry("marketing-asana", "HANDOFF_ASANA_TOKEN")
    return GeneratedSandbox(server, entry, env)
