"""A small threaded HTTP server shared by the sandbox stand-ins for Jira, Asana and Sheets.

It owns what every stand-in needs: routing, JSON bodies, auth checks, request counting
(benchmarks compare tools by the requests the sandbox saw), fault injection and optional TLS.
"""

from __future__ import annotations

import email.utils
import json
import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import orjson


@dataclass
class Request:
    """One parsed request handed to a route handler."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        """All values of a repeated or comma-separated parameter."""
        out: list[str] = []
        for value in self.query.get(name, []):
            out.extend(v for v in value.split(",") if v)
        return out

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


class HttpError(Exception):
    """Raised by handlers to answer with an error body in the vendor's envelope."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


@dataclass
class Faults:
    """Fault modes; counters make them deterministic (every Nth request, not random)."""

    rate_limit_every: int = 0  # answer 429 to every Nth request
    retry_after: str = "seconds"  # "seconds" or "date"
    retry_after_seconds: int = 1
    error_burst_every: int = 0  # every Nth request starts a burst of 5xx answers
    error_burst_length: int = 2
    error_status: int = 503
    slow_ms: int = 0  # added latency per request
    truncate_every: int = 0  # every Nth response body is cut in half
    always_status: int = 0  # answer every request with this status (an outage)

    @classmethod
    def parse(cls, spec: str | None) -> Faults:
        """Parse `rate_limit_every=5,retry_after=date,slow_ms=20` (the CLI's --faults)."""
        faults = cls()
        for part in filter(None, (spec or "").split(",")):
            key, _, value = part.partition("=")
            key = key.strip()
            if not hasattr(faults, key):
                raise ValueError(f"unknown fault mode {key!r}")
            current = getattr(faults, key)
            setattr(faults, key, type(current)(value) if not isinstance(current, str) else value)
        return faults


Handler = Callable[[Request], Response | Any]
AuthCheck = Callable[[Request], bool]


def _encode(body: Any) -> bytes:
    """A response body as compact JSON. orjson writes a search page of 1,000 issues in a tenth
    of the standard encoder's CPU, which on a small machine the served client competes for;
    anything orjson refuses goes through the standard encoder as before."""
    try:
        return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(body, separators=(",", ":")).encode()


class _Listener(ThreadingHTTPServer):
    """A listen backlog of 5 (the standard library's) drops the connections a client pool
    opens at once; each dropped one costs the client a 1-second SYN retry a real service
    never charges."""

    request_queue_size = 128


