"""A customer's bookings: the list, the ticket, paying, cancelling and the calendar entry."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from boxoffice.core.localtime import is_time_zone, zone
from boxoffice.web.errors import BadInput, require_token
from boxoffice.web.formatting import clock, day, instant, money
from boxoffice.web.gateway import ApiError
from boxoffice.web.pages import (
    gateway,
    qr_data_uri,
    redirect,
    render,
)

# What the pay form sends as Idempotency-Key (a uuid4 hex); anything else is not ours.
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_\-]{8,100}")
# The demo payment gateway's test cards (payment/provider.py); a real gateway gets a real token.
TEST_CARDS = {
    "tok_visa": "Test card: approved",
    "tok_decline": "Test card: declined",
    "tok_timeout": "Test card: no answer from the bank",
}
APPROVED_CARD = "tok_visa"
# After a charge, booking confirms on the payment's event: the pay route asks after each of these
# pauses (3 s in all, few calls: each one counts against the visitor's rate limit), then the page
# itself keeps asking (booking.js).
_CONFIRM_PAUSES = (0.15, 0.25, 0.4, 0.7, 1.5)
# A movie of unknown length still gets a calendar entry of a usual length.
_DEFAULT_MINUTES = 120

# What a failed payment tells the customer, by the payment service's error_type.
_PAYMENT_ERRORS = {
    "PaymentDeclined": "Your card was declined. Try another card or another way to pay.",
    "PaymentGatewayTimeout": (
        "The bank did not answer in time, so nothing was charged. Please try again."
    ),
    "PaymentGatewayUnavailable": (
        "Payments are not working right now, so nothing was charged. Try again in a few minutes."
    ),
    "ShowtimeStarted": "This show has already started, so the booking can no longer be paid.",
    "BookingNotPayable": "This booking can no longer be paid: it expired or was cancelled.",
    "AmountMismatch": "The price of this booking changed. Check the total and pay again.",
    "IdempotencyKeyReused": "This payment form was already used. Please try again.",
}
# Errors that mean "it is paid already" (or being paid): the ticket, not a red failure.
_ALREADY_PAYING = {"BookingAlreadyPaid", "PaymentInProgress"}

router = APIRouter(include_in_schema=False)


class PayForm(BaseModel):
    """The pay form: a key per rendered form, the method and (demo only) a test card."""

    idempotency_key: str = Field(max_length=100)
    payment_method: Literal["credit_card", "e_wallet", "bank_transfer"] = "credit_card"
    card: str | None = Field(None, max_length=40)


class CancelForm(BaseModel):
    """The "are you sure?" page's answer."""

    confirm: Literal["yes"]


def demo_mode(request: Request) -> bool:
    """Whether the site runs the demo (its payment gateway takes test cards)."""
    settings = getattr(request.app.state, "settings", None)
    return bool(settings is not None and settings.demo_data_enabled)


# --- times as the theater's clock shows them ------------------------------------------------


def show_zone(booking: dict[str, Any], time_zone: str | None = None) -> dt.tzinfo:
    """The theater's zone: its name when known, else the offset the show's own local time and
    UTC instant imply (exact for times near the show)."""
    if time_zone and is_time_zone(time_zone):
        return zone(time_zone)
    starts = instant(booking.get("show_starts_at"))
    try:
        local = dt.datetime.combine(
            dt.date.fromisoformat(str(booking["show_date"])),
            dt.time.fromisoformat(str(booking["show_time"])),
        )
    except (KeyError, ValueError):
        return dt.UTC
    if starts is None:
        return dt.UTC
    return dt.timezone(local - starts.replace(tzinfo=None))


def at(value: Any, tz: dt.tzinfo) -> str:
    """An instant in the theater's clock: '19:30, Fri 4 Dec 2026' ('' for none)."""
    moment = instant(value) if value else None
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return f"{clock(local)}, {day(local)}"


def refund_terms(booking: dict[str, Any], now: dt.datetime, tz: dt.tzinfo) -> dict[str, Any]:
    """The refund rule (SPEC 4.9, booking/refund_policy.py) as it applies to this booking:
    {"can_cancel", "applies"}: a paid ticket is refunded in full when cancelled before its show
    starts and before it is checked in; after either, it can be neither cancelled nor refunded.
    """
    starts = instant(booking.get("show_starts_at"))
    status, paid = booking.get("status"), booking.get("payment_status")
    total = money(booking.get("total_price"))
    if status in ("cancelled", "expired") or paid == "refunded":
        word = "refunded" if paid == "refunded" else status
        return {"can_cancel": False, "applies": f"This booking is already {word}."}
    if booking.get("checked_in_at"):
        when = at(booking["checked_in_at"], tz)
        return {
            "can_cancel": False,
            "applies": f"This ticket was checked in at {when}, so it can no longer be "
            "cancelled or refunded.",
        }
    if paid == "paid":
        if starts is not None and starts <= now:
            return {
                "can_cancel": False,
                "applies": f"The show started at {at(starts, tz)}, so this ticket can no "
                "longer be cancelled or refunded.",
            }
        return {
            "can_cancel": True,
            "applies": f"If you cancel now you get the full {total} back, the same way you "
            f"paid. This is possible until the show starts at {at(starts, tz)}.",
        }
    return {
        "can_cancel": True,
        "applies": "You have not paid for this booking, so nothing is charged or refunded: "
        "cancelling gives the seats back.",
    }


