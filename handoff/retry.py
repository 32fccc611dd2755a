"""One retry policy for every HTTP call the product makes (built on tenacity).

Why one: each tool's client used to carry its own loop, and they disagreed on jitter, caps and
how to read Retry-After. Here a server's Retry-After (seconds or an HTTP date) is honoured in
full, bounded only by a per-call deadline: a wait that would pass the deadline fails the call at
once with a message saying so, instead of sleeping and failing later. Without Retry-After the
wait is exponential backoff with jitter, and the number of attempts is capped.

What is worth another attempt stays with each tool: a `Classifier` maps the tool's exceptions to
`Transient` (retry), an exception to raise instead (a message the user can act on), or None (let
the error through). The clock is injected, so tests advance fake time instead of sleeping.
Errors raised here never chain the tool's exception: those carry request headers and tokens.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Literal, NoReturn, Protocol, TypeVar

import tenacity

from handoff.interrupt import INTERRUPT

log = logging.getLogger(__name__)

T = TypeVar("T")


# -- clocks ----------------------------------------------------------------------------------
class Clock(Protocol):
    """Time as the retry policy sees it."""

    def now(self) -> float:
        """Seconds since the epoch: what an HTTP-date Retry-After is measured against."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps: what deadlines are measured on."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def interruptible_sleep(self, seconds: float) -> None:
        """Sleep, but wake at once when a stop is requested (Ctrl-C, SIGTERM)."""
        INTERRUPT.wait(seconds)


class ScaledClock:
    """Real time running `factor` times faster: a vendor's minute lasts 60/factor seconds.

    Tests and benchmarks run vendor quotas (and Retry-After waits) on it at full fidelity in a
    fraction of the time; every wait is a real, scaled-down sleep.
    """

    def __init__(self, factor: float):
        self.factor = factor
        self._origin_wall = time.time()
        self._origin = time.monotonic()

    def monotonic(self) -> float:
        return (time.monotonic() - self._origin) * self.factor

    def now(self) -> float:
        return self._origin_wall + self.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) / self.factor)

    def interruptible_sleep(self, seconds: float) -> None:
        INTERRUPT.wait(max(0.0, seconds) / self.factor)


class FakeClock:
    """A clock for tests: `sleep` moves time forward at once and records the wait.

    It starts at the real time (unless told otherwise), so an HTTP-date Retry-After written by a
    local test server reads as the wait the server meant. Thread-safe: parallel fetch workers
    share one.
    """

    def __init__(self, start: float | None = None):
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        return self.now()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
            self.sleeps.append(seconds)

    @property
    def slept(self) -> float:
        """Fake seconds slept in total."""
        with self._lock:
            return sum(self.sleeps)


SYSTEM_CLOCK = SystemClock()


# -- Retry-After -----------------------------------------------------------------------------
def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds a Retry-After asks for (a number or an HTTP date, RFC 9110), measured from `now`.

    None when the header is absent or unreadable; a date in the past means no wait.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is unreadable
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


