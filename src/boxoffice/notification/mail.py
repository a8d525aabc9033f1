"""E-mail: rendering a notification (plain text and HTML from Jinja2 templates, the e-ticket's
QR code inline) and handing it to a transport (an SMTP server, or an `.eml` folder)."""

from __future__ import annotations

import asyncio
import io
import os
import uuid
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol, cast
from urllib.parse import unquote, urlsplit

import aiosmtplib
import qrcode
from jinja2 import Environment, PackageLoader, select_autoescape
from PIL import Image

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

    async def send(self, message: Message) -> None: ...


NOTIFICATION_HEADER = "X-Boxoffice-Notification"
# The longest line SMTP carries (RFC 5321: 1,000 octets with its CRLF).
_SMTP_LINE = 998
QR_BOX_PIXELS = 8

# The QR code's mask, fixed. A decoder reads the mask from the code's own format bits, so any
# of the eight reads; trying all eight for the one with the fewest look-alike patterns (what
# qrcode does when none is given) took 2.2 of the 5 ms that building a confirmation e-mail
# cost, for a code of a few characters. tests/notification/test_content.py decodes what this
# draws.
QR_MASK = 2


def qr_png(text: str) -> bytes:
    """`text` as a QR code, a PNG a door scanner (or a phone camera) reads: 8 pixels a module,
    two modules of quiet zone. Drawn one pixel a module and scaled up, the same pixels as
    qrcode's own image drawn module by module, in 60 % of its time."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, border=2, mask_pattern=QR_MASK
    )
    code.add_data(text)
    code.make(fit=True)
    modules = code.get_matrix()  # rows of booleans (dark), the quiet zone included
    side = len(modules)
    pixels = bytes(0 if dark else 255 for row in modules for dark in row)
    image = Image.frombytes("L", (side, side), pixels).convert("1")
    image = image.resize((side * QR_BOX_PIXELS, side * QR_BOX_PIXELS), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def template_for(notification: Notification) -> str:
    name = str(notification.context.get("template") or "general")
    return name if name in _KNOWN_TEMPLATES else "general"


def build_message(notification: Notification, sender: str) -> Message:
    """The e-mail for a notification: plain text, HTML and, for a confirmation, the QR code."""
    mail = mail_of(notification, sender)
    return mail.plain_message() if mail.plain_headers() else mail.message()


def mail_of(notification: Notification, sender: str) -> Mail:
    """A notification's e-mail in parts, rendered and ready to be put together."""
    if not notification.email:
        raise PermanentMailError("notification has no recipient address")
    template = template_for(notification)
    code = notification.booking_code
    qr_cid = make_msgid(domain="boxoffice.ticket")
    values = {
        "subject": notification.subject,
        "message": notification.message,
        "c": notification.context,
        "qr_cid": qr_cid[1:-1],
    }
    return Mail(
        subject=notification.subject,
        headers={
            "From": sender,
            "To": notification.email,
            "Date": format_datetime(notification.created_at),
            # Derived from the notification, so a resend after a crash carries the same id and
            # the recipient's mail system can recognise the duplicate.
            "Message-ID": f"<{notification.id}@boxoffice.notification>",
            NOTIFICATION_HEADER: str(notification.id),
        },
        text=_templates.get_template(f"{template}.txt.j2").render(values),
        html=_templates.get_template(f"{template}.html.j2").render(values),
        ticket=(
            Ticket(qr_png(code), qr_cid, f"{code}.png")
            if template in _TICKET_TEMPLATES and code
            else None
        ),
    )


@dataclass(frozen=True)
class Ticket:
    """The e-ticket inline in a confirmation: the QR code and how the HTML refers to it."""

    png: bytes
    cid: str
    filename: str


@dataclass(frozen=True)
class Mail:
    """An e-mail's parts, put together one of two ways that read the same to a mail program
    (tests/notification/test_content.py parses both and compares them)."""

    subject: str
    headers: dict[str, str]  # all but the subject
    text: str
    html: str
    ticket: Ticket | None

    def plain_headers(self) -> bool:
        """Whether the cheaper way can carry the headers: every address and value plain ASCII
        (an address in another script needs SMTPUTF8, which only `message` speaks), and no
        line break or other control character anywhere (the modern API refuses line breaks;
        the older one would let them start a header of their own)."""
        return self.subject.isprintable() and all(
            value.isascii() and value.isprintable() for value in self.headers.values()
        )

    def message(self) -> EmailMessage:
        """With the standard library's current API (`EmailMessage`): any address, any header."""
        message = EmailMessage()
        message["Subject"] = self.subject
        for name, value in self.headers.items():
            message[name] = value
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        if self.ticket is not None:
            html_part = cast(EmailMessage, message.get_payload(1))
            html_part.add_related(
                self.ticket.png,
                maintype="image",
                subtype="png",
                cid=self.ticket.cid,
                filename=self.ticket.filename,
            )
        return message

    def plain_message(self) -> Message:
        """With the older MIME classes, which keep headers as text instead of parsing each one
        into objects and folding it back: a confirmation built and serialised 2.0-2.5x faster
        (bench/sale_pieces.py); building it was a quarter of the notification service's CPU in
        a flash sale (py-spy, issue 9).
        Only for `plain_headers`."""
        message = MIMEMultipart("alternative")
        # A Header (RFC 2047 encoded words) where typeshed says str: the older API takes both.
        message["Subject"] = (
            self.subject if self.subject.isascii() else Header(self.subject, "utf-8")  # type: ignore[assignment]
        )
        for name, value in self.headers.items():
            message[name] = value
        message.attach(_text_part(self.text, "plain"))
        html = _text_part(self.html, "html")
        if self.ticket is None:
            message.attach(html)
            return message
        related = MIMEMultipart("related")
        del related["MIME-Version"]
        related.attach(html)
        image = MIMEImage(self.ticket.png, "png")
        del image["MIME-Version"]
        image.add_header("Content-Disposition", "attachment", filename=self.ticket.filename)
        image["Content-ID"] = self.ticket.cid
        related.attach(image)
        message.attach(related)
        return message


def _text_part(text: str, subtype: str) -> MIMEText:
    """Plain 7-bit text when it is ASCII in lines SMTP carries as they are; else UTF-8 in
    base64 (valid over any server, 8BITMIME or not)."""
    plain = text.isascii() and all(len(line) <= _SMTP_LINE for line in text.splitlines())
    part = MIMEText(text, subtype, "us-ascii" if plain else "utf-8")
    del part["MIME-Version"]
    return part


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

    async def send(self, message: Message) -> None:
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

    def _write(self, message: Message) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = str(message[NOTIFICATION_HEADER] or uuid.uuid4())
        target = self.folder / f"{name}.eml"
        partial = self.folder / f".{name}.eml.partial"
        partial.write_bytes(message.as_bytes())
        # Rename is atomic: a reader never sees half an e-mail.
        os.replace(partial, target)

    async def send(self, message: Message) -> None:
        await asyncio.to_thread(self._write, message)