def phase(booking: dict[str, Any], now: dt.datetime, paying: bool) -> str:
    """What the ticket page shows: pay, confirming, confirmed, or an ended booking."""
    status = booking.get("status")
    if status == "confirmed":
        return "confirmed"
    if status == "pending":
        expires = instant(booking.get("expires_at"))
        if booking.get("payment_status") == "paid" or paying:
            return "confirming"
        if expires is not None and expires <= now:
            return "expired"
        return "pay"
    return str(status)


# --- pages ----------------------------------------------------------------------------------


async def _booking(request: Request, tok: str, booking_id: uuid.UUID) -> dict[str, Any]:
    found = await gateway(request).call("GET", f"/api/bookings/bookings/{booking_id}", tok)
    assert isinstance(found, dict)
    return found


async def _time_zone(request: Request, booking: dict[str, Any]) -> str | None:
    """The theater's zone name from the showtime; None if the catalog cannot say now."""
    try:
        show = await gateway(request).call("GET", f"/api/movies/showtimes/{booking['showtime_id']}")
    except ApiError:
        return None
    name = show.get("timezone") if isinstance(show, dict) else None
    return name if isinstance(name, str) else None


@router.get("/bookings", response_class=HTMLResponse)
async def my_bookings(request: Request) -> Response:
    tok = require_token(request)
    bookings = await gateway(request).call(
        "GET", "/api/bookings/bookings", tok, params={"limit": 200}
    )
    now = dt.datetime.now(dt.UTC)
    upcoming: list[dict[str, Any]] = []
    past: list[dict[str, Any]] = []
    for booking in bookings:
        tz = show_zone(booking)
        starts = instant(booking.get("show_starts_at"))
        booking["checked_in_local"] = at(booking.get("checked_in_at"), tz)
        (past if starts is not None and starts <= now else upcoming).append(booking)
    # Upcoming: the next show first; past: the latest first.
    upcoming.sort(key=lambda b: str(b.get("show_starts_at")))
    past.sort(key=lambda b: str(b.get("show_starts_at")), reverse=True)
    return await render(request, "bookings.html", bookings=bookings, upcoming=upcoming, past=past)


@router.get("/bookings/{booking_id}", response_class=HTMLResponse)
async def ticket(request: Request, booking_id: uuid.UUID, paying: bool = False) -> Response:
    tok = require_token(request)
    booking = await _booking(request, tok, booking_id)
    tz = show_zone(booking, await _time_zone(request, booking))
    now = dt.datetime.now(dt.UTC)
    shown = phase(booking, now, paying)
    qr = qr_data_uri(booking["booking_code"]) if shown == "confirmed" else None
    expires = instant(booking.get("expires_at"))
    # One key per rendered form: a double-submitted form is one payment, never two.
    return await render(
        request,
        "booking.html",
        booking=booking,
        phase=shown,
        qr=qr,
        idempotency_key=uuid.uuid4().hex,
        starts_local=at(booking.get("show_starts_at"), tz),
        expires_local=at(expires, tz),
        expires_iso=expires.isoformat() if expires else "",
        checked_in_local=at(booking.get("checked_in_at"), tz),
        terms=refund_terms(booking, now, tz),
        demo=demo_mode(request),
        test_cards=TEST_CARDS,
    )


@router.get("/bookings/{booking_id}/status")
async def ticket_status(request: Request, booking_id: uuid.UUID) -> Response:
    """For booking.js while a payment is being confirmed: where the booking stands."""
    tok = require_token(request)
    booking = await _booking(request, tok, booking_id)
    status = booking.get("status")
    return JSONResponse(
        {
            "status": status,
            "payment_status": booking.get("payment_status"),
            "settled": status != "pending",
        },
        headers={"Cache-Control": "no-store"},
    )


