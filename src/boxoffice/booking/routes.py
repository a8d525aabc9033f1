"""Booking routes (design 4.3): thin; each calls one BookingService method (service.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from boxoffice.booking import live
from boxoffice.booking.deps import BookingById, BookingToRead, Service
from boxoffice.booking.errors import (
    BookingNotCancellable,
    BookingNotFound,
    CheckInRefused,
    NoSeatsTogether,
    NotBookingOwner,
    RefundRefused,
    SalesRangeInvalid,
    SeatsUnavailable,
    ShowtimeNotFound,
)
from boxoffice.booking.schemas import (
    MAX_SEATS_IN_REQUEST,
    BestHold,
    BestSeatsOut,
    BookingOut,
    CheckInRequest,
    DailySalesOut,
    HoldOut,
    RefundApprovalOut,
    RefundApprovalRequest,
    ReleaseOut,
    SeatSelection,
    SeatStatusOut,
    ShowtimeSalesOut,
    SuggestedSeat,
)
from boxoffice.core.app import Context
from boxoffice.core.auth import AdminUser, CurrentUser, OptionalUser, StaffUser
from boxoffice.core.db import utcnow
from boxoffice.core.errors import (
    NotAuthenticated,
    PermissionDenied,
    ServiceUnavailable,
    responses,
)
from boxoffice.core.pagination import Limit, Offset

router = APIRouter(tags=["bookings"])


@router.post(
    "/book",
    status_code=201,
    response_model=BookingOut,
    responses=responses(NotAuthenticated, ShowtimeNotFound, SeatsUnavailable, ServiceUnavailable),
)
async def book(body: SeatSelection, user: CurrentUser, service: Service) -> BookingOut:
    """Book seats that are free or held by the caller: a pending booking until paid."""
    return BookingOut.of(await service.book(user, body), utcnow())


@router.get(
    "/bookings",
    response_model=list[BookingOut],
    responses=responses(NotAuthenticated, PermissionDenied),
)
async def list_bookings(
    user: CurrentUser,
    service: Service,
    user_id: uuid.UUID | None = None,
    showtime_id: uuid.UUID | None = None,
    scope: Literal["mine", "all"] = "mine",
    booking_code: Annotated[
        str | None,
        Query(
            pattern=r"^[A-Za-z0-9]{1,20}$",
            description="Only the booking with this code (staff at the door look a ticket up)",
        ),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[BookingOut]:
    """The caller's bookings, newest first; staff may pass `user_id` or `scope=all`."""
    bookings = await service.list_bookings(
        user,
        user_id=user_id,
        showtime_id=showtime_id,
        booking_code=booking_code.upper() if booking_code else None,
        everyone=scope == "all",
        limit=limit,
        offset=offset,
    )
    now = utcnow()
    return [BookingOut.of(b, now) for b in bookings]


@router.post(
    "/bookings/check-in",
    response_model=BookingOut,
    responses=responses(NotAuthenticated, PermissionDenied, BookingNotFound, CheckInRefused),
)
async def check_in(body: CheckInRequest, _: StaffUser, service: Service) -> BookingOut:
    """Staff at the door: mark a confirmed ticket used (409 if used already or unpaid; a ticket
    used already names its `booking_id` and `checked_in_at` beside the error). The answer is
    the booking, with what the door checks: show_date and show_time (the theater's wall
    clock), show_starts_at (UTC), theater_name and the seats."""
    return BookingOut.of(await service.check_in(body.booking_code), utcnow())


@router.get(
    "/bookings/{booking_id}",
    response_model=BookingOut,
    responses=responses(NotAuthenticated, BookingNotFound),
)
async def get_booking(booking: BookingToRead) -> BookingOut:
    """One booking: its owner's, or any for staff."""
    return BookingOut.of(booking, utcnow())


@router.post(
    "/bookings/{booking_id}/cancel",
    response_model=BookingOut,
    responses=responses(NotAuthenticated, NotBookingOwner, BookingNotFound, BookingNotCancellable),
)
async def cancel_booking(booking: BookingById, user: CurrentUser, service: Service) -> BookingOut:
    """The owner cancels: the seats are free again; a paid booking is refunded."""
    return BookingOut.of(await service.cancel(user, booking), utcnow())


@router.post(
    "/bookings/{booking_id}/refund-approval",
    response_model=RefundApprovalOut,
    responses=responses(NotAuthenticated, BookingNotFound, RefundRefused),
)
async def refund_approval(
    booking_id: uuid.UUID, body: RefundApprovalRequest, user: CurrentUser, service: Service
) -> RefundApprovalOut:
    """Payment asks before a customer's refund (docs/refunds.md): 409 once the ticket was
    checked in or its show started; else the ticket can no longer be checked in."""
    # The booking's owner asks, or an admin: not BookingById's rule (any staff), so the
    # service looks the booking up itself.
    withdrawn = await service.approve_refund(user, booking_id, body.payment_id)
    return RefundApprovalOut(
        booking_id=booking_id, payment_id=body.payment_id, ticket_withdrawn=withdrawn
    )