# -- policy ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    """How hard one call tries: attempts, backoff and the deadline that bounds every wait."""

    max_attempts: int = 8
    base_delay: float = 0.5  # first backoff before jitter; doubles each attempt
    max_delay: float = 60.0  # cap of one backoff wait (Retry-After is not capped by this)
    deadline: float = 300.0  # seconds one call may take, its retries and waits included
    jitter: Literal["full", "equal"] = "equal"
    deadline_setting: str = "max_retry_wait_seconds"  # named in the error, so users know the knob

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Wait after failed attempt number `attempt` (1-based) when the server gave no hint.

        Full jitter spreads retries over [0, cap]; equal jitter over [cap/2, cap], which keeps
        a floor under the wait.
        """
        cap = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        if self.jitter == "full":
            return rng.uniform(0, cap)
        return cap / 2 + rng.uniform(0, cap / 2)


@dataclass(frozen=True)
class Transient:
    """A failure worth another attempt: why (e.g. "HTTP 503") and the raw Retry-After, if any."""

    reason: str
    retry_after: str | None = None


Verdict = Transient | BaseException | None
# (error, what the call was doing) -> retry, raise this instead, or None to let the error through
Classifier = Callable[[BaseException, str], Verdict]


class RetryStats(Protocol):
    """Where the waits are counted (a connector's FetchStats)."""

    retries: int
    waited_seconds: float


class Throttle(Protocol):
    """Paces requests to a host (`handoff.throttle.HostThrottle`)."""

    def acquire(self) -> float: ...


class GaveUp(Exception):
    """A call kept failing; the message names the source, the call and what to do."""


class _Again(Exception):
    """Internal: one attempt failed transiently (carries no trace of the tool's error)."""

    def __init__(self, transient: Transient):
        super().__init__(transient.reason)
        self.transient = transient


class Retrier:
    """Runs the calls of one source (or one webhook) under a `RetryPolicy`; thread-safe."""

    def __init__(
        self,
        source: str,
        classify: Classifier,
        *,
        policy: RetryPolicy | None = None,
        clock: Clock | None = None,
        stats: RetryStats | None = None,
        error: Callable[[str], Exception] = GaveUp,
        advice: str = "try again later",
        rng: random.Random | None = None,
        throttle: Throttle | None = None,
    ):
        self.source = source
        self.throttle = throttle  # e.g. "source 'it-jira'": how messages name the caller
        self.classify = classify
        self.policy = policy or RetryPolicy()
        self.clock: Clock = clock or SYSTEM_CLOCK
        self.stats = stats
        self.error = error
        self.advice = advice
        self.rng = rng or random.Random()
        self._lock = threading.Lock()

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run `fn`, retrying transient failures; `what` says what it does ("reading issues")."""
        policy, clock = self.policy, self.clock
        ends_at = clock.monotonic() + policy.deadline
        hints: dict[int, float] = {}  # attempt number -> the wait the server asked for

        def attempt() -> T:
            self._before_request()
            try:
                result = fn()
            except Exception as exc:
                verdict = self.classify(exc, what)
                if verdict is None:
                    raise
            else:
                _progress(self.stats)
                return result
            # Raised outside the except block so nothing chains the tool's error.
            if isinstance(verdict, Transient):
                raise _Again(verdict)
            raise verdict

        def wait(state: tenacity.RetryCallState) -> float:
            transient = _transient(state)
            hint = retry_after_seconds(transient.retry_after, clock.now())
            if hint is not None:
                hints[state.attempt_number] = hint
                return hint
            return policy.backoff(state.attempt_number, self.rng)

        def stop(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number >= policy.max_attempts:
                return True
            return clock.monotonic() + state.upcoming_sleep > ends_at

        def counted(state: tenacity.RetryCallState) -> None:
            delay = state.upcoming_sleep
            if self.stats is not None:
                with self._lock:
                    self.stats.retries += 1
                    self.stats.waited_seconds += delay
            log.info(
                "%s: %s failed (%s), attempt %d of %d; retrying in %.1f s",
                self.source,
                what,
                _transient(state).reason,
                state.attempt_number,
                policy.max_attempts,
                delay,
            )

        def give_up(state: tenacity.RetryCallState) -> NoReturn:
            raise self.error(self._message(what, state, hints, ends_at))

        # Most calls succeed at once: try once before paying for tenacity's machinery, then
        # hand it that failure as its first attempt.
        try:
            return attempt()
        except _Again as failed:
            first: _Again | None = failed

        def replayed() -> T:
            nonlocal first
            if first is not None:
                failed, first = first, None
                raise failed
            return attempt()

        retrying = tenacity.Retrying(
            sleep=lambda seconds: pause(clock, seconds),
            stop=stop,
            wait=wait,
            retry=tenacity.retry_if_exception_type(_Again),
            before_sleep=counted,
            retry_error_callback=give_up,
        )
        return retrying(replayed)

    def _before_request(self) -> None:
        """Stop when asked to or stalled, then wait for the host's throttle."""
        guard = getattr(self.stats, "guard", None)
        if guard is not None:
            guard()
        else:
            INTERRUPT.check()
        if self.throttle is not None:
            waited = self.throttle.acquire()
            if waited and self.stats is not None:
                with self._lock:
                    self.stats.waited_seconds += waited

    def _message(
        self, what: str, state: tenacity.RetryCallState, hints: dict[int, float], ends_at: float
    ) -> str:
        policy, n = self.policy, state.attempt_number
        reason = _transient(state).reason
        tries = f"{n} attempt" + ("s" if n != 1 else "")
        head = f"{self.source}: gave up {what} after {tries} ({reason})"
        if n >= policy.max_attempts:
            return f"{head}; {self.advice}"
        limit = f"the {policy.deadline:g}s allowed per call ({policy.deadline_setting})"
        left = max(0.0, ends_at - self.clock.monotonic())
        if n in hints:
            return (
                f"{head}: the server asked to wait {state.upcoming_sleep:.0f}s, longer than the "
                f"{left:.0f}s left of {limit}; {self.advice}"
            )
        return (
            f"{head}: the next wait of {state.upcoming_sleep:.1f}s would pass {limit}; "
            f"{self.advice}"
        )


def pause(clock: Clock, seconds: float) -> None:
    """A wait (a retry's, a throttle's); on a real clock it ends early when a stop is requested."""
    wake = getattr(clock, "interruptible_sleep", None)
    if wake is not None:
        wake(seconds)
    else:
        clock.sleep(seconds)
    INTERRUPT.check()


def _progress(stats: object) -> None:
    """A call was answered: the fetch's watchdog (when one is set) sees progress."""
    guard = getattr(stats, "guard", None)
    beat = getattr(guard, "beat", None)
    if beat is not None:
        beat()


def _transient(state: tenacity.RetryCallState) -> Transient:
    assert state.outcome is not None
    error = state.outcome.exception()
    assert isinstance(error, _Again)
    return error.transient
