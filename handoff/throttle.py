"""Client-side throttling: stay under a vendor's request quota instead of bouncing off it.

One `HostThrottle` per API host (scheme, host and port) is shared by every thread and every
source of the process that talks to that host, because vendors count per token or per tenant,
not per worker. It paces requests at a share (default 90%) of the quota, never lets more than
that share into any sliding window of the quota's length (vendors count over sliding windows, so
pacing alone would let a burst after a pause overrun), and adapts to what the server says:

- `X-RateLimit-NearLimit: true`, or few `X-RateLimit-Remaining` / `RateLimit-Remaining` left
  before the `Reset`: the rest is spread over the time until the reset;
- 429: every thread pauses until `Retry-After` (or the reset) has passed, and the quota is
  lowered to what was accepted in the last window, so the next 429 does not come.

Documented quotas per vendor apply to the vendor's own hosts; any other host (a proxy, a Data
Center site, a sandbox) is unthrottled until configured or until it answers 429. Time is read
from the same injectable clock as the retry policy, so tests run on a fake or scaled clock.
"""

from __future__ import annotations

import email.utils
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from handoff.retry import SYSTEM_CLOCK, Clock, pause, retry_after_seconds

DEFAULT_SHARE = 0.9
NEAR_LIMIT_SLOWDOWN = 2.0  # pace divisor while the server says we are near its limit
MAX_SLOWDOWN = 16.0


@dataclass(frozen=True)
class Quota:
    """At most `requests` per `window` seconds (a vendor's documented or configured limit)."""

    requests: float
    window: float = 60.0

    @classmethod
    def per_minute(cls, requests: float) -> Quota:
        return cls(requests, 60.0)


# Documented limits, per vendor host:
# - Asana: 150 requests/minute per token on free plans, 1,500 on paid ones.
# - Jira Cloud: API-token traffic is held to per-second burst limits per tenant and endpoint
#   that Atlassian does not publish; its own sizing example budgets 10 requests/second.
# - Google Sheets: 60 read requests/minute per user (300 per project).
ASANA_QUOTA = {"free": Quota.per_minute(150), "paid": Quota.per_minute(1500)}
JIRA_CLOUD_QUOTA = Quota(10, 1.0)
SHEETS_QUOTA = Quota.per_minute(60)


def documented_quota(kind: str, url: str, plan: str = "paid") -> Quota | None:
    """The vendor's documented quota when `url` is the vendor's own service, else None."""
    host = (urlsplit(url).hostname or "").lower()
    if kind == "asana" and host == "app.asana.com":
        return ASANA_QUOTA.get(plan, ASANA_QUOTA["paid"])
    if kind == "jira" and (host.endswith(".atlassian.net") or host == "api.atlassian.com"):
        return JIRA_CLOUD_QUOTA
    if kind == "gsheets" and host == "sheets.googleapis.com":
        return SHEETS_QUOTA
    return None


def source_quota(source: Any) -> Quota | None:
    """A source's quota: its `rate_limit_per_minute` when set, else its vendor's documented one."""
    configured = getattr(source, "rate_limit_per_minute", None)
    if configured:
        return Quota.per_minute(float(configured))
    url = getattr(source, "url", None) or getattr(source, "api_url", None) or ""
    return documented_quota(source.kind, url, getattr(source, "plan", "paid"))