@router.post(
    "/seats/hold",
    response_model=HoldOut,
    responses=responses(NotAuthenticated, ShowtimeNotFound, SeatsUnavailable, ServiceUnavailable),
)
async def hold_seats(body: SeatSelection, user: CurrentUser, service: Service) -> HoldOut:
    """Hold all the seats for the caller for SEAT_HOLD_TTL_SECONDS, or none (409 names the
    taken ones). Holding again extends the caller's own hold."""
    return await service.hold(user, body)


@router.post(
    "/seats/hold-best",
    response_model=HoldOut,
    responses=responses(NotAuthenticated, ShowtimeNotFound, NoSeatsTogether, ServiceUnavailable),
)
async def hold_best_seats(body: BestHold, user: CurrentUser, service: Service) -> HoldOut:
    """Hold the best `count` adjacent free seats (as `best-seats` ranks them) for the caller,
    in one request: if the best block is taken meanwhile, the next best is held instead. 409
    when no block has `count` free seats side by side."""
    return await service.hold_best(user, body)


@router.post(
    "/seats/release",
    response_model=ReleaseOut,
    responses=responses(NotAuthenticated),
)
async def release_seats(body: SeatSelection, user: CurrentUser, service: Service) -> ReleaseOut:
    """Release the caller's own holds among the seats."""
    return await service.release(user, body)


@router.get(
    "/showtimes/{showtime_id}/seat-status",
    response_model=SeatStatusOut,
    responses=responses(ShowtimeNotFound, ServiceUnavailable),
)
async def seat_status(
    showtime_id: uuid.UUID,
    user: OptionalUser,
    service: Service,
    since: Annotated[
        int | None, Query(ge=0, description="A version from an earlier answer: only changes")
    ] = None,
) -> SeatStatusOut:
    """Seats of a showtime that are not free: held, booked, or the caller's own hold
    (docs/contracts.md; the movie service's available-seats reads it). With `since`, only
    what changed after that version."""
    version, full, states = await service.seat_status(showtime_id, user, since)
    return SeatStatusOut(showtime_id=showtime_id, version=version, full=full, seats=states)


@router.get(
    "/showtimes/{showtime_id}/seat-events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Seat changes"},
        **responses(ShowtimeNotFound, ServiceUnavailable),
    },
)
async def seat_events(
    showtime_id: uuid.UUID,
    user: OptionalUser,
    service: Service,
    ctx: Context,
    last_event_id: Annotated[int | None, Header(ge=0)] = None,
) -> StreamingResponse:
    """A server-sent-events stream of the showtime's seat changes: a `snapshot`, then a
    `change` per change (each seat's new status, freed seats as `available`); the event id is
    the version, so a reconnecting browser resumes where it left off."""
    # Checked before the stream starts: once it has, an error can no longer be an answer.
    await service.showtime(showtime_id)
    return StreamingResponse(
        live.seat_events(ctx, showtime_id, user, last_event_id),
        media_type="text/event-stream",
        # No buffering in NGINX, no caching anywhere: each change goes out as it happens.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/showtimes/{showtime_id}/best-seats",
    response_model=BestSeatsOut,
    responses=responses(ShowtimeNotFound, ServiceUnavailable),
)
async def suggest_seats(
    showtime_id: uuid.UUID,
    user: OptionalUser,
    service: Service,
    count: Annotated[int, Query(ge=1, le=MAX_SEATS_IN_REQUEST)] = 2,
) -> BestSeatsOut:
    """The best `count` adjacent free seats (middle rows, centre first); empty if none."""
    best = await service.best_seats(showtime_id, count, user)
    return BestSeatsOut(
        showtime_id=showtime_id,
        count=count,
        seat_ids=[s.id for s in best],
        seats=[SuggestedSeat.model_validate(s.model_dump()) for s in best],
    )


@router.get(
    "/showtimes/{showtime_id}/sales",
    response_model=ShowtimeSalesOut,
    responses=responses(NotAuthenticated, PermissionDenied, ShowtimeNotFound, ServiceUnavailable),
    tags=["sales"],
)
async def showtime_sales(
    showtime_id: uuid.UUID, _: AdminUser, service: Service
) -> ShowtimeSalesOut:
    """What a showtime sold (admin): `sold` counts the seats of confirmed, paid bookings
    (checked-in ones too; refunded, cancelled and expired ones not), `held` the seats of
    pending bookings awaiting payment; `occupancy` is sold / capacity; revenue is what the sold
    seats were paid, by seat type and in total."""
    return await service.showtime_sales(showtime_id)


@router.get(
    "/sales/daily",
    response_model=list[DailySalesOut],
    responses=responses(NotAuthenticated, PermissionDenied, SalesRangeInvalid),
    tags=["sales"],
)
async def daily_sales(
    _: AdminUser,
    service: Service,
    first: Annotated[dt.date, Query(alias="from", description="First day, YYYY-MM-DD")],
    last: Annotated[dt.date, Query(alias="to", description="Last day (included)")],
) -> list[DailySalesOut]:
    """Sales day by day (admin), one row for every day from `from` to `to` (both included, at
    most 366 days; a backward or longer range is a 400): the confirmed, paid bookings whose
    payment came that day in the cinema's time zone (THEATER_TIMEZONE), their seats and
    revenue."""
    return await service.daily_sales(first, last)
