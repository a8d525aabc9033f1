"""Staff at the door: checking tickets in.

The page shows what the door must see of the ticket (movie, day and time by the theater's clock,
hall, seats). A ticket for another day or a show that has ended is shown with loud warnings
and checked in only when staff confirm; a ticket used before says when. Only staff and admins
see it (access.py); booking checks again.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, field_validator

from boxoffice.core.localtime import is_time_zone, zone
from boxoffice.web.access import Staff, Visitor
from boxoffice.web.formatting import clock, day, instant, local_time
from boxoffice.web.gateway import ApiError
from boxoffice.web.pages import gateway, render

router = APIRouter(include_in_schema=False)


class CheckInForm(BaseModel):
    # Booking checks the code's shape (letters and digits); this only bounds it.
    booking_code: str = Field(min_length=1, max_length=40)
    # Sent by "Check in anyway", once staff have read the ticket's warnings.
    confirm: bool = False

    @field_validator("booking_code")
    @classmethod
    def _normalised(cls, code: str) -> str:
        return code.strip().upper()


async def _show_details(request: Request, booking: dict[str, Any]) -> dict[str, Any]:
    """The showtime's time zone and when it ends (its movie's runtime), from the catalog;
    empty when the catalog cannot say (the ticket itself is still shown)."""
    api = gateway(request)
    try:
        show = await api.call("GET", f"/api/movies/showtimes/{booking['showtime_id']}")
        movie = await api.call("GET", f"/api/movies/movies/{show['movie_id']}")
    except ApiError:
        return {}
    return {"timezone": show.get("timezone"), "minutes": movie.get("duration_minutes")}


def warnings(booking: dict[str, Any], details: dict[str, Any], now: dt.datetime) -> list[str]:
    """What the door must be told: a ticket for another day, or for a show that has ended."""
    found = []
    starts = instant(booking.get("show_starts_at"))
    time_zone = details.get("timezone")
    if time_zone and is_time_zone(time_zone):
        today = now.astimezone(zone(time_zone)).date()
        show_day = dt.date.fromisoformat(str(booking["show_date"]))
        if show_day != today:
            when = "an earlier day" if show_day < today else "a later day"
            found.append(
                f"This ticket is for {day(show_day)} at {clock(booking['show_time'])}, "
                f"{when}: today is {day(today)}."
            )
    minutes = details.get("minutes")
    if starts is not None and isinstance(minutes, int):
        ends = starts + dt.timedelta(minutes=minutes)
        if ends <= now:
            found.append(f"This show has ended: it finished at {local_time(ends, time_zone)}.")
    elif starts is not None and starts + dt.timedelta(hours=4) <= now:
        found.append("This show started more than four hours ago.")
    return found


async def _answer(
    request: Request,
    who: Visitor,
    booking: dict[str, Any] | None = None,
    *,
    verdict: str = "",
    used_at: str | None = None,
    error: str | None = None,
    code: str = "",
) -> Response:
    """The page, with what happened to the ticket: `verdict` is checked_in, used (before),
    confirm (it has warnings: staff decide), or empty (nothing done)."""
    details = await _show_details(request, booking) if booking else {}
    found = warnings(booking, details, dt.datetime.now(dt.UTC)) if booking else []
    return await render(
        request,
        "checkin.html",
        user=who.user,
        result=booking,
        verdict=verdict,
        used_at=used_at,
        warnings=found,
        time_zone=details.get("timezone"),
        failure=error,
        code=code,
    )


@router.get("/check-in", response_class=HTMLResponse)
async def check_in_page(request: Request, who: Staff) -> Response:
    return await _answer(request, who)


NOT_A_CODE = "That is not a booking code: codes are letters and digits, like BK7Q2M9XA."


@router.post("/check-in", response_class=HTMLResponse)
async def check_in(request: Request, who: Staff, form: Annotated[CheckInForm, Form()]) -> Response:
    """Look the ticket up first: one used before says when; one for another day or an ended
    show is shown with its warnings and checked in only when staff confirm."""
    api = gateway(request)
    code = form.booking_code
    try:
        found = await api.call(
            "GET",
            "/api/bookings/bookings",
            who.token,
            params={"scope": "all", "booking_code": code, "limit": 1},
        )
    except ApiError as exc:
        if exc.status_code in (401, 403) or exc.status_code >= 500:
            raise
        return await _answer(request, who, error=NOT_A_CODE, code=code)
    if not found:
        return await _answer(request, who, error=f"No booking has the code {code}.", code=code)
    booking = found[0]
    if booking.get("checked_in_at"):
        return await _answer(
            request, who, booking, verdict="used", used_at=booking["checked_in_at"]
        )
    if booking.get("status") == "confirmed" and not form.confirm:
        details = await _show_details(request, booking)
        if warnings(booking, details, dt.datetime.now(dt.UTC)):
            return await _answer(request, who, booking, verdict="confirm", code=code)
    try:
        booking = await api.call(
            "POST", "/api/bookings/bookings/check-in", who.token, json={"booking_code": code}
        )
    except ApiError as exc:
        if exc.status_code in (401, 403) or exc.status_code >= 500:
            raise
        used_at = exc.body.get("checked_in_at")
        if exc.status_code == 409 and used_at:  # checked in at another door just now
            return await _answer(request, who, booking, verdict="used", used_at=str(used_at))
        return await _answer(request, who, booking, error=exc.detail, code=code)
    return await _answer(request, who, booking, verdict="checked_in")
