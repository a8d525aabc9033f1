"""A customer's bookings: the list, the ticket, paying and cancelling."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from boxoffice.web.errors import BadInput, require_token
from boxoffice.web.gateway import ApiError
from boxoffice.web.pages import (
    gateway,
    qr_data_uri,
    redirect,
    render,
)

# What the pay form sends as Idempotency-Key (a uuid4 hex); anything else is not ours.
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_\-]{8,100}")

router = APIRouter(include_in_schema=False)


@router.get("/bookings", response_class=HTMLResponse)
async def my_bookings(request: Request) -> Response:
    tok = require_token(request)
    bookings = await gateway(request).call(
        "GET", "/api/bookings/bookings", tok, params={"limit": 200}
    )
    return await render(request, "bookings.html", bookings=bookings)


@router.get("/bookings/{booking_id}", response_class=HTMLResponse)
async def ticket(request: Request, booking_id: uuid.UUID) -> Response:
    tok = require_token(request)
    booking = await gateway(request).call("GET", f"/api/bookings/bookings/{booking_id}", tok)
    qr = qr_data_uri(booking["booking_code"]) if booking["status"] == "confirmed" else None
    # One key per rendered form: a double-submitted form is one payment, never two.
    return await render(
        request, "booking.html", booking=booking, qr=qr, idempotency_key=uuid.uuid4().hex
    )


@router.post("/bookings/{booking_id}/pay")
async def pay(
    request: Request,
    booking_id: uuid.UUID,
    idempotency_key: Annotated[str, Form()],
    payment_method: Annotated[str, Form()] = "credit_card",
    card: Annotated[str, Form()] = "tok_visa",
) -> Response:
    tok = require_token(request)
    if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise BadInput("This payment form is damaged: reload the booking and pay again.")
    api = gateway(request)
    booking = await api.call("GET", f"/api/bookings/bookings/{booking_id}", tok)
    try:
        await api.call(
            "POST",
            "/api/payments/process",
            tok,
            headers={"Idempotency-Key": idempotency_key},
            json={
                "booking_id": str(booking_id),
                "payment_method": payment_method,
                "amount": str(booking["total_price"]),
                "payment_token": card,
            },
        )
    except ApiError as exc:
        if exc.status_code == 401:
            raise
        return redirect(request, f"/bookings/{booking_id}", error=f"Payment failed: {exc.detail}")
    return redirect(
        request, f"/bookings/{booking_id}", notice="Payment received: your ticket is ready."
    )


@router.post("/bookings/{booking_id}/cancel")
async def cancel(request: Request, booking_id: uuid.UUID) -> Response:
    tok = require_token(request)
    try:
        await gateway(request).call("POST", f"/api/bookings/bookings/{booking_id}/cancel", tok)
    except ApiError as exc:
        if exc.status_code == 401:
            raise
        return redirect(request, f"/bookings/{booking_id}", error=exc.detail)
    return redirect(request, f"/bookings/{booking_id}", notice="Booking cancelled.")
