"""Posts the report's headline to a chat webhook after a run; a failed post never fails the run.

The webhook URL is a secret (whoever has it can post to the channel): it is never logged,
never put in an exception message, and redacted from httpx's own request log.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Literal
from urllib.parse import urlsplit

import httpx

from rules.report.payloads import slack_payload, teams_payload
from rules.report.types import ReportData

log = logging.getLogger(__name__)

BACKOFF_SECONDS = 0.5
MAX_RETRY_AFTER = 30.0
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
) -> bool:
    """Post the report's headline as a Slack or Teams message; True when the hook accepted it.

    Connection errors, timeouts, 429 and 5xx answers are retried with exponential backoff
    (honouring Retry-After); other answers are final. Failures are logged and returned as
    False, never raised: a chat outage must not fail a sync.
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
            return _post_with_retries(client, url, fmt, payload, max(1, attempts))
    except Exception as exc:  # e.g. an invalid URL: report the kind only, the URL is secret
        log.warning("webhook (%s) not posted: %s", fmt, type(exc).__name__)
        return False


def post_alert(
    url: str, fmt: Literal["slack", "teams"], text: str, *, attempts: int = 3, timeout: float = 10
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
            return _post_with_retries(client, url, fmt, payload, max(1, attempts))
    except Exception as exc:  # the URL is secret: report the kind only
        log.warning("webhook (%s) alert not posted: %s", fmt, type(exc).__name__)
        return False


def _post_with_retries(
    client: httpx.Client, url: str, fmt: str, payload: dict[str, object], attempts: int
) -> bool:
    for attempt in range(1, attempts + 1):
        wait = BACKOFF_SECONDS * 2 ** (attempt - 1)
        try:
            response = client.post(url, json=payload)
        except httpx.TransportError as exc:
            problem = type(exc).__name__
        else:
            if response.is_success:
                log.info("webhook (%s) posted on attempt %d", fmt, attempt)
                return True
            problem = f"HTTP {response.status_code}"
            if response.status_code != 429 and response.status_code < 500:
                log.warning("webhook (%s) refused the post: %s; not retried", fmt, problem)
                return False
            wait = max(wait, _retry_after(response))
        if attempt < attempts:
            log.warning(
                "webhook (%s) attempt %d/%d failed: %s; retrying in %.1f s",
                fmt,
                attempt,
                attempts,
                problem,
                wait,
            )
            time.sleep(wait)
        else:
            log.warning("webhook (%s) failed after %d attempts: %s", fmt, attempts, problem)
    return False


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return 0.0
