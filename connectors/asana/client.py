"""Calls through the `asana` SDK under the shared retry policy, with Asana's error meanings.

The SDK's urllib3 retries are switched off: they sleep without bound on Retry-After and end in a
`MaxRetryError` that names neither the source nor what to do. Here every call returns the raw
JSON page (`full_payload=True`, no model objects) and failures end in a `ConnectorError` that
names the source and never the token.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import asana
import urllib3
from asana.rest import ApiException
from urllib3.util.retry import Retry

from connectors.base import ConnectorError, FetchStats, PermanentConnectorError
from handoff.retry import Clock, Retrier, RetryPolicy, Transient, Verdict
from handoff.throttle import HostThrottle, documented_quota, throttle_for

RETRY_STATUSES = {429, 500, 502, 503, 504}


class NotFound(Exception):
    """The object is gone (deleted between listing and reading)."""


class PaymentRequired(Exception):
    """402: the request asks for a feature above the workspace's plan (e.g. dependencies)."""


class OffsetExpired(Exception):
    """Asana refused an offset token; the listing must start again from the first page."""


class Truncated(Exception):
    """The SDK could not read the answer as JSON (a cut-off body)."""


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
        policy: RetryPolicy | None = None,
        clock: Clock | None = None,
        pool_size: int = 16,
        throttle: HostThrottle | None = None,
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
        self.status_updates = asana.StatusUpdatesApi(self.client)
        self.source_name = source_name
        self.stats = stats or FetchStats()
        # every call waits its turn on the host's shared throttle, which reads every answer
        self.throttle = throttle or throttle_for(url, documented_quota("asana", url), clock=clock)
        self._observe_responses()
        self.retrier = Retrier(
            f"asana source '{source_name}'",
            self._classify,
            policy=policy,
            clock=clock,
            stats=self.stats,
            error=ConnectorError,
            advice="Asana may be rate limiting or unavailable; run the sync again later",
            throttle=self.throttle,
        )
        self._lock = threading.Lock()

    def call(
        self, what: str, method: Callable[..., Any], *args: Any, **opts: Any
    ) -> dict[str, Any]:
        """Run one SDK call returning the response's JSON; retry 429/5xx/transport errors."""

        def attempt() -> dict[str, Any]:
            with self._lock:
                self.stats.requests += 1
            try:
                result = method(*args, opts, full_payload=True)
            except ApiException as err:
                if err.status == 412:  # a sync token the caller must replace
                    return {"status": 412, **_json(err.body)}
                raise
            if not isinstance(result, dict):
                raise Truncated()
            return result

        return self.retrier.call(what, attempt)

    def _observe_responses(self) -> None:
        """Hand every answer's status and headers to the throttle (429s and rate headers)."""
        pool = self.client.rest_client.pool_manager
        send = pool.request
        throttle = self.throttle

        def request(*args: Any, **kwargs: Any) -> Any:
            response = send(*args, **kwargs)
            throttle.observe(response.status, response.headers)
            return response

        pool.request = request  # type: ignore[method-assign]

    def _classify(self, err: BaseException, what: str) -> Verdict:
        name = self.source_name
        if isinstance(err, Truncated):
            return Transient("an unreadable (truncated) response")
        if isinstance(err, urllib3.exceptions.HTTPError):
            return Transient(f"a connection problem ({type(err).__name__})")
        if not isinstance(err, ApiException):
            return None
        status = int(err.status or 0)
        if status == 401:
            return PermanentConnectorError(
                f"asana source '{name}': the access token was refused (401 Not Authorized); "
                "check the token the config gives for this source"
            )
        if status == 403:
            return PermanentConnectorError(
                f"asana source '{name}': {what} is forbidden (403); the token's user needs "
                "access to it"
            )
        if status == 404:
            return NotFound(what)
        if status == 402:  # a paid-plan feature (dependencies) on a free workspace
            return PaymentRequired(_message(err.body))
        if status == 400 and "offset" in _message(err.body).lower():
            return OffsetExpired(_message(err.body))
        if status in RETRY_STATUSES:
            headers = err.headers if err.headers is not None else {}
            return Transient(f"HTTP {status}", headers.get("Retry-After"))
        return ConnectorError(
            f"asana source '{name}': {what} failed with HTTP {status}: {_message(err.body)}"
        )


def _json(body: Any) -> dict[str, Any]:
    try:
        data = json.loads(body.decode() if isinstance(body, bytes) else body or "{}")
    except (ValueError, AttributeError):
        return {}
    return data if isinstance(data, dict) else {}


def _message(body: Any) -> str:
    errors = _json(body).get("errors") or [{}]
    return str(errors[0].get("message", "no message"))
