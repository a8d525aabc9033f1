"""The SMTP server the fault suite's system sends its e-mails to (aiosmtpd, a real server on a
localhost port, for the whole session): which notices were e-mailed, and how many times. It can
keep senders waiting for its answer a moment (a slow mail server), so a fault can strike while an
e-mail is in flight.

It also knows which copies their sender may never have heard accepted: a sender that heard our
"250" ends its session with QUIT (aiosmtplib does, on success); one whose SMTP timeout struck
first, or that died, just drops the connection. SMTP has no way to tell that sender the message
arrived, so its resend is SMTP's own at-least-once, not a notice the system knew it had sent."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

from aiosmtpd.controller import Controller

NOTIFICATION_HEADER = "X-Boxoffice-Notification"


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.box.released.is_set():
            # The sender waits for our "250" (at most `hold_seconds`, under its SMTP timeout).
            self.box.held.set()
            await asyncio.to_thread(self.box.released.wait, self.box.hold_seconds)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        notice = str(message[NOTIFICATION_HEADER] or "")
        with self.box.lock:
            self.box.notices[notice] += 1
            self.box.received += 1
        session.boxoffice_notices = [*getattr(session, "boxoffice_notices", []), notice]
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        with self.box.lock:
            self.box.heard.update(getattr(session, "boxoffice_notices", []))
        session.boxoffice_notices = []
        return "221 Bye"


class Mailbox:
    """Counts e-mails by the notification they carry (the X-Boxoffice-Notification header)."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.notices: Counter[str] = Counter()
        # Copies whose sender said QUIT after our "250": it knew they had arrived.
        self.heard: Counter[str] = Counter()
        self.received = 0
        self.released = threading.Event()
        self.released.set()
        self.held = threading.Event()
        self.hold_seconds = 0.0
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> Mailbox:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @contextlib.contextmanager
    def hold(self, seconds: float) -> Iterator[threading.Event]:
        """Answer no e-mail's DATA (for at most `seconds` each) until the block ends; the event
        yielded is set once a sender is waiting for our answer."""
        self.hold_seconds = seconds
        self.held.clear()
        self.released.clear()
        try:
            yield self.held
        finally:
            self.released.set()

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(self.notices)

    def heard_counts(self) -> Counter[str]:
        """Per notice, the copies whose sender heard they had arrived (see the module's doc)."""
        with self.lock:
            return Counter(self.heard)
