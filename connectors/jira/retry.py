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
from handoff.retry import Clock, Retrier, RetryPolicy, Throttle, Transient, Verdict

TRANSIENT = {429, 500, 502, 503, 504}


def jira_retrier(
    source_name: str,
    stats: FetchStats,
    policy: RetryPolicy,
    clock: Clock | None = None,
    throttle: Throttle | None = None,
) -> Retrier:
    """The retrier of one Jira source; give-ups are ConnectorErrors naming the source."""
    return Retrier(
        f"source {source_name!r}",
        lambda err, what: classify(source_name, err, what),
        policy=policy,
        clock=clock,
        stats=stats,
        error=ConnectorError,
        throttle=throttle,
    )


class JiraRefused(PermanentConnectorError):
    """Jira refused a request and will refuse it again: `status` and Jira's own `detail` (its
    error messages, never headers) let the caller decide, e.g. an optional endpoint's 403 is
    a warning and a 400 on `key in (...)` names the keys that no longer exist."""

    def __init__(self, message: str, status: int, detail: str):
        super().__init__(message)
        self.status = status
        self.detail = detail


def _advice(status: int, what: str, detail: str) -> str:
    """What a user should change for a refusal that retrying cannot fix."""
    if status == 401:
        return (
            f"Jira refused the credentials (HTTP 401) while {what}; check the token "
            "(and e-mail) configured for this source"
        )
    if status == 403:
        return (
            f"Jira denied the sync account access (HTTP 403) while {what}: {detail}; the "
            "account needs the *Browse projects* permission on the synced projects "
            "(no admin rights are needed)"
        )
    if status == 404:
        return (
            f"Jira answered HTTP 404 while {what}: {detail}; check `url` (the API base) and "
            "`deployment` (Data Center serves /rest/api/2 only)"
        )
    return (
        f"Jira answered HTTP {status} while {what}: {detail}; check this source's `jql`, "
        "`projects` and `custom_fields`"
    )


def classify(source_name: str, err: BaseException, what: str) -> Verdict:
    """429, 5xx, dropped connections and truncated JSON are retried; the rest is final."""
    if isinstance(err, JIRAError):
        status = int(err.status_code or 0)
        headers = err.response.headers if err.response is not None else {}
        if status in TRANSIENT or status == 0:
            reason = f"HTTP {status}" if status else "no HTTP status"
            return Transient(reason, headers.get("Retry-After"))
        detail = err.text or "no message"
        message = f"source {source_name!r}: {_advice(status, what, _short(detail))}"
        return JiraRefused(message, status, detail)
    if isinstance(err, requests.ConnectionError | requests.Timeout):
        return Transient(f"connection failed ({type(err).__name__})")
    if isinstance(err, ValueError):  # a truncated or garbled JSON body
        return Transient("the response was not complete JSON")
    return None


def _short(text: str) -> str:
    """Jira's error message only (never headers); shortened for a one-line error."""
    return (text or "no message")[:300]
