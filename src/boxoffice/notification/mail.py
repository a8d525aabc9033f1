"""E-mail: rendering a notification (plain text and HTML from Jinja2 templates, the e-ticket's
QR code inline) and handing it to a transport (an SMTP server, or an `.eml` folder)."""

from __future__ import annotations

import asyncio
import io
import os
import uuid
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib
import qrcode
from jinja2 import Environment, PackageLoader, select_autoescape

from boxoffice.notification.models import Notification

_templates = Environment(
    loader=PackageLoader("boxoffice.notification", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_KNOWN_TEMPLATES = frozenset(
    name.removesuffix(".txt.j2")
    for name in _templates.list_templates(extensions=["j2"])
    if name.endswith(".txt.j2") and not name.startswith("_")
)
# The e-mails that carry the e-ticket.
_TICKET_TEMPLATES = frozenset({"booking_confirmed"})


class PermanentMailError(Exception):
    """The mail server refused this message for good (retrying cannot help)."""


class MailTransport(Protocol):
    """Something that accepts a finished e-mail or raises."""

    async def send(self, message: EmailMessage) -> None: ...


# The QR code's mask, fixed. A decoder reads the mask from the code's own format bits, so any
# of the eight reads; trying all eight for the one with the fewest look-alike patterns (what
# qrcode does when none is given) took 2.2 of the 5 ms that building a confirmation e-mail
# cost, for a code of a few characters. tests/notification/test_content.py decodes what this
# draws.
QR_MASK = 2


def qr_png(text: str) -> bytes:
    """`text` as a QR code, a PNG a door scanner (or a phone camera) reads."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=8,
        border=2,
        mask_pattern=QR_MASK,
    )
    code.add_data(text)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    return buffer.getvalue()


def template_for(notification: Notification) -> str:
    name = str(notification.context.get("template") or "general")
    return name if name in _KNOWN_TEMPLATES else "general"


def build_message(notification: Notification, sender: str) -> EmailMessage:
    """The e-mail for a notification: plain text, HTML and, for a confirmation, the QR code."""
    if not notification.email:
        raise PermanentMailError("notification has no recipient address")
    template = template_for(notification)
    code = notification.booking_code
    with_ticket = template in _TICKET_TEMPLATES and bool(code)
    qr_cid = make_msgid(domain="boxoffice.ticket")
    values = {
        "subject": notification.subject,
        "message": notification.message,
        "c": notification.context,
        "qr_cid": qr_cid[1:-1],
    }
    message = EmailMessage()
    message["Subject"] = notification.subject
    message["From"] = sender
    message["To"] = notification.email
    message["Date"] = format_datetime(notification.created_at)
    # Derived from the notification, so a resend after a crash carries the same id and the
    # recipient's mail system can recognise the duplicate.
    message["Message-ID"] = f"<{notification.id}@boxoffice.notification>"
    message["X-Boxoffice-Notification"] = str(notification.id)
    message.set_content(_templates.get_template(f"{template}.txt.j2").render(values))
    message.add_alternative(
        _templates.get_template(f"{template}.html.j2").render(values), subtype="html"
    )
    if with_ticket:
        assert code is not None
        html_part = message.get_payload()[1]  # type: ignore[index]
        html_part.add_related(
            qr_png(code), maintype="image", subtype="png", cid=qr_cid, filename=f"{code}.png"
        )
    return message


class SmtpTransport:
    """Delivery to an SMTP server named by a URL: `smtp://[user:pass@]host[:port]` (STARTTLS
    when the server offers it) or `smtps://...` (TLS from the first byte)."""

    def __init__(self, url: str, *, timeout: float = 15.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"SMTP_URL must look like smtp://host:port, not {url!r}")
        self.hostname = parts.hostname
        self.use_tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.use_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self.hostname,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.use_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refused.code for refused in exc.recipients]
            if codes and all(code >= 500 for code in codes):
                raise PermanentMailError(f"recipient refused: {exc}") from exc
            raise
        except aiosmtplib.SMTPAuthenticationError:
            raise  # our configuration, not the message: worth retrying once it is fixed
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500 and not isinstance(exc, aiosmtplib.SMTPConnectError):
                raise PermanentMailError(f"{exc.code} {exc.message}") from exc
            raise


class EmlFolderTransport:
    """Embedded mode without an SMTP server: each e-mail becomes `<folder>/<id>.eml`, a file a
    mail program opens."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _write(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = str(message["X-Boxoffice-Notification"] or uuid.uuid4())
        target = self.folder / f"{name}.eml"
        partial = self.folder / f".{name}.eml.partial"
        partial.write_bytes(message.as_bytes())
        # Rename is atomic: a reader never sees half an e-mail.
        os.replace(partial, target)

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, message)
