"""What `handoff sandbox serve` asks of a source kind's sandbox: start on a generated organisation.

A kind names its starter in its declaration (`handoff.kinds.SourceKind.sandbox`); the CLI starts
every kind that has one, with the same size, seed, faults and TLS settings.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sandbox.server import Faults


@dataclass(frozen=True)
class GeneratedSettings:
    """The user's `sandbox serve` options, shared by every kind's sandbox."""

    size: int  # scale of the generated organisation (each kind derives its own item count)
    seed: int
    faults: Faults
    tls: ssl.SSLContext | None = None
    ca_bundle: str | None = None  # the test CA's certificate, when serving TLS
    deployment: Literal["cloud", "data_center"] = "cloud"
    port: int = 0  # 0: any free port


class RunningSandbox(Protocol):
    """A started stand-in: where it listens, what it tells the user, how it stops."""

    @property
    def url(self) -> str: ...

    def banner(self) -> str: ...

    def stop(self) -> None: ...


@dataclass
class GeneratedSandbox:
    """A started sandbox and the `handoff.yaml` source entry (and env vars) that reach it."""

    server: RunningSandbox
    source: dict[str, Any]
    env: dict[str, str]


class SandboxStarter(Protocol):
    def __call__(self, settings: GeneratedSettings) -> GeneratedSandbox: ...
