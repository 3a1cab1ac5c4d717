"""A real SMTP server for the test bed (aiosmtpd on 127.0.0.1 and a free port) that keeps what it receives.

Keycloak sends the e-mails of its own required actions (set a password, verify the address) through the realm's
SMTP settings; the demo and the tests point those settings at this server and read the messages back, so the
mail path is exercised end to end with no mock of Keycloak's mailer.
"""

from __future__ import annotations

import email
import email.policy
import re
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from bridge.testbed.ports import free_port

LINK = re.compile(r"https?://[^\s\"'<>]+")


@dataclass(frozen=True)
class Received:
    """One message as the server received it."""

    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        """The decoded subject."""
        return str(self.message["subject"] or "")

    def text(self) -> str:
        """The plain-text body (else the HTML one), decoded."""
        part = self.message.get_body(preferencelist=("plain", "html"))
        return "" if part is None else str(part.get_content())

    def links(self) -> list[str]:
        """Every http(s) link of the body, in order, with HTML entities of ``&`` undone."""
        return [link.replace("&amp;", "&") for link in LINK.findall(self.text())]


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.box.deliver(Received(str(envelope.mail_from), tuple(str(r).lower() for r in envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


class Mailbox:
    """The running SMTP server and every message it accepted."""

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host, self.port = host, port or free_port()
        self._messages: list[Received] = []
        self._arrived = threading.Condition()
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port)

    def start(self) -> Mailbox:
        """Start listening (a thread of its own)."""
        self._controller.start()
        return self

    def close(self) -> None:
        """Stop listening."""
        self._controller.stop()

    def __enter__(self) -> Mailbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def deliver(self, received: Received) -> None:
        """Keep one message and wake whoever waits for it."""
        with self._arrived:
            self._messages.append(received)
            self._arrived.notify_all()

    def messages_to(self, address: str) -> list[Received]:
        """Messages received so far for ``address`` (lower-case)."""
        with self._arrived:
            return [m for m in self._messages if address.lower() in m.recipients]

    def wait_for(self, address: str, *, count: int = 1, timeout_s: float = 30.0) -> list[Received]:
        """The first ``count`` messages for ``address``, waiting up to ``timeout_s`` for them to arrive."""
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while True:
                found = [m for m in self._messages if address.lower() in m.recipients]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    break
                self._arrived.wait(left)
        if len(found) < count:
            raise TimeoutError(f"{len(found)} of {count} message(s) for {address} after {timeout_s:.0f} s")
        return found[:count]
