"""A tiny SMTP server on a thread for tests: EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, QUIT.

Every accepted message is kept as parsed `email.message.EmailMessage` with its envelope."""

from __future__ import annotations

import base64
import socketserver
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class Sink:
    username: str | None = None
    password: str | None = None
    messages: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    port: int = 0


class _Handler(socketserver.StreamRequestHandler):
    sink: Sink

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        sink = self.server.sink  # type: ignore[attr-defined]
        self.reply("220 sink ESMTP")
        sender, recipients = "", []
        while line := self.rfile.readline():
            command = line.decode().rstrip("\r\n")
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.wfile.write(b"250-sink\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n")
            elif verb == "AUTH":
                _, user, password = base64.b64decode(command.split()[2]).decode().split("\0")
                ok = (user, password) == (sink.username, sink.password)
                sink.logins.append(user if ok else f"refused:{user}")
                self.reply("235 ok" if ok else "535 bad credentials")
            elif verb == "MAIL":
                sender, recipients = command.split(":", 1)[1].strip().strip("<>"), []
                self.reply("250 ok")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 end with .")
                body = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    body.append(data[1:] if data.startswith(b"..") else data)
                parsed = message_from_bytes(b"".join(body), policy=policy.default)
                sink.messages.append(Received(sender, recipients, parsed))  # type: ignore[arg-type]
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:  # RSET, NOOP
                sender, recipients = "", []
                self.reply("250 ok")


class SmtpSink:
    """`with SmtpSink(user, password) as sink:` serves on 127.0.0.1:`sink.port`."""

    def __init__(self, username: str | None = None, password: str | None = None):
        self.sink = Sink(username, password)
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.sink = self.sink  # type: ignore[attr-defined]
        self.sink.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Sink:
        self._thread.start()
        return self.sink

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
