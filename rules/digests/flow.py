"""A run's digests: gather the published model's action lists, skip people whose list did not
change since their last digest (unless `send_unchanged`), deliver, remember what was sent.

A person whose list empties is forgotten, so their next list is sent whatever it holds. A failed
delivery is not remembered: the next run tries again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from handoff.config import HandoffConfig
from rules.digests.compose import Digest, build_digests
from rules.digests.send import DigestError, Mailer, post_chat
from rules.digests.state import load_sent, save_sent
from rules.report.data import ReportSettings, gather

log = logging.getLogger(__name__)


@dataclass
class DigestOutcome:
    sent: list[str] = field(default_factory=list)  # e-mails of the people reached
    unchanged: list[str] = field(default_factory=list)
    unroutable: list[str] = field(default_factory=list)  # names with no known e-mail
    failed: list[str] = field(default_factory=list)  # what went wrong, one line each


def person_emails(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """A name as the report shows it (display name, person id, e-mail) -> the e-mail; a display
    name two people share is left out rather than guessed."""
    by_name: dict[str, set[str]] = defaultdict(set)
    rows = con.execute(
        "SELECT person_id, email, display_name FROM people WHERE email IS NOT NULL"
    ).fetchall()
    for person_id, email, name in rows:
        for alias in {person_id, email, name}:
            if alias:
                by_name[str(alias)].add(str(email))
    return {alias: next(iter(mails)) for alias, mails in by_name.items() if len(mails) == 1}


def run_digests(cfg: HandoffConfig, *, now: datetime | None = None) -> DigestOutcome:
    outcome = DigestOutcome()
    settings = cfg.digests
    if settings is None or not settings.enabled or not cfg.database_path.exists():
        return outcome
    data = gather(cfg.database_path, now=now, settings=ReportSettings.from_config(cfg))
    con = duckdb.connect(str(cfg.database_path), read_only=True)
    try:
        emails = person_emails(con)
    finally:
        con.close()
    digests, outcome.unroutable = build_digests(data, emails, settings.report_url)
    data_dir = cfg.path(cfg.data_dir)
    previous = load_sent(data_dir)
    sent: dict[str, str] = {}
    mailer = Mailer(settings.smtp) if settings.smtp else None
    try:
        for digest in digests:
            if not settings.send_unchanged and previous.get(digest.email) == digest.fingerprint:
                outcome.unchanged.append(digest.email)
                sent[digest.email] = digest.fingerprint
                continue
            if _deliver(digest, mailer, cfg, outcome):
                outcome.sent.append(digest.email)
                sent[digest.email] = digest.fingerprint
            elif digest.email in previous:
                sent[digest.email] = previous[digest.email]
    finally:
        if mailer is not None:
            mailer.close()
    save_sent(data_dir, sent)
    return outcome


def _deliver(
    digest: Digest, mailer: Mailer | None, cfg: HandoffConfig, outcome: DigestOutcome
) -> bool:
    settings = cfg.digests
    assert settings is not None
    delivered = False
    if mailer is not None:
        try:
            mailer.send(digest)
            delivered = True
        except DigestError as err:
            outcome.failed.append(str(err))
    hook = settings.chat.get(digest.email)
    if hook is not None:
        if post_chat(hook, digest):
            delivered = True
        else:
            outcome.failed.append(f"chat digest for {digest.email} was not accepted")
    return delivered
