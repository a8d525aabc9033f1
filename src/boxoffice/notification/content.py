"""What each booking or payment event tells its customer: the notice's subject and message,
and the facts the e-mail templates render. Payloads are read tolerantly (docs/contracts.md):
a missing or odd field makes a shorter sentence, never an error."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

CURRENCY = "VND"

# The events that become notices; `payment.completed` is told in-app only, because the
# booking confirmation that follows it carries the receipt and the e-ticket in one e-mail.
NOTIFIED_EVENTS = (
    "booking.confirmed",
    "booking.cancelled",
    "booking.expired",
    "payment.completed",
    "payment.failed",
    "payment.refunded",
)
IN_APP_ONLY = frozenset({"payment.completed"})

# Booking facts kept from `booking.*` events for the payment notices that lack them.
BOOKING_FIELDS = (
    "booking_code",
    "movie_title",
    "theater_name",
    "city",
    "show_date",
    "show_time",
    "seats",
    "total_seats",
    "total_price",
)


@dataclass(frozen=True)
class Notice:
    """A notice ready to store: what the inbox shows and what the e-mail renders."""

    subject: str
    message: str
    context: dict[str, Any]


# What must not reach a subject line or the database (NUL, line breaks, lone surrogates).
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = _UNPRINTABLE.sub(" ", str(value)).strip()
    return text[:300] or None


def format_when(show_date: Any, show_time: Any) -> str | None:
    """'2026-01-20', '19:30:00' -> 'Tue 20 Jan 2026 at 19:30'."""
    date_text, time_text = _text(show_date), _text(show_time)
    try:
        date_part = dt.date.fromisoformat(date_text).strftime("%a %d %b %Y") if date_text else None
    except ValueError:
        date_part = date_text
    try:
        time_part = dt.time.fromisoformat(time_text).strftime("%H:%M") if time_text else None
    except ValueError:
        time_part = time_text
    if date_part and time_part:
        return f"{date_part} at {time_part}"
    return date_part or time_part


def format_amount(value: Any) -> str | None:
    """'240000.00' -> '240,000.00 VND'."""
    text = _text(value)
    if text is None:
        return None
    try:
        return f"{Decimal(text):,.2f} {CURRENCY}"
    except InvalidOperation:
        return None


def seat_labels(seats: Any) -> list[str]:
    """The seats as a customer reads them on the ticket: ['A5', 'A6'], in seat-map order."""
    if not isinstance(seats, list):
        return []
    found: list[tuple[str, int, str]] = []
    for seat in seats:
        if not isinstance(seat, Mapping):
            continue
        row, number = _text(seat.get("seat_row")), _text(seat.get("seat_number"))
        if not row or not number:
            continue
        order = int(number) if number.isdigit() else 0
        found.append((row, order, f"{row}{number}"))
    return [label for _, _, label in sorted(found)]


def booking_context(payload: Mapping[str, Any], known: Mapping[str, Any] | None) -> dict[str, Any]:
    """The facts of the booking an event is about: the payload's, filled in from `known`."""
    merged: dict[str, Any] = dict(known or {})
    for field in BOOKING_FIELDS:
        if payload.get(field) not in (None, "", []):
            merged[field] = payload[field]
    seats = seat_labels(merged.get("seats"))
    return {
        "booking_code": _text(merged.get("booking_code")),
        "movie_title": _text(merged.get("movie_title")),
        "theater_name": _text(merged.get("theater_name")),
        "city": _text(merged.get("city")),
        "show_date": _text(merged.get("show_date")),
        "show_time": _text(merged.get("show_time")),
        "when": format_when(merged.get("show_date"), merged.get("show_time")),
        "seats": seats,
        "seat_list": ", ".join(seats) or None,
        "total_price": format_amount(merged.get("total_price")),
    }


def _show_phrase(c: Mapping[str, Any]) -> str:
    """'Dune at Galaxy Hall 1, Tue 20 Jan 2026 at 19:30, seats A5, A6' with what is known."""
    parts = []
    if c.get("movie_title") and c.get("theater_name"):
        parts.append(f"{c['movie_title']} at {c['theater_name']}")
    elif c.get("movie_title") or c.get("theater_name"):
        parts.append(c.get("movie_title") or c["theater_name"])
    if c.get("when"):
        parts.append(c["when"])
    if c.get("seat_list"):
        parts.append(f"seat{'s' if len(c['seats']) > 1 else ''} {c['seat_list']}")
    return ", ".join(parts)


