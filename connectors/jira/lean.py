"""A lean GET for Jira's many small reads: remote links cost one request per linked issue.

`requests` spends about a millisecond of CPU preparing, sending and hooking each call; urllib3
beneath it does the same call for a third of that. The reader sends the headers the `jira`
client's session sends (auth, User-Agent, Accept and its cookies at the time), trusts the same
CA bundle, waits as long, and turns an error answer into the client's own `JIRAError` (through
the client's own `raise_on_error`), so retries, the throttle and the messages naming the
source stay as they are. It is not used behind a proxy or with a client certificate, and
a redirect is left to the caller's session, which follows it as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
import requests
import urllib3
from jira.client import TokenAuth
from jira.resilientsession import raise_on_error
from requests.adapters import DEFAULT_CA_BUNDLE_PATH
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.exceptions import (
    SSLError as Urllib3SSLError,
)

Observe = Callable[[int, Mapping[str, str]], None]


class Redirected(Exception):
    """The site answered with a redirect: the caller asks its own session, which follows it."""


class LeanGet:
    """GETs of JSON from one Jira site on a shared, thread-safe connection pool."""

    def __init__(
        self, session: requests.Session, url: str, *, timeout: float, pool_size: int
    ) -> None:
        self.timeout = urllib3.Timeout(connect=timeout, read=timeout)
        verify = session.verify
        tls: dict[str, Any] = {}
        if verify is False:
            tls["cert_reqs"] = "CERT_NONE"
        else:
            tls["ca_certs"] = DEFAULT_CA_BUNDLE_PATH if verify is True else str(verify)
        self.pool = urllib3.PoolManager(num_pools=2, maxsize=pool_size, block=False, **tls)
        prepared = session.prepare_request(requests.Request("GET", url))
        self.headers = dict(prepared.headers)

    @classmethod
    def for_session(
        cls, session: requests.Session, url: str, *, timeout: float, pool_size: int
    ) -> LeanGet | None:
        """A reader for `session`'s site, or None where only `requests` does the same: a proxy
        for the site, a client certificate, or auth other than basic or a bearer token."""
        proxied = any(session.proxies.get(k) for k in ("all", "https", "http"))
        auth_ok = isinstance(session.auth, tuple | TokenAuth)
        if proxied or session.cert or not auth_ok or session.verify is None:
            return None
        return cls(session, url, timeout=timeout, pool_size=pool_size)

    def get_json(self, url: str, observe: Observe) -> Any:
        """The decoded JSON of a GET of `url`; `observe` sees every answer's status and headers
        (the request count and the throttle), as the session's response hook does."""
        try:
            answer = self.pool.request(
                "GET",
                url,
                headers=self.headers,
                timeout=self.timeout,
                retries=False,
                redirect=False,
                preload_content=True,
            )
        except HTTPError as err:
            raise _as_requests_error(err) from None
        observe(answer.status, answer.headers)
        if 300 <= answer.status < 400:
            raise Redirected(url)
        if not 200 <= answer.status < 300:
            raise_on_error(_response(url, answer))
        return orjson.loads(answer.data) if answer.data else {}


def _response(url: str, answer: urllib3.BaseHTTPResponse) -> requests.Response:
    """The answer as `requests` would have handed it to the client (for its error text)."""
    response = requests.Response()
    response.status_code = answer.status
    response.headers = CaseInsensitiveDict(answer.headers)
    response._content = answer.data
    response.url = url
    response.reason = answer.reason or ""
    response.encoding = requests.utils.get_encoding_from_headers(response.headers)
    return response


def _as_requests_error(err: HTTPError) -> requests.RequestException:
    """urllib3's failure as the `requests` exception the session would have raised (the
    retry policy classifies those; the message carries no headers)."""
    if isinstance(err, Urllib3SSLError):
        return requests.exceptions.SSLError(str(err))
    if isinstance(err, ConnectTimeoutError) and not isinstance(err, NewConnectionError):
        return requests.exceptions.ConnectTimeout(str(err))
    if isinstance(err, ReadTimeoutError):
        return requests.exceptions.ReadTimeout(str(err))
    return requests.exceptions.ConnectionError(str(err))
