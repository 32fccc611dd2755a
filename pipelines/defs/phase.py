"""Entering a phase of the sync: reported for progress logs, refused once a stop was asked for.

A Ctrl-C or SIGTERM sets the stop flag; the next phase fails the run here (without Dagster
retries), so the model is not rebuilt and nothing half-done is published.
"""

import dagster as dg

from handoff.activity import ACTIVITY
from handoff.interrupt import INTERRUPT


def enter_phase(phase: str) -> None:
    """Announce `phase`; fail the run instead when a stop was requested."""
    if INTERRUPT.requested:
        raise dg.Failure(
            description=f"stopped by {INTERRUPT.signal_name or 'request'} before {phase}",
            allow_retries=False,
        )
    ACTIVITY.enter_phase(phase)
