"""Who is calling the Jira sandbox, what they may see, and how many requests they may make.

A sync account usually holds *Browse projects* and nothing else; admin-only endpoints answer it
403 and projects it cannot browse simply do not exist for it. Quotas follow Jira Cloud's
documented headers (`Retry-After`, `X-RateLimit-*`, `RateLimit-Reason`) on a clock tests can
shorten.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

BROWSE = "BROWSE_PROJECTS"
ADMINISTER_PROJECTS = "ADMINISTER_PROJECTS"
ADMINISTER = "ADMINISTER"


@dataclass(frozen=True)
class JiraAccount:
    """One user with credentials; `projects` None means every project of the site."""

    name: str  # Data Center user name (also its key)
    display_name: str
    email: str
    token: str
    account_id: str
    global_permissions: frozenset[str] = frozenset()
    project_permissions: frozenset[str] = frozenset({BROWSE})
    projects: frozenset[str] | None = None
    time_zone: str = "America/New_York"

    @property
    def is_admin(self) -> bool:
        return ADMINISTER in self.global_permissions

    def has(self, permission: str, project: str | None = None) -> bool:
        """Whether the account holds a permission (globally, or in `project`/any project)."""
        if self.is_admin or permission in self.global_permissions:
            return True
        if permission not in self.project_permissions:
            return False
        return project is None or self.projects is None or project in self.projects

    def can_browse(self, project: str) -> bool:
        return self.has(BROWSE, project)


def make_account(
    name: str,
    email: str,
    token: str,
    *,
    role: str = "browse",
    projects: Collection[str] | None = None,
    time_zone: str = "America/New_York",
) -> JiraAccount:
    """`role` is "browse" (Browse projects only) or "admin" (Administer Jira)."""
    admin = role == "admin"
    return JiraAccount(
        name=name,
        display_name=name.replace("-", " ").title(),
        email=email,
        token=token,
        account_id=f"5f00000000000000{name}",
        global_permissions=frozenset({ADMINISTER}) if admin else frozenset(),
        project_permissions=frozenset({BROWSE, ADMINISTER_PROJECTS} if admin else {BROWSE}),
        projects=None if projects is None else frozenset(projects),
        time_zone=time_zone,
    )


@dataclass
class Quota:
    """`limit` requests per account per `window_seconds` of `clock` (a fixed window)."""

    limit: int
    window_seconds: float = 60.0
    clock: Callable[[], float] = time.monotonic
    reason: str = "jira-quota-tenant-based"
    _windows: dict[str, tuple[float, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, account: str) -> tuple[bool, dict[str, str]]:
        """Count one request; (allowed, headers to send)."""
        now = self.clock()
        with self._lock:
            start, used = self._windows.get(account, (now, 0))
            if now - start >= self.window_seconds:
                start, used = now, 0
            allowed = used < self.limit
            if allowed:
                used += 1
            self._windows[account] = (start, used)
        remaining = max(0, self.limit - used)
        left = max(0.0, self.window_seconds - (now - start))
        reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + left))
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": reset,
        }
        if remaining < 0.2 * self.limit:
            headers["X-RateLimit-NearLimit"] = "true"
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(left)))
            headers["RateLimit-Reason"] = self.reason
        return allowed, headers
