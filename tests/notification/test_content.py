"""What each event tells the customer, and the e-mail built from it (no servers needed)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import uuid
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart

import pytest
import qrcode
from hypothesis import event, given, settings
from hypothesis import strategies as st
from PIL import Image

from boxoffice.booking.service import CODE_ALPHABET
from boxoffice.notification.content import compose
from boxoffice.notification.mail import (
    NOTIFICATION_HEADER,
    QR_BOX_PIXELS,
    QR_MASK,
    build_message,
    mail_of,
    qr_png,
)
from boxoffice.notification.models import Notification
from tests.notification.conftest import booking_payload, parts, payment_payload
from tests.qr import read_qr

ALICE = uuid.uuid4()
FACTS = ("BK7Q2M9X", "Dune: Part Two", "Galaxy Hall 1", "Fri 20 Mar 2026 at 19:30", "C5, C6")


def known_booking() -> dict:
    return booking_payload(ALICE, "a@x.example")


@pytest.mark.parametrize(
    ("name", "payload", "subject_starts"),
    [
        ("booking.confirmed", booking_payload(ALICE, "a@x.example"), "Booking confirmed"),
        ("booking.cancelled", booking_payload(ALICE, None, status="cancelled"), "Booking cancel"),
        ("booking.expired", booking_payload(ALICE, None, status="expired"), "Booking expired"),
        ("payment.completed", payment_payload(ALICE, None, booking_id=ALICE), "Payment received"),
        ("payment.failed", payment_payload(ALICE, None, booking_id=ALICE), "Payment failed"),
        ("payment.refunded", payment_payload(ALICE, None, booking_id=ALICE), "Refund issued"),
    ],
)
def test_every_notice_names_code_movie_theater_time_and_seats(name, payload, subject_starts):
    notice = compose(name, payload, known_booking())
    assert notice.subject.startswith(subject_starts)
    assert "BK7Q2M9X" in notice.subject
    for fact in FACTS:
        assert fact in notice.message, (name, fact, notice.message)
    assert "None" not in notice.message


def test_payment_notices_state_the_amount():
    payload = payment_payload(ALICE, None, booking_id=ALICE)
    assert "240,000.00 VND" in compose("payment.completed", payload, known_booking()).message
    refund = compose("payment.refunded", {**payload, "reason": "requested"}, known_booking())
    assert "refunded 240,000.00 VND" in refund.message


def test_late_payment_refund_explains_why_the_money_came_back():
    payload = payment_payload(ALICE, None, booking_id=ALICE, reason="booking_expired")
    notice = compose("payment.refunded", payload, known_booking())
    assert notice.subject == "Late payment refunded: BK7Q2M9X"
    assert "arrived after the booking had expired" in notice.message
    assert "refunded it in full" in notice.message


def test_cancelling_a_paid_booking_promises_the_refund():
    payload = booking_payload(ALICE, None, status="cancelled", refund_required=True)
    assert "will be refunded" in compose("booking.cancelled", payload).message
    unpaid = booking_payload(ALICE, None, status="cancelled", payment_status="pending")
    assert "refund" not in compose("booking.cancelled", unpaid).message


def test_an_event_with_little_in_it_still_makes_a_clear_sentence():
    notice = compose("payment.failed", {"user_id": str(ALICE), "booking_code": "BKSHORT1"})
    assert notice.subject == "Payment failed: BKSHORT1"
    assert notice.message.startswith("Your payment for booking BKSHORT1 did not go through.")
    odd = compose(
        "booking.expired",
        {"booking_code": "BKODD", "seats": "A1", "show_date": "someday", "total_price": "lots"},
    )
    assert "someday" in odd.message and "None" not in odd.message


def _notification(
    kind: str, payload: dict, template: str, known: dict | None = None
) -> Notification:
    notice = compose(kind, payload, known or known_booking())
    return Notification(
        id=uuid.uuid4(),
        user_id=ALICE,
        type=kind,
        subject=notice.subject,
        message=notice.message,
        email="alice@x.example",
        booking_code=notice.context["booking_code"],
        context={**notice.context, "template": template},
        created_at=dt.datetime.now(dt.UTC),
    )


def test_confirmation_mail_has_text_html_and_the_qr_inline():
    note = _notification("booking.confirmed", known_booking(), "booking_confirmed")
    message = build_message(note, "boxoffice <t@boxoffice.example>")
    assert message.get_content_type() == "multipart/alternative"
    body = parts(message)
    [qr] = body["images"]
    assert qr.get_filename() == "BK7Q2M9X.png"
    assert qr.get_content().startswith(b"\x89PNG")
    assert message["Message-ID"] == f"<{note.id}@boxoffice.notification>"
    for fact in (*FACTS, "Galaxy Hall 1, Hanoi"):
        assert fact in body["plain"] and fact in body["html"]


def test_the_mailed_qr_code_reads_back_as_the_booking_code():
    note = _notification("booking.confirmed", known_booking(), "booking_confirmed")
    [qr] = parts(build_message(note, "t@boxoffice.example"))["images"]
    assert read_qr(qr.get_content()) == ["BK7Q2M9X"]


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.text(CODE_ALPHABET, min_size=8, max_size=8).map(lambda s: "BK" + s),
        # A code an admin wrote (notices keep up to 32 characters).
        st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=32),
    )
)
def test_every_code_reads_back_with_the_fixed_mask(code):
    # The mask is fixed instead of the best of eight (mail.QR_MASK): no code may come out
    # unreadable for it.
    assert read_qr(qr_png(code)) == [code]


def test_other_mails_carry_no_ticket_and_escape_what_they_quote():
    payload = booking_payload(ALICE, None, status="expired", movie_title="<b>Heat</b> & Co")
    note = _notification("booking.expired", payload, "booking_expired")
    body = parts(build_message(note, "t@boxoffice.example"))
    assert body["images"] == []
    assert "&lt;b&gt;Heat&lt;/b&gt; &amp; Co" in body["html"]
    assert "<b>Heat</b> & Co" in body["plain"]


def _reading(message: Message) -> dict:
    """What a mail program sees of an e-mail, read from its bytes: the headers decoded, and
    each part's type, disposition, file name, Content-ID and content."""
    read = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(read, EmailMessage)
    names = ("Subject", "From", "To", "Date", "Message-ID", NOTIFICATION_HEADER)
    return {
        "headers": {name: str(read[name]) for name in names},
        "parts": [
            (
                part.get_content_type(),
                part.get_content_disposition(),
                part.get_filename(),
                part["Content-ID"],
                None if part.is_multipart() else part.get_content(),
            )
            for part in read.walk()
        ],
    }