@router.post("/bookings/{booking_id}/pay")
async def pay(
    request: Request, booking_id: uuid.UUID, form: Annotated[PayForm, Form()]
) -> Response:
    tok = require_token(request)
    if not _IDEMPOTENCY_KEY.fullmatch(form.idempotency_key):
        raise BadInput("This payment form is damaged: reload the booking and pay again.")
    # Test cards are the demo's; anywhere else the site sends what a real card form would.
    card = form.card if demo_mode(request) and form.card in TEST_CARDS else APPROVED_CARD
    api = gateway(request)
    booking = await _booking(request, tok, booking_id)
    here = f"/bookings/{booking_id}"
    if booking["status"] != "pending" or booking["payment_status"] == "paid":
        return redirect(request, here)  # paid already (a second tab, a double click)
    try:
        await api.call(
            "POST",
            "/api/payments/process",
            tok,
            headers={"Idempotency-Key": form.idempotency_key},
            json={
                "booking_id": str(booking_id),
                "payment_method": form.payment_method,
                "amount": str(booking["total_price"]),
                "payment_token": card,
            },
        )
    except ApiError as exc:
        if exc.status_code == 401:
            raise
        if exc.error_type in _ALREADY_PAYING:
            return redirect(request, here, paying="1")
        message = _PAYMENT_ERRORS.get(
            exc.error_type,
            "Payments are not working right now, so nothing was charged. Try again in a minute."
            if exc.status_code >= 500
            else "The payment did not go through, so nothing was charged. Please try again.",
        )
        return redirect(request, here, error=message)
    # The charge is made; the booking confirms when its event arrives, a moment later.
    for pause in _CONFIRM_PAUSES:
        await asyncio.sleep(pause)
        booking = await _booking(request, tok, booking_id)
        if booking["status"] != "pending":
            break
    if booking["status"] == "confirmed":
        return redirect(request, here, notice="Payment received: here is your ticket.")
    return redirect(request, here, paying="1")


@router.get("/bookings/{booking_id}/cancel", response_class=HTMLResponse)
async def cancel_page(request: Request, booking_id: uuid.UUID) -> Response:
    """Are you sure? With the refund rule as it applies to this booking."""
    tok = require_token(request)
    booking = await _booking(request, tok, booking_id)
    tz = show_zone(booking, await _time_zone(request, booking))
    return await render(
        request,
        "cancel.html",
        booking=booking,
        starts_local=at(booking.get("show_starts_at"), tz),
        terms=refund_terms(booking, dt.datetime.now(dt.UTC), tz),
    )


@router.post("/bookings/{booking_id}/cancel")
async def cancel(
    request: Request, booking_id: uuid.UUID, form: Annotated[CancelForm, Form()]
) -> Response:
    tok = require_token(request)
    here = f"/bookings/{booking_id}"
    try:
        done = await gateway(request).call(
            "POST", f"/api/bookings/bookings/{booking_id}/cancel", tok
        )
    except ApiError as exc:
        if exc.status_code in (401, 404) or exc.status_code >= 500 or exc.status_code == 429:
            raise
        return redirect(request, here, error=f"This booking was not cancelled: {exc.detail}.")
    refunded = isinstance(done, dict) and done.get("payment_status") in ("paid", "refunded")
    notice = (
        f"Booking cancelled. Your refund of {money(done['total_price'])} is on its way."
        if refunded
        else "Booking cancelled."
    )
    return redirect(request, here, notice=notice)


# --- the calendar entry ---------------------------------------------------------------------


def _ics_text(value: str) -> str:
    """TEXT as RFC 5545 writes it: backslash, semicolon, comma and newline escaped."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _ics_line(line: str) -> str:
    """One content line, folded at 75 octets (a continuation starts with a space)."""
    raw = line.encode()
    if len(raw) <= 75:
        return line + "\r\n"
    parts: list[str] = []
    current = ""
    limit = 75
    for char in line:
        if len((current + char).encode()) > limit:
            parts.append(current)
            current = ""
            limit = 74  # the leading space counts
        current += char
    parts.append(current)
    return "\r\n ".join(parts) + "\r\n"


def _ics_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar_entry(booking: dict[str, Any], minutes: int, now: dt.datetime) -> str:
    """The booking as an iCalendar VEVENT (UTC times), one show long."""
    starts = instant(booking.get("show_starts_at")) or now
    seats = ", ".join(f"{s['seat_row']}{s['seat_number']}" for s in booking.get("seats", []))
    place = ", ".join(p for p in (booking.get("theater_name"), booking.get("city")) if p)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//boxoffice//tickets//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{booking['id']}@boxoffice",
        f"DTSTAMP:{_ics_time(now)}",
        f"DTSTART:{_ics_time(starts)}",
        f"DTEND:{_ics_time(starts + dt.timedelta(minutes=minutes))}",
        f"SUMMARY:{_ics_text(str(booking.get('movie_title') or 'Movie'))}",
        f"LOCATION:{_ics_text(place)}",
        "DESCRIPTION:" + _ics_text(f"Booking code {booking.get('booking_code')}. Seats: {seats}."),
        "STATUS:" + ("CANCELLED" if booking.get("status") == "cancelled" else "CONFIRMED"),
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(_ics_line(line) for line in lines)


@router.get("/bookings/{booking_id}/calendar.ics")
async def calendar(request: Request, booking_id: uuid.UUID) -> Response:
    tok = require_token(request)
    booking = await _booking(request, tok, booking_id)
    minutes = _DEFAULT_MINUTES
    if booking.get("movie_id"):
        try:
            movie = await gateway(request).call("GET", f"/api/movies/movies/{booking['movie_id']}")
            if isinstance(movie, dict) and isinstance(movie.get("duration_minutes"), int):
                minutes = movie["duration_minutes"]
        except ApiError:
            pass  # the catalog is away: a show of the usual length
    body = calendar_entry(booking, minutes, dt.datetime.now(dt.UTC))
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="boxoffice-{booking["booking_code"]}.ics"'
        },
    )
