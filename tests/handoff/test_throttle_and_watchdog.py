"""The host throttle's pacing and header reading, and the no-progress watchdog, on a fake clock."""

from __future__ import annotations

import pytest

from handoff.interrupt import NoProgress, Watchdog
from handoff.retry import FakeClock
from handoff.throttle import HostThrottle, Quota, documented_quota, origin


def test_requests_are_paced_at_the_share_of_the_quota() -> None:
    clock = FakeClock()
    throttle = HostThrottle("https://app.asana.com:443", Quota.per_minute(1500), clock=clock)
    start = clock.monotonic()
    for _ in range(2700):
        throttle.acquire()
    # 2,700 requests at 90% of 1,500/min take two minutes, never more than 1,350 in any minute
    assert clock.monotonic() - start == pytest.approx(120, abs=0.1)


def test_near_limit_slows_down_and_a_429_pauses_and_lowers_the_quota() -> None:
    clock = FakeClock()
    throttle = HostThrottle("http://h:80", Quota(10, 1.0), clock=clock)
    throttle.acquire()
    base = throttle._gap(clock.monotonic())
    throttle.observe(200, {"X-RateLimit-NearLimit": "true"})
    assert throttle._gap(clock.monotonic()) == pytest.approx(2 * base)
    for _ in range(4):
        throttle.acquire()
    throttle.observe(429, {"Retry-After": "120"})
    assert throttle.paused_until == pytest.approx(clock.monotonic() + 120)
    assert throttle.quota is not None and throttle.quota.requests < 10
    waited = throttle.acquire()
    assert waited >= 120


def test_documented_quotas_apply_to_the_vendor_hosts_only() -> None:
    assert documented_quota("asana", "https://app.asana.com/api/1.0", "free") == Quota(150, 60)
    assert documented_quota("asana", "https://app.asana.com/api/1.0") == Quota(1500, 60)
    assert documented_quota("jira", "https://acme.atlassian.net") == Quota(10, 1)
    assert documented_quota("gsheets", "https://sheets.googleapis.com") == Quota(60, 60)
    assert documented_quota("jira", "https://jira.internal.example") is None  # Data Center
    assert origin("https://App.Asana.com/api/1.0") == "https://app.asana.com:443"


def test_the_watchdog_fails_a_fetch_without_progress() -> None:
    clock = FakeClock()
    watchdog = Watchdog("it-jira", 15, now=clock.monotonic)
    clock.sleep(14 * 60)
    watchdog.check()
    watchdog.beat()
    clock.sleep(14 * 60)
    watchdog.check()  # progress restarted the count
    clock.sleep(2 * 60)
    with pytest.raises(NoProgress, match=r"source 'it-jira': no progress for 15 minutes"):
        watchdog.check()
