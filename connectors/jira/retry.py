"""Retries for Jira calls: honours Retry-After (seconds or HTTP date), backs off with jitter.

The `jira` client's own retry is switched off (`max_retries=0`): it crashes on an HTTP-date
Retry-After and caps waits at 60 s. Errors never carry the client's exception text, which
includes the request headers and so the credentials.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import requests
from jira.exceptions import JIRAError

from connectors.base import ConnectorError, FetchStats
from connectors.retry_after import retry_after_seconds

T = TypeVar("T")
TRANSIENT = {429, 500, 502, 503, 504}


class JiraRefused(ConnectorError):
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


@dataclass
class RetryPolicy:
    """How long to keep trying: `max_attempts` per call and `max_total_wait` per fetch."""

    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 60.0
    max_total_wait: float = 300.0


class Retrier:
    """Runs calls for one source, sleeping between attempts and counting retries in `stats`."""

    def __init__(
        self,
        source: str,
        stats: FetchStats,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.source = source
        self.stats = stats
        self.policy = policy or RetryPolicy()
        self.sleep = sleep

    def call(self, what: str, fn: Callable[[], T], *, missing_ok: bool = False) -> T:
        """Run `fn`; transient failures are retried, others become a ConnectorError.

        With `missing_ok` a 404 (the item was deleted meanwhile) returns None.
        """
        attempt = 0
        while True:
            attempt += 1
            status, wait_hint, detail = self._attempt(fn)
            if status is None:
                return wait_hint  # type: ignore[return-value]  # the call's result
            if status == 404 and missing_ok:
                return None  # type: ignore[return-value]
            if status not in TRANSIENT and status != 0:
                message = f"source {self.source!r}: {_advice(status, what, _short(detail))}"
                raise JiraRefused(message, status, detail)
            delay = self._delay(attempt, wait_hint)
            spent = self.stats.waited_seconds
            if attempt >= self.policy.max_attempts or spent + delay > self.policy.max_total_wait:
                reason = f"HTTP {status}" if status else detail
                raise ConnectorError(
                    f"source {self.source!r}: gave up {what} after {attempt} attempts "
                    f"({reason}; waited {spent:.1f}s in total); try again later"
                )
            self.stats.retries += 1
            self.stats.waited_seconds += delay
            self.sleep(delay)

    def _attempt(self, fn: Callable[[], T]) -> tuple[int | None, object, str]:
        """(None, result, "") on success, else (status or 0, retry-after seconds, detail)."""
        try:
            return None, fn(), ""
        except JIRAError as err:
            status = int(err.status_code or 0)
            headers = err.response.headers if err.response is not None else {}
            hint = retry_after_seconds(headers.get("Retry-After"))
            return (status or 0), hint, err.text or "no message"
        except (requests.ConnectionError, requests.Timeout) as err:
            return 0, None, f"connection failed ({type(err).__name__})"
        except ValueError:  # a truncated or garbled JSON body
            return 0, None, "the response was not complete JSON"

    def _delay(self, attempt: int, hint: object) -> float:
        backoff = min(self.policy.max_delay, self.policy.base_delay * 2 ** (attempt - 1))
        jitter = random.uniform(0, backoff / 2)
        if isinstance(hint, float):
            return min(self.policy.max_delay, hint) + random.uniform(0, 0.25)
        return backoff / 2 + jitter


def _short(text: str) -> str:
    """Jira's error message only (never headers); shortened for a one-line error."""
    return text[:300]


def now_utc() -> datetime:
    return datetime.now(UTC)
