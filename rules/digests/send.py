"""Delivering digests: SMTP (standard library; STARTTLS, TLS or plain, optional login) and a
person's own Slack/Teams incoming webhook. Passwords and hook URLs never reach messages."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from handoff.flow_config import ChatHook, Smtp
from rules.digests.compose import Digest
from rules.report.notify import post_alert


class DigestError(Exception):
    """The mail server could not be used; the message names it and the step that failed."""


def message(digest: Digest, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = digest.email
    mail["Subject"] = digest.subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail.set_content(digest.text)
    mail.add_alternative(digest.html, subtype="html")
    return mail


class Mailer:
    """One SMTP session for a run's digests (opened on first use)."""

    def __init__(self, settings: Smtp):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._unusable: DigestError | None = None  # the server refused once: not again per run

    def _where(self) -> str:
        return f"SMTP server {self.settings.host}:{self.settings.port}"

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context(cafile=str(s.ca_bundle) if s.ca_bundle else None)
        step = "connecting"
        try:
            smtp: smtplib.SMTP
            if s.security == "tls":
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
                if s.security == "starttls":
                    step = "starting TLS"
                    smtp.starttls(context=context)
            if s.username:
                step = f"logging in as {s.username}"
                password = s.password.get_secret_value() if s.password else ""
                smtp.login(s.username, password)
        except (smtplib.SMTPException, OSError) as err:
            raise DigestError(f"{self._where()}: failed {step}: {type(err).__name__}") from None
        return smtp

    def send(self, digest: Digest) -> None:
        if self._unusable is not None:
            raise self._unusable
        if self._smtp is None:
            try:
                self._smtp = self._open()
            except DigestError as err:
                self._unusable = err
                raise
        try:
            self._smtp.send_message(message(digest, self.settings.sender))
        except smtplib.SMTPRecipientsRefused:
            raise DigestError(f"{self._where()} refused the recipient {digest.email}") from None
        except (smtplib.SMTPException, OSError) as err:
            self.close()
            raise DigestError(
                f"{self._where()}: sending to {digest.email} failed: {type(err).__name__}"
            ) from None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


def post_chat(hook: ChatHook, digest: Digest) -> bool:
    """The text part to the person's own hook; False (logged, never raised) when refused."""
    return post_alert(hook.url.get_secret_value(), hook.format, digest.text)
