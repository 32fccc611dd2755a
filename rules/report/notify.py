"""Posts the report's headline to a chat webhook after a run; a failed post never fails the run.

The webhook URL is a secret (whoever has it can post to the channel): it is never logged,
never put in an exception message, and redacted from httpx's own request log.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Literal
from urllib.parse import urlsplit

import httpx

from handoff.retry import Clock, GaveUp, Retrier, RetryPolicy, Transient, Verdict
from rules.report.payloads import slack_payload, teams_payload
from rules.report.types import ReportData

log = logging.getLogger(__name__)

DEADLINE_SECONDS = 60.0  # a chat outage may delay the end of a run this long, no longer
PAYLOADS = {"slack": slack_payload, "teams": teams_payload}


class _RedactWebhookUrls(logging.Filter):
    """httpx logs every request URL at INFO; keep only scheme and host of webhook URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and self.secrets:
            record.args = tuple(_redacted(a) if str(a) in self.secrets else a for a in record.args)
        return True


_redactor = _RedactWebhookUrls()
logging.getLogger("httpx").addFilter(_redactor)


def _redacted(url: object) -> str:
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.hostname or ''}/<redacted>"


def post_webhook(
    url: str,
    fmt: Literal["slack", "teams"],
    data: ReportData,
    *,
    report_path: str | None = None,
    attempts: int = 3,
    timeout: float = 10,
    clock: Clock | None = None,
) -> bool:
    """Post the report's headline as a Slack or Teams message; True when the hook accepted it.

    Connection errors, timeouts, 429 and 5xx answers are retried under the shared policy
    (Retry-After honoured, within `DEADLINE_SECONDS`); other answers are final. Failures are
    logged and returned as False, never raised: a chat outage must not fail a sync.
    """
    try:
        payload = PAYLOADS[fmt](data, report_path)
    except Exception as exc:  # a bad payload is a bug to log, not a reason to fail the run
        log.error("webhook payload could not be built (%s): %s", fmt, type(exc).__name__)
        return False
    _redactor.secrets.add(url)
    with contextlib.suppress(Exception):
        _redactor.secrets.add(str(httpx.URL(url)))  # the form httpx logs
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            return _post_with_retries(client, url, fmt, payload, attempts, clock)
    except Exception as exc:  # e.g. an invalid URL: report the kind only, the URL is secret
        log.warning("webhook (%s) not posted: %s", fmt, type(exc).__name__)
        return False


def post_alert(
    url: str,
    fmt: Literal["slack", "teams"],
    text: str,
    *,
    attempts: int = 3,
    timeout: float = 10,
    clock: Clock | None = None,
) -> bool:
    """Post a one-line alert (e.g. a failed run) to the same hook; never raises."""
    payload: dict[str, object]
    if fmt == "teams":
        card = {
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [{"type": "TextBlock", "text": text, "wrap": True, "color": "attention"}],
        }
        payload = {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
            ],
        }
    else:
        payload = {"text": text}
    _redactor.secrets.add(url)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            return _post_with_retries(client, url, fmt, payload, attempts, clock)
    except Exception as exc:  # the URL is secret: report the kind only
        log.warning("webhook (%s) alert not posted: %s", fmt, type(exc).__name__)
        return False


class _Unavailable(Exception):
    """The hook answered 429 or 5xx: worth another attempt."""

    def __init__(self, status: int, retry_after: str | None):
        super().__init__(status)
        self.status = status
        self.retry_after = retry_after


def _classify(err: BaseException, what: str) -> Verdict:
    if isinstance(err, _Unavailable):
        return Transient(f"HTTP {err.status}", err.retry_after)
    if isinstance(err, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
        return Transient(type(err).__name__)
    return None  # e.g. an unsupported URL scheme: another attempt would fail the same way


def _post_with_retries(
    client: httpx.Client,
    url: str,
    fmt: str,
    payload: dict[str, object],
    attempts: int,
    clock: Clock | None,
) -> bool:
    def post() -> httpx.Response:
        response = client.post(url, json=payload)
        if response.status_code == 429 or response.status_code >= 500:
            raise _Unavailable(response.status_code, response.headers.get("Retry-After"))
        return response

    policy = RetryPolicy(
        max_attempts=max(1, attempts),
        deadline=DEADLINE_SECONDS,
        deadline_setting="the webhook's limit",
    )
    retrier = Retrier(f"webhook ({fmt})", _classify, policy=policy, clock=clock)
    try:
        response = retrier.call("posting the message", post)
    except GaveUp as err:
        log.warning("%s", err)
        return False
    if not response.is_success:
        log.warning(
            "webhook (%s) refused the post: HTTP %d; not retried", fmt, response.status_code
        )
        return False
    log.info("webhook (%s) posted", fmt)
    return True
