"""Keeps resolved secrets out of every error text the project stores, logs, reports or prints.

Loading the config registers each secret value (tokens, service-account JSON, webhook URLs);
`redact` replaces any of them in a text. Libraries quote credentials in their errors (an HTTP
client's `Invalid header value b'Bearer …'`), so redaction happens wherever an error becomes
text, and a log-record factory redacts every log line of the process as a last line of defence.
"""

from __future__ import annotations

import base64
import logging
import threading
from typing import Any

MASK = "***"
MIN_LENGTH = 6  # shorter values would mask ordinary words; real credentials are long

_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False


def _forms(value: str) -> set[str]:
    """The spellings a secret takes inside messages: raw, stripped, escaped as in a repr."""
    forms = {value, value.strip()}
    forms.add(value.encode("unicode_escape").decode("ascii"))
    forms.add(repr(value)[1:-1])
    for line in value.splitlines():  # multi-line secrets (a private key) leak line by line
        forms.add(line.strip())
    return {f for f in forms if len(f) >= MIN_LENGTH}


def register(value: str | None, *, user: str | None = None) -> None:
    """Remember a secret for redaction; with `user`, also its HTTP Basic credential."""
    if not value:
        return
    forms = _forms(value)
    if user:
        basic = base64.b64encode(f"{user}:{value}".encode()).decode("ascii")
        forms.add(basic)
    with _lock:
        _secrets.update(forms)
    install_log_redaction()


def redact(text: Any) -> str:
    """`text` as a string with every registered secret replaced by ***."""
    out = str(text)
    if not _secrets:
        return out
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)  # longest first: no partial leftovers
    for secret in secrets:
        if secret in out:
            out = out.replace(secret, MASK)
    return out


def redact_optional(text: str | None) -> str | None:
    return None if text is None else redact(text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and formatted traceback) with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


def _redact_record(record: logging.LogRecord) -> None:
    if not _secrets:
        return
    try:
        message = record.getMessage()
    except Exception:  # a broken format string is the logging module's problem, not ours
        return
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)


def install_log_redaction() -> None:
    """Redact every log record the process creates, whichever logger or handler takes it."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
    redacting = RedactingFilter()
    for name in ("", "handoff", "model", "connectors", "rules", "pipelines", "dagster"):
        logging.getLogger(name).addFilter(redacting)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redacting)


def clear() -> None:
    """Forget every registered secret (tests that load several configs in one process)."""
    with _lock:
        _secrets.clear()
