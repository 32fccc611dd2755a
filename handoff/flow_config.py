"""Settings for governing during the flow: write-back to the tools, owner digests, intraday syncs.

Kept apart from `handoff.config` so each block reads on its own; `handoff.config` hangs them on
the sources (`writeback:`) and on the top level (`digests:`, `intraday:`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

Severity = Literal["info", "warn", "fail"]


class _Strict(BaseModel):
    # built on first use (see `handoff.config.Strict`)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class WriteBack(_Strict):
    """One comment per open finding on the waiting item, in the item's own tool (opt-in)."""

    enabled: bool = False
    min_severity: Severity = "warn"
    # dry_run: plan and print, write nothing; `handoff writeback --apply` overrides it once
    dry_run: bool = True
    max_writes_per_run: int = Field(50, ge=0, le=10_000)
    on_resolve: Literal["edit", "delete"] = "edit"
    also_blocking_item: bool = False  # comment on the upstream (blocking) item too


class Smtp(_Strict):
    host: str
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str
    timeout_seconds: float = Field(30, gt=0, le=600)
    ca_bundle: Path | None = None


class ChatHook(_Strict):
    """A person's own Slack/Teams incoming webhook (a direct message channel)."""

    url: SecretStr
    format: Literal["slack", "teams"] = "slack"


class Digests(_Strict):
    """One message per person per run with their action list."""

    enabled: bool = True
    smtp: Smtp | None = None
    # e-mail (as in the people table) -> that person's chat webhook
    chat: dict[str, ChatHook] = {}
    send_unchanged: bool = False  # send even when nothing changed for that person
    report_url: str | None = None  # linked from each digest


class Intraday(_Strict):
    """A change-driven sensor: probes each source cheaply and syncs only the changed ones."""

    enabled: bool = False
    interval_minutes: int = Field(15, ge=1, le=1440)
    # working hours in `timezone`, e.g. "08:00-18:00"; outside it the sensor does nothing
    window: str = "07:00-19:00"
    timezone: str = "UTC"
    weekdays_only: bool = True

    @field_validator("window")
    @classmethod
    def _valid_window(cls, value: str) -> str:
        try:
            start, end = (part.strip() for part in value.split("-"))
            hours = [tuple(int(x) for x in p.split(":")) for p in (start, end)]
            if any(len(h) != 2 or not (0 <= h[0] <= 24 and 0 <= h[1] < 60) for h in hours):
                raise ValueError
        except ValueError:
            raise ValueError(
                f"not a window of working hours such as 08:00-18:00: {value!r}"
            ) from None
        return value
