"""Calls through the `asana` SDK with our own retry policy: Retry-After honoured, waits bounded.

The SDK's urllib3 retries are switched off: they sleep without bound on Retry-After and end in a
`MaxRetryError` that names neither the source nor what to do. Here every call returns the raw
JSON page (`full_payload=True`, no model objects) and failures end in a `ConnectorError` that
names the source and never the token.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import asana
import urllib3
from asana.rest import ApiException
from urllib3.util.retry import Retry

from connectors.base import ConnectorError, FetchStats
from connectors.retry_after import retry_after_seconds

RETRY_STATUSES = {429, 500, 502, 503, 504}


class NotFound(Exception):
    """The object is gone (deleted between listing and reading)."""


class PaymentRequired(Exception):
    """402: the request asks for a feature above the workspace's plan (e.g. dependencies)."""


class OffsetExpired(Exception):
    """Asana refused an offset token; the listing must start again from the first page."""


class AsanaHttp:
    """One authenticated SDK client plus retry accounting in `stats` (thread-safe)."""

    def __init__(
        self,
        *,
        source_name: str,
        url: str,
        token: str,
        ca_bundle: str | None = None,
        stats: FetchStats | None = None,
        max_retries: int = 8,
        max_wait_seconds: float = 300.0,
        pool_size: int = 16,
    ):
        config = asana.Configuration()
        config.host = url.rstrip("/")
        config.access_token = token
        if ca_bundle:
            config.ssl_ca_cert = ca_bundle
        config.retry_strategy = Retry(total=False, redirect=3)
        config.connection_pool_maxsize = pool_size
        self.client = asana.ApiClient(config)
        self.tasks = asana.TasksApi(self.client)
        self.stories = asana.StoriesApi(self.client)
        self.sections = asana.SectionsApi(self.client)
        self.projects = asana.ProjectsApi(self.client)
        self.workspaces = asana.WorkspacesApi(self.client)
        self.events = asana.EventsApi(self.client)
        self.users = asana.UsersApi(self.client)
        self.source_name = source_name
        self.stats = stats or FetchStats()
        self.max_retries = max_retries
        self.max_wait_seconds = max_wait_seconds
        self.backoff_seconds = 0.2  # first wait when the server gives no Retry-After
        self._lock = threading.Lock()

    def call(
        self, what: str, method: Callable[..., Any], *args: Any, **opts: Any
    ) -> dict[str, Any]:
        """Run one SDK call returning the response's JSON; retry 429/5xx/transport errors."""
        attempt = 0
        while True:
            with self._lock:
                self.stats.requests += 1
            try:
                result = method(*args, opts, full_payload=True)
            except ApiException as err:
                status = int(err.status or 0)
                if status == 401:
                    raise ConnectorError(
                        f"asana source '{self.source_name}': the access token was refused (401 "
                        "Not Authorized); check the token the config gives for this source"
                    ) from None
                if status == 403:
                    raise ConnectorError(
                        f"asana source '{self.source_name}': {what} is forbidden (403); the "
                        "token's user needs access to it"
                    ) from None
                if status == 404:
                    raise NotFound(what) from None
                if status == 402:
                    raise PaymentRequired(_message(err.body)) from None
                if status == 412:
                    return {"status": 412, **_json(err.body)}
                if status == 400 and "offset" in _message(err.body).lower():
                    raise OffsetExpired(_message(err.body)) from None
                if status not in RETRY_STATUSES:
                    raise ConnectorError(
                        f"asana source '{self.source_name}': {what} failed with HTTP {status}: "
                        f"{_message(err.body)}"
                    ) from None
                wait = _retry_after(err.headers) if status == 429 else None
                reason = f"HTTP {status}"
            except urllib3.exceptions.HTTPError as err:
                wait, reason = None, f"connection problem ({type(err).__name__})"
            else:
                if isinstance(result, dict):
                    return result
                wait, reason = None, "an unreadable (truncated) response"
            attempt += 1
            delay = (
                wait if wait is not None else min(30.0, self.backoff_seconds * 2 ** (attempt - 1))
            )
            with self._lock:
                over = attempt > self.max_retries or (
                    self.stats.waited_seconds + delay > self.max_wait_seconds
                )
                if not over:
                    self.stats.retries += 1
                    self.stats.waited_seconds += delay
            if over:
                raise ConnectorError(
                    f"asana source '{self.source_name}': {what} kept failing with {reason} after "
                    f"{attempt - 1} retries ({self.stats.waited_seconds:.0f}s waited); Asana may "
                    "be rate limiting or unavailable — run the sync again later"
                )
            time.sleep(delay)


def _json(body: Any) -> dict[str, Any]:
    try:
        data = json.loads(body.decode() if isinstance(body, bytes) else body or "{}")
    except (ValueError, AttributeError):
        return {}
    return data if isinstance(data, dict) else {}


def _message(body: Any) -> str:
    errors = _json(body).get("errors") or [{}]
    return str(errors[0].get("message", "no message"))


def _retry_after(headers: Any) -> float | None:
    return retry_after_seconds(headers.get("Retry-After") if headers is not None else None)
