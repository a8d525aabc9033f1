"""The admin's sales pages: daily sales for a range of days (a table and a bar chart drawn on the
server as SVG), and one showtime's sales (its seat map, occupancy and revenue by seat type).

The numbers come from booking's admin reports (GET /api/bookings/sales/daily and
/api/bookings/showtimes/{id}/sales): sold means paid.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from html import escape
from typing import Annotated, Any, Self

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, model_validator

from boxoffice.core.localtime import zone
from boxoffice.web.access import Admin
from boxoffice.web.errors import BadInput
from boxoffice.web.formatting import day, money
from boxoffice.web.pages import gateway, render

router = APIRouter(include_in_schema=False)

# The cinema's calendar (booking reports days in its THEATER_TIMEZONE, Vietnam's by default).
CINEMA_ZONE = "Asia/Ho_Chi_Minh"
DEFAULT_DAYS = 14
MAX_DAYS = 366


class SalesRange(BaseModel):
    """`?from=YYYY-MM-DD&to=YYYY-MM-DD`, both included; the last two weeks when left out."""

    start: dt.date | None = None
    end: dt.date | None = None

    @model_validator(mode="after")
    def _filled(self) -> Self:
        today = dt.datetime.now(zone(CINEMA_ZONE)).date()
        self.end = self.end or today
        self.start = self.start or self.end - dt.timedelta(days=DEFAULT_DAYS - 1)
        if self.start > self.end:
            raise BadInput("The range must start on or before the day it ends.")
        if (self.end - self.start).days + 1 > MAX_DAYS:
            raise BadInput(f"Pick at most {MAX_DAYS} days.")
        return self

    @property
    def params(self) -> dict[str, str]:
        return {"from": str(self.start), "to": str(self.end)}


async def _daily(request: Request, who: Admin, dates: SalesRange) -> list[dict[str, Any]]:
    return await gateway(request).call(  # type: ignore[no-any-return]
        "GET", "/api/bookings/sales/daily", who.token, params=dates.params
    )


@router.get("/admin/sales", response_class=HTMLResponse)
async def sales_page(
    request: Request,
    who: Admin,
    start: Annotated[dt.date | None, Query(alias="from")] = None,
    end: Annotated[dt.date | None, Query(alias="to")] = None,
    show_day: Annotated[dt.date | None, Query(alias="day")] = None,
) -> Response:
    dates = SalesRange(start=start, end=end)
    rows = await _daily(request, who, dates)
    # One day's showtimes (started ones too), or every upcoming one.
    params: dict[str, Any] = {"limit": 200, "include_inactive": "true"}
    if show_day is not None:
        params.update(date=str(show_day), include_started="true")
    showtimes = await gateway(request).call("GET", "/api/movies/showtimes", params=params)
    return await render(
        request,
        "admin/sales.html",
        user=who.user,
        section="sales",
        dates=dates,
        rows=rows,
        totals={
            "bookings": sum(r["bookings"] for r in rows),
            "seats": sum(r["seats"] for r in rows),
            "revenue": sum(r["revenue"] for r in rows),
        },
        showtimes=showtimes,
        show_day=show_day,
    )


@router.get("/admin/sales/chart.svg")
async def sales_chart(
    request: Request,
    who: Admin,
    start: Annotated[dt.date | None, Query(alias="from")] = None,
    end: Annotated[dt.date | None, Query(alias="to")] = None,
) -> Response:
    dates = SalesRange(start=start, end=end)
    rows = await _daily(request, who, dates)
    return Response(
        bar_chart(rows, dates),
        media_type="image/svg+xml",
        headers={"Cache-Control": "private, no-store"},
    )


@router.get("/admin/sales/showtimes/{showtime_id}", response_class=HTMLResponse)
async def showtime_sales(request: Request, who: Admin, showtime_id: uuid.UUID) -> Response:
    api = gateway(request)
    show = await api.call("GET", f"/api/movies/showtimes/{showtime_id}")
    report = await api.call("GET", f"/api/bookings/showtimes/{showtime_id}/sales", who.token)
    seat_map = await api.call(
        "GET", f"/api/movies/showtimes/{showtime_id}/available-seats", who.token
    )
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for seat in seat_map["seats"]:
        rows[seat["seat_row"]].append(seat)
    counts = {"available": 0, "held": 0, "booked": 0}
    for seat in seat_map["seats"]:
        # The admin's own holds are held seats too, as far as sales go.
        counts["held" if seat["status"] == "mine" else seat["status"]] += 1
    return await render(
        request,
        "admin/showtime_sales.html",
        user=who.user,
        section="sales",
        show=show,
        report=report,
        rows=dict(rows),
        counts=counts,
    )


# -- the chart -----------------------------------------------------------------------------

WIDTH, HEIGHT = 860, 360
LEFT, RIGHT, TOP, BOTTOM = 110, 20, 40, 70


def _nice_top(value: float) -> float:
    """The axis' top: 1, 2, 2.5 or 5 times a power of ten, at or above `value`."""
    if value <= 0:
        return 100_000.0
    power = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def bar_chart(rows: list[dict[str, Any]], dates: SalesRange) -> str:
    """Revenue a day as an SVG bar chart: a title and description for screen readers, a money
    axis with four gridlines, day labels (thinned out for long ranges) and a tooltip per bar."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_top(max((float(r["revenue"]) for r in rows), default=0.0))
    total = sum(float(r["revenue"]) for r in rows)
    seats = sum(int(r["seats"]) for r in rows)
    title = f"Daily revenue from {day(dates.start)} to {day(dates.end)}"
    summary = f"{money(total)} in total from {seats} seats over {len(rows)} days."
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="t d" '
        'font-family="system-ui, sans-serif" font-size="12">',
        f'<title id="t">{escape(title)}</title>',
        f'<desc id="d">{escape(summary)}</desc>',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#161b22"/>',
        f'<text x="{LEFT}" y="22" fill="#e6edf3" font-size="15" font-weight="600">'
        f"{escape(title)}</text>",
    ]
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#30363d"/>'
            f'<text x="{LEFT - 8}" y="{y + 4:.1f}" fill="#c9d1d9" text-anchor="end">'
            f"{escape(money(value))}</text>"
        )
    slot = plot_w / max(len(rows), 1)
    every = max(1, round(len(rows) / 12))
    for index, row in enumerate(rows):
        revenue = float(row["revenue"])
        height = plot_h * revenue / top if top else 0
        x = LEFT + index * slot
        label = f"{day(row['date'])}: {money(revenue)}, {row['seats']} seats"
        out.append(
            f'<rect x="{x + slot * 0.15:.1f}" y="{TOP + plot_h - height:.1f}" '
            f'width="{max(slot * 0.7, 1):.1f}" height="{height:.1f}" fill="#f0b429">'
            f"<title>{escape(label)}</title></rect>"
        )
        if index % every == 0:
            date = dt.date.fromisoformat(str(row["date"]))
            out.append(
                f'<text x="{x + slot / 2:.1f}" y="{TOP + plot_h + 18}" fill="#c9d1d9" '
                f'text-anchor="middle">{date.day} {date:%b}</text>'
            )
    out += [
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#8b949e"/>',
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        'stroke="#8b949e"/>',
        f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 22}" fill="#e6edf3" '
        'text-anchor="middle">Day of payment</text>',
        f'<text x="18" y="{TOP + plot_h / 2:.0f}" fill="#e6edf3" text-anchor="middle" '
        f'transform="rotate(-90 18 {TOP + plot_h / 2:.0f})">Revenue (₫)</text>',
        "</svg>",
    ]
    return "\n".join(out)