@settings(max_examples=200, deadline=None)
@given(
    subject=st.text(st.characters(blacklist_categories=("Cs",)), max_size=150),
    name=st.sampled_from(["", "boxoffice", "Rạp Chiếu Phim", '"Dune, Part Two"']),
    address=st.sampled_from(
        ["alice@x.example", "anh.nguyen@rap.vn", "дмитрий@пример.рф", "a+b@x.example"]
    ),
    template=st.sampled_from(["booking_confirmed", "booking_expired", "general"]),
    # The title is quoted in the text and the HTML: any script, and lines SMTP cannot carry.
    title=st.one_of(
        st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40),
        st.integers(990, 1100).map(lambda n: "Dune " * (n // 5)),
    ),
)
def test_the_cheap_way_of_building_an_email_reads_the_same_as_the_current_api(
    subject, name, address, template, title
):
    booking = booking_payload(ALICE, "a@x.example", movie_title=title)
    note = _notification("booking.confirmed", booking, template, known=booking)
    note.subject, note.email = subject, address
    mail = mail_of(note, f"{name} <t@boxoffice.example>" if name else "t@boxoffice.example")
    plain = address.isascii() and name.isascii() and subject.isprintable()
    # Taken exactly where it can say what the current API says...
    assert mail.plain_headers() == plain
    event(f"plain: {plain}")
    if not plain:
        return
    # ...and there a mail program sees the very same e-mail, in lines any SMTP server carries.
    cheap = mail.plain_message()
    assert _reading(cheap) == _reading(mail.message())
    assert max(len(line) for line in cheap.as_bytes().splitlines()) <= 998
    assert isinstance(build_message(note, "t@boxoffice.example"), MIMEMultipart)


def test_a_header_with_a_line_break_is_refused_as_before():
    note = _notification("booking.confirmed", known_booking(), "booking_confirmed")
    note.subject = "Booking confirmed\r\nBcc: everyone@x.example"
    assert not mail_of(note, "t@boxoffice.example").plain_headers()
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        build_message(note, "t@boxoffice.example")


def test_the_qr_png_has_the_pixels_qrcode_itself_draws():
    for text in ("BK7Q2M9X", "BKAAAAAAAA", "x" * 32):
        code = qrcode.QRCode(
            error_correction=qrcode.constants.ERROR_CORRECT_M,
            box_size=QR_BOX_PIXELS,
            border=2,
            mask_pattern=QR_MASK,
        )
        code.add_data(text)
        code.make(fit=True)
        buffer = io.BytesIO()
        code.make_image().save(buffer, format="PNG")
        drawn = Image.open(io.BytesIO(buffer.getvalue())).convert("L")
        ours = Image.open(io.BytesIO(qr_png(text))).convert("L")
        assert ours.size == drawn.size
        assert ours.tobytes() == drawn.tobytes()