class SandboxServer:
    """Routes requests to handlers on a background thread; `url` is where it listens."""

    def __init__(
        self,
        name: str,
        *,
        auth: AuthCheck | None = None,
        unauthorized_body: Any = None,
        rate_limit_body: Callable[[], Any] | None = None,
        error_body: Callable[[int], Any] | None = None,
        faults: Faults | None = None,
        check: Handler | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ):
        self.name = name
        self.auth = auth
        self.unauthorized_body = unauthorized_body or {"message": "Unauthorized"}
        self.rate_limit_body = rate_limit_body or (lambda: {"message": "Too many requests"})
        self.error_body = error_body or (lambda status: {"message": f"error {status}"})
        self.faults = faults or Faults()
        # runs before every handler (and for unrouted requests): contract checks, quotas
        self.check = check
        self.routes: list[tuple[str, re.Pattern[str], Handler, bool]] = []
        self.requests = Counter[str]()
        self.connections = 0  # accepted (for TLS: handshaken) connections: a client's reuse
        self.clock_now: Callable[[], datetime] | None = None  # the `Date` header's clock
        # with `record_times`, (arrival on time.monotonic(), status) of every request: tests
        # check a client's request rate against a quota
        self.record_times = False
        self.request_log: list[tuple[float, int]] = []
        self._lock = threading.Lock()
        self._seen = 0
        self._last_cut = -1
        self._burst_left = 0
        self._host, self._port, self._tls = host, port, tls
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- routing -----------------------------------------------------------------------------
    def route(
        self, method: str, pattern: str, *, public: bool = False
    ) -> Callable[[Handler], Handler]:
        """Register a handler; `{name}` segments become `request.params[name]`."""
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")

        def register(handler: Handler) -> Handler:
            self.routes.append((method, regex, handler, public))
            return handler

        return register

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.connections = 0

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        scheme = "https" if self._tls else "http"
        return f"{scheme}://{self._host}:{self._httpd.server_address[1]}"

    def start(self) -> SandboxServer:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and
            # the client's delayed ACK stall every keep-alive response by ~40 ms
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet by design
                return

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server.connections += 1

            def date_time_string(self, timestamp: float | None = None) -> str:
                """The `Date` header on the sandbox's clock when it has one."""
                if server.clock_now is None or timestamp is not None:
                    return super().date_time_string(timestamp)
                return email.utils.format_datetime(server.clock_now().astimezone(UTC), usegmt=True)

            def _serve(self) -> None:
                server._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        httpd = _Listener((self._host, self._port), _Handler)
        httpd.daemon_threads = True
        if self._tls:
            httpd.socket = self._tls.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling --------------------------------------------------------------------
    def _injected_fault(self) -> Response | None:
        f = self.faults
        with self._lock:
            self._seen += 1
            n = self._seen
            if f.always_status:
                return Response(f.always_status, self.error_body(f.always_status))
            if self._burst_left > 0:
                self._burst_left -= 1
                return Response(f.error_status, self.error_body(f.error_status))
            if f.error_burst_every and n % f.error_burst_every == 0:
                self._burst_left = f.error_burst_length - 1
                return Response(f.error_status, self.error_body(f.error_status))
        if f.rate_limit_every and n % f.rate_limit_every == 0:
            if f.retry_after == "date":
                when = time.time() + f.retry_after_seconds
                retry_after = email.utils.formatdate(when, usegmt=True)
            else:
                retry_after = str(f.retry_after_seconds)
            headers = {
                "Retry-After": retry_after,
                "X-RateLimit-Limit": "100",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + f.retry_after_seconds)
                ),
                "X-RateLimit-NearLimit": "true",
                "RateLimit-Reason": "jira-burst-based",
            }
            return Response(429, self.rate_limit_body(), headers)
        return None

    def _dispatch(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        body = http.rfile.read(length) if length else b""
        request = Request(
            method=http.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in http.headers.items()},
            body=body,
        )
        arrived = time.monotonic()
        with self._lock:
            self.requests[f"{request.method} {request.path}"] += 1
        if self.faults.slow_ms:
            time.sleep(self.faults.slow_ms / 1000)
        response = self._respond(request)
        if self.record_times:
            with self._lock:
                self.request_log.append((arrived, response.status))
        self._write(http, response)

    def _respond(self, request: Request) -> Response:
        for method, regex, handler, public in self.routes:
            match = regex.match(request.path)
            if not match or method != request.method:
                continue
            if not public and self.auth and not self.auth(request):
                return Response(401, self.unauthorized_body)
            request.params = match.groupdict()
            checked = self._check(request)
            if checked is not None:
                return checked
            fault = self._injected_fault()
            if fault:
                return fault
            try:
                result = handler(request)
            except HttpError as err:
                return Response(err.status, err.body, err.headers)
            return result if isinstance(result, Response) else Response(200, result)
        checked = self._check(request)
        return checked if checked is not None else Response(404, self.error_body(404))

    def _check(self, request: Request) -> Response | None:
        if self.check is None:
            return None
        try:
            result = self.check(request)
        except HttpError as err:
            return Response(err.status, err.body, err.headers)
        return result if isinstance(result, Response) or result is None else Response(200, result)

    def _write(self, http: BaseHTTPRequestHandler, response: Response) -> None:
        payload = response.raw
        if payload is None:
            payload = _encode(response.body)
        f = self.faults
        if f.truncate_every and response.status == 200:
            with self._lock:
                # once per count: endpoints exempt from faults (a token endpoint) do not advance
                # it, and their retry must not meet the same cut forever
                n = self._seen
                cut = n % f.truncate_every == 0 and n != self._last_cut
                if cut:
                    self._last_cut = n
            if cut:
                payload = payload[: len(payload) // 2]
        http.send_response(response.status)
        http.send_header("Content-Type", response.headers.pop("Content-Type", "application/json"))
        for key, value in response.headers.items():
            http.send_header(key, value)
        http.send_header("Content-Length", str(len(payload)))
        http.end_headers()
        http.wfile.write(payload)


def test_ca_context(cert_dir: str) -> tuple[ssl.SSLContext, str]:
    """A server TLS context signed by a locally generated CA; returns it and the CA bundle path.

    Clients keep certificate checks on by trusting the bundle (REQUESTS_CA_BUNDLE / verify=).
    """
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    bundle = f"{cert_dir}/sandbox-ca.pem"
    ca.cert_pem.write_to_path(bundle)
    return context, bundle


class ServedSandbox:
    """Lifecycle shared by the vendor stand-ins: each owns a `server` (a SandboxServer)."""

    server: SandboxServer

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.server.url