def origin(url: str) -> str:
    """`https://host:443`: what requests to one vendor account have in common."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


class HostThrottle:
    """Paces the requests to one host; thread-safe. `acquire` before, `observe` after."""

    def __init__(
        self,
        host: str,
        quota: Quota | None,
        *,
        share: float = DEFAULT_SHARE,
        clock: Clock | None = None,
    ):
        self.host = host
        self.quota = quota
        self.share = share
        self.clock: Clock = clock or SYSTEM_CLOCK
        self.paused_until = float("-inf")
        self.throttled_429 = 0  # 429 answers seen
        self._slowdown = 1.0
        self._spread_until = float("-inf")  # pacing from Remaining/Reset holds until then
        self._spread_gap = 0.0
        self._next = float("-inf")  # earliest start of the next request (pacing)
        self._sent: deque[float] = deque()  # start times within the last window
        self._lock = threading.Lock()

    # -- configuration -----------------------------------------------------------------------
    def limit(self, quota: Quota | None, share: float) -> None:
        """Another source on this host: the stricter quota and share win."""
        with self._lock:
            if quota is not None and (
                self.quota is None
                or quota.requests / quota.window < self.quota.requests / self.quota.window
            ):
                self.quota = quota
            self.share = min(self.share, share)

    @property
    def window(self) -> float:
        return self.quota.window if self.quota else 60.0

    def allowed_per_window(self) -> int | None:
        """Requests let into any window of the quota's length, or None when unthrottled."""
        if self.quota is None:
            return None
        return max(1, int(self.quota.requests * self.share))

    def _gap(self, now: float) -> float:
        """Seconds between two request starts at the current pace."""
        gap = 0.0
        if self.quota is not None:
            gap = self.quota.window / (self.quota.requests * self.share) * self._slowdown
        if now < self._spread_until:
            gap = max(gap, self._spread_gap)
        return gap

    # -- before a request --------------------------------------------------------------------
    def acquire(self) -> float:
        """Wait for this request's turn; returns the seconds waited (on the clock)."""
        clock = self.clock
        with self._lock:
            now = clock.monotonic()
            start = max(now, self.paused_until, self._next)
            allowed = self.allowed_per_window()
            window = self.window
            while self._sent and self._sent[0] <= now - window:
                self._sent.popleft()
            if allowed is not None and len(self._sent) >= allowed:
                # the request that would make one too many in a window waits until the oldest
                # of the last `allowed` leaves it
                start = max(start, self._sent[-allowed] + window)
            self._next = start + self._gap(start)
            self._sent.append(start)
        wait = start - now
        if wait > 0:
            pause(clock, wait)
        return max(0.0, wait)

    # -- after a response --------------------------------------------------------------------
    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from a response's status and rate-limit headers."""
        get = _getter(headers)
        clock = self.clock
        with self._lock:
            now = clock.monotonic()
            if status == 429:
                self._rate_limited(now, get)
                return
            near = (get("X-RateLimit-NearLimit") or "").strip().lower() == "true"
            if near:
                self._slowdown = min(MAX_SLOWDOWN, self._slowdown * NEAR_LIMIT_SLOWDOWN)
            elif self._slowdown > 1.0:
                self._slowdown = max(1.0, self._slowdown * 0.98)  # recover slowly
            remaining = _number(get("X-RateLimit-Remaining") or get("RateLimit-Remaining"))
            limit = _number(get("X-RateLimit-Limit") or get("RateLimit-Limit"))
            reset = self._reset_in(get, clock)
            low = remaining is not None and (
                near or (limit is not None and remaining < 0.2 * limit)
            )
            if low and reset is not None and reset > 0 and remaining is not None:
                # spread what is left of this window's allowance over the time to its reset
                self._spread_gap = reset / max(1.0, remaining * self.share)
                self._spread_until = now + reset

    def _rate_limited(self, now: float, get: Any) -> None:
        self.throttled_429 += 1
        wait = retry_after_seconds(get("Retry-After"), self.clock.now())
        if wait is None:
            wait = self._reset_in(get, self.clock)
        if wait is None or wait <= 0:
            wait = 1.0
        self.paused_until = max(self.paused_until, now + wait)
        self._next = max(self._next, self.paused_until)
        # What the server accepted in the last window is an upper bound of its quota for us.
        window = self.window
        accepted = sum(1 for t in self._sent if now - window < t <= now) - 1
        if self.quota is not None and accepted >= 1:
            learned = Quota(float(accepted), window)
            if learned.requests < self.quota.requests:
                self.quota = learned

    @staticmethod
    def _reset_in(get: Any, clock: Clock) -> float | None:
        """Seconds until the window resets, from X-RateLimit-Reset (a date or epoch seconds)
        or RateLimit-Reset (seconds from now)."""
        delta = _number(get("RateLimit-Reset"))
        if delta is not None:
            return delta
        value = get("X-RateLimit-Reset")
        if not value:
            return None
        number = _number(value)
        if number is not None:
            return number - clock.now() if number > 1e9 else number
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value) if "," in value else None
            if parsed is None:
                return None
            when = parsed.timestamp()
        return when - clock.now()


def _getter(headers: Mapping[str, str]) -> Any:
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    return lambda name: lowered.get(name.lower())


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number else None


# -- the process-wide registry -----------------------------------------------------------------
_throttles: dict[tuple[str, int], HostThrottle] = {}
_registry_lock = threading.Lock()


def throttle_for(
    url: str,
    quota: Quota | None,
    *,
    share: float = DEFAULT_SHARE,
    clock: Clock | None = None,
) -> HostThrottle:
    """The throttle of `url`'s host, shared by every caller with the same clock."""
    clock = clock or SYSTEM_CLOCK
    key = (origin(url), id(clock))
    with _registry_lock:
        found = _throttles.get(key)
        if found is None:
            found = HostThrottle(origin(url), quota, share=share, clock=clock)
            _throttles[key] = found
            return found
    found.limit(quota, share)
    return found


def source_throttle(source: Any, url: str, clock: Clock | None = None) -> HostThrottle:
    """The shared throttle for a configured source talking to `url`."""
    return throttle_for(
        url,
        source_quota(source),
        share=float(getattr(source, "rate_limit_share", DEFAULT_SHARE)),
        clock=clock,
    )
