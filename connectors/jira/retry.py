"""What a failed Jira call means: retry it, or tell the user what to fix.

The waiting itself is the shared policy (`handoff.retry`). The `jira` client's own retry is
switched off (`max_retries=0`): it crashes on an HTTP-date Retry-After and caps waits at 60 s.
Errors never carry the client's exception text, which includes the request headers and so the
credentials.
"""

from __future__ import annotations

import requests
from jira.exceptions import JIRAError

from connectors.base import ConnectorError, FetchStats, PermanentConnectorError
from handoff.retry import Clock, Retrier, RetryPolicy, Transient, Verdict

TRANSIENT = {429, 500, 502, 503, 504}


def jira_retrier(
    source_name: str, stats: FetchStats, policy: RetryPolicy, clock: Clock | None = None
) -> Retrier:
    """The retrier of one Jira source; give-ups are ConnectorErrors naming the source."""
    return Retrier(
        f"source {source_name!r}",
        lambda err, what: classify(source_name, err, what),
        policy=policy,
        clock=clock,
        stats=stats,
        error=ConnectorError,
    )


def classify(source_name: str, err: BaseException, what: str) -> Verdict:
    """429, 5xx, dropped connections and truncated JSON are retried; the rest is final."""
    if isinstance(err, JIRAError):
        status = int(err.status_code or 0)
        if status in (401, 403):
            return PermanentConnectorError(
                f"source {source_name!r}: Jira refused the credentials (HTTP {status}) "
                f"while {what}; check the token (and e-mail) configured for this source"
            )
        headers = err.response.headers if err.response is not None else {}
        if status in TRANSIENT or status == 0:
            reason = f"HTTP {status}" if status else "no HTTP status"
            return Transient(reason, headers.get("Retry-After"))
        return ConnectorError(
            f"source {source_name!r}: Jira answered HTTP {status} while {what}: "
            f"{_safe_text(err.text)}"
        )
    if isinstance(err, requests.ConnectionError | requests.Timeout):
        return Transient(f"connection failed ({type(err).__name__})")
    if isinstance(err, ValueError):  # a truncated or garbled JSON body
        return Transient("the response was not complete JSON")
    return None


def _safe_text(text: str | None) -> str:
    """Jira's error message only (never headers); shortened for a one-line error."""
    return (text or "no message")[:300]