def _booking_ref(c: Mapping[str, Any]) -> str:
    code = c.get("booking_code")
    show = _show_phrase(c)
    ref = f"booking {code}" if code else "your booking"
    return f"{ref} ({show})" if show else ref


def _booking_confirmed(c: dict[str, Any]) -> tuple[str, str]:
    code, show = c.get("booking_code"), _show_phrase(c)
    message = f"Your booking {code} is confirmed" if code else "Your booking is confirmed"
    message += f": {show}." if show else "."
    if c.get("total_price"):
        message += f" Paid: {c['total_price']}."
    message += " Show the QR code from your e-mail, or the booking code, at the door."
    return f"Booking confirmed: {c.get('movie_title') or 'your show'} ({code or 'ticket'})", message


def _booking_cancelled(c: dict[str, Any]) -> tuple[str, str]:
    message = f"Your {_booking_ref(c)} has been cancelled."
    if c.get("refund_required"):
        message += " Your payment will be refunded in full; you will get a notice when it is."
    elif c.get("payment_status") == "refunded":
        message += " Your payment has been refunded."
    return f"Booking cancelled: {c.get('booking_code') or 'your booking'}", message


def _booking_expired(c: dict[str, Any]) -> tuple[str, str]:
    message = (
        f"Your {_booking_ref(c)} was not paid in time and has expired. The seats are free "
        "again and you have not been charged."
    )
    return f"Booking expired: {c.get('booking_code') or 'your booking'}", message


def _payment_completed(c: dict[str, Any]) -> tuple[str, str]:
    amount = c.get("amount") or "your payment"
    message = f"We received {amount} for {_booking_ref(c)}."
    if c.get("transaction_id"):
        message += f" Transaction: {c['transaction_id']}."
    return f"Payment received: {c.get('booking_code') or 'your booking'}", message


def _payment_failed(c: dict[str, Any]) -> tuple[str, str]:
    amount = f"of {c['amount']} " if c.get("amount") else ""
    message = f"Your payment {amount}for {_booking_ref(c)} did not go through"
    message += f" ({c['reason']})." if c.get("reason") else "."
    message += " You have not been charged. You can try again until the booking expires."
    return f"Payment failed: {c.get('booking_code') or 'your booking'}", message


def _payment_refunded(c: dict[str, Any]) -> tuple[str, str]:
    amount = c.get("amount") or "your payment"
    code = c.get("booking_code") or "your booking"
    if c.get("reason") == "booking_expired":
        message = (
            f"Your payment of {amount} for {_booking_ref(c)} arrived after the booking had "
            "expired, so the seats could not be kept for you. We have refunded it in full."
        )
        return f"Late payment refunded: {code}", message
    message = f"We have refunded {amount} for {_booking_ref(c)}."
    return f"Refund issued: {code}", message


_WRITERS: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {
    "booking.confirmed": _booking_confirmed,
    "booking.cancelled": _booking_cancelled,
    "booking.expired": _booking_expired,
    "payment.completed": _payment_completed,
    "payment.failed": _payment_failed,
    "payment.refunded": _payment_refunded,
}


def compose(
    event_name: str, payload: Mapping[str, Any], known: Mapping[str, Any] | None = None
) -> Notice:
    """The notice for one event, its booking facts filled in from what is `known` of it."""
    context = booking_context(payload, known)
    context.update(
        amount=format_amount(payload.get("amount")),
        payment_method=_text(payload.get("payment_method")),
        transaction_id=_text(payload.get("transaction_id")),
        reason=_text(payload.get("reason")),
        refund_required=payload.get("refund_required") is True,
        payment_status=_text(payload.get("payment_status")),
    )
    subject, message = _WRITERS[event_name](context)
    return Notice(subject=subject[:200], message=" ".join(message.split()), context=context)
