"""`BookingService`: the booking rules, from a hold to a used ticket.

Seats: a customer holds seats (all or none, within the per-booking limit and the fair-share
caps), books seats that are free or their own holds, and reads what seats are taken.

Defences against a double sale, fastest first: the seat board (per-seat holds, atomic and
all-or-nothing, which also knows the sold seats), and finally the database's unique index over
(showtime, seat) of live booking seats, which decides whatever Redis says or whether it is up.

A booking's life after it is made: pending → confirmed (paid), cancelled, expired; check-in.
Every transition is a guarded update (`BookingRepository.transition`): it happens only if the
booking is still in the state the rule starts from, so racing actors (an owner cancelling while
the payment lands, two sweeper replicas, a redelivered event) cannot both act. The one that made
the change records the event announcing it, in the same transaction (the outbox), and changes
the seat board only once that transaction commits.

The service never commits: the request's unit of work (or the consumer's or the sweeper's
transaction) does.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import uuid
from decimal import Decimal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.booking import sales
from boxoffice.booking.errors import (
    BookingNotCancellable,
    BookingNotFound,
    CheckInRefused,
    NoSeatsTogether,
    NotBookingOwner,
    RefundRefused,
    SeatSelectionLeavesGap,
    SeatsUnavailable,
    ShowtimeNotOnSale,
    ShowtimeStarted,
    TooManySeats,
    UnpaidSeatsCapReached,
)
from boxoffice.booking.events import (
    BookingCancelled,
    BookingConfirmed,
    BookingCreated,
    BookingExpired,
    BookingPaymentRejected,
)
from boxoffice.booking.metrics import BOOKINGS
from boxoffice.booking.models import (
    CANCELLED,
    CONFIRMED,
    EXPIRED,
    PAID,
    PENDING,
    REFUNDED,
    UNPAID,
    Booking,
    BookingSeat,
)
from boxoffice.booking.movie_client import Layout, MovieClient, SeatInfo, ShowtimeInfo
from boxoffice.booking.refund_policy import cancel_refusal, paid_by, ticket_is_final
from boxoffice.booking.repository import BookingRepository
from boxoffice.booking.schemas import (
    BestHold,
    DailySalesOut,
    HoldOut,
    ReleaseOut,
    SeatSelection,
    SeatState,
    ShowtimeSalesOut,
)
from boxoffice.booking.seat_rules import best_blocks_in, best_seats_in, stranded_seats
from boxoffice.booking.seats import (
    HoldCap,
    SeatBoardKeeper,
    caller_view,
    guards_of,
    label,
    taken_error,
)
from boxoffice.booking.settings import BookingSettings
from boxoffice.core.app import ServiceContext
from boxoffice.core.auth import Principal
from boxoffice.core.db import Database, utcnow
from boxoffice.core.errors import AppError, Conflict, PermissionDenied, ServiceUnavailable
from boxoffice.core.events import EventRecorder
from boxoffice.seatboard import seat_board

log = structlog.get_logger("boxoffice.booking")

# How often a best-seats hold looks again after the block it chose was taken under it (each
# look is a read of the board and one hold script, not another request), and from how many of
# the next best blocks it then picks: 4, then 16, then 32, at random, so that a crowd that all
# lost the same block does not all go for the same next one.
BEST_HOLD_ATTEMPTS = 10
BEST_HOLD_SPREAD = (1, 4, 16, 32)

# Booking codes avoid letters and digits people confuse (0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_booking_code() -> str:
    return "BK" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


class BookingService:
    """The booking rules, on one session (a request's, a consumer's or the sweeper's)."""

    def __init__(
        self,
        bookings: BookingRepository,
        settings: BookingSettings,
        events: EventRecorder,
        seats: SeatBoardKeeper,
        movies: MovieClient,
        db: Database,
    ) -> None:
        self.bookings = bookings
        self.settings = settings
        self.events = events
        self.seats = seats
        self.movies = movies
        # To expire overdue bookings in a transaction of their own (`_expire_overdue`), and for
        # reads that need no transaction.
        self.db = db

    @classmethod
    def from_context(cls, ctx: ServiceContext, session: AsyncSession) -> BookingService:
        settings: BookingSettings = ctx.settings
        bookings = BookingRepository(session)
        return cls(
            bookings,
            settings,
            EventRecorder(session),
            SeatBoardKeeper(seat_board(ctx.runtime), bookings, settings, guards_of(ctx)),
            MovieClient.of(ctx),
            ctx.db,
        )

    def _on(self, session: AsyncSession) -> BookingService:
        """This service on another session (another transaction)."""
        bookings = BookingRepository(session)
        seats = SeatBoardKeeper(self.seats.board, bookings, self.settings, self.seats.guards)
        return BookingService(
            bookings, self.settings, EventRecorder(session), seats, self.movies, self.db
        )

    # -- seats of a showtime ----------------------------------------------------------------

    def check_count(self, count: int) -> None:
        cap = self.settings.max_seats_per_booking
        if count > cap:
            raise TooManySeats(f"At most {cap} seats per booking; {count} requested")

    async def _on_sale(self, showtime_id: uuid.UUID) -> tuple[ShowtimeInfo, Layout]:
        """The showtime and its theater's layout; ShowtimeStarted (409) once the show has
        started (its seats are sold no more), ShowtimeNotOnSale (409) while it is inactive."""
        showtime = await self.movies.showtime(showtime_id)
        if showtime.start(self.settings.theater_timezone) <= utcnow():
            raise ShowtimeStarted()
        if not showtime.is_active:
            raise ShowtimeNotOnSale()
        return showtime, await self.movies.layout(showtime.theater_id)

    async def _selection(self, body: SeatSelection) -> tuple[ShowtimeInfo, Layout, list[SeatInfo]]:
        """The showtime, its theater's layout, and the chosen seats (all must be of it)."""
        self.check_count(len(body.seat_ids))
        showtime, layout = await self._on_sale(body.showtime_id)
        return showtime, layout, layout.pick(body.seat_ids)

    async def _hold_cap(self, user: Principal, showtime_id: uuid.UUID) -> HoldCap:
        """How many seats of the showtime the caller may hold: what a booking allows, less
        their unpaid seats under the fair-share caps (SPEC 4.10). Holds are advisory (the
        booking's own count decides, in its transaction), so this unlocked read is enough."""
        # Read outside the request's transaction (a hold writes nothing to the database): one
        # round trip, not BEGIN, the count and COMMIT.
        async with self.db.reading() as session:
            unpaid = await BookingRepository(session).unpaid_seats(
                user.user_id, showtime_id, utcnow()
            )
        per_showtime = self.settings.max_unpaid_seats_per_showtime
        in_all = self.settings.max_unpaid_seats_in_all
        options = [
            (self.settings.max_seats_per_booking, None, 0, 0),
            (per_showtime - unpaid.here, "per_showtime", per_showtime, unpaid.here),
            (in_all - unpaid.in_all, "in_all", in_all, unpaid.in_all),
        ]
        limit, scope, cap, count = min(options, key=lambda o: o[0])
        return HoldCap(limit=limit, scope=scope, cap=cap, unpaid=count)

    async def hold(self, user: Principal, body: SeatSelection) -> HoldOut:
        """Hold every requested seat for the caller, or none (409 naming the taken ones, or
        the fair-share cap reached)."""
        showtime, _, chosen = await self._selection(body)
        now = utcnow()
        cap = await self._hold_cap(user, showtime.id)
        if cap.limit <= 0:  # a board limit of 0 would mean "no cap"
            raise cap.refusal(0)
        return await self._claim(user, showtime.id, chosen, body.seat_ids, cap, now)

    async def _claim(
        self,
        user: Principal,
        showtime_id: uuid.UUID,
        chosen: list[SeatInfo],
        seat_ids: list[uuid.UUID],
        cap: HoldCap,
        now: dt.datetime,
    ) -> HoldOut:
        """Hold `chosen` for the caller on the seat board (SeatsUnavailable names the taken
        ones); while the board is down, only sold seats refuse (the booking decides)."""
        ttl = self.settings.seat_hold_ttl_seconds
        result = await self.seats.claim(user, showtime_id, chosen, limit=cap.limit, cap=cap)
        if result is None:
            sold = await self.seats.sold(showtime_id, seat_ids)
            if sold:
                raise taken_error(sold)
        return HoldOut(
            showtime_id=showtime_id,
            seat_ids=seat_ids,
            held=result is not None,
            expires_at=now + dt.timedelta(seconds=ttl) if result is not None else None,
            hold_ttl_seconds=ttl,
        )

    async def hold_best(self, user: Principal, body: BestHold) -> HoldOut:
        """Hold the best block of `count` adjacent seats free to the caller (as `best-seats`
        ranks them), whichever it is once the board decides: NoSeatsTogether (409) when none.

        A suggestion, then a hold, is two requests, and in a rush everyone is suggested the
        same block: all but one hold is refused and asks again. Here a block taken under the
        caller is counted as taken and the next best is tried at once, on the same request.
        """
        self.check_count(body.count)
        showtime, layout = await self._on_sale(body.showtime_id)
        now = utcnow()
        cap = await self._hold_cap(user, showtime.id)
        if cap.limit <= 0:  # a board limit of 0 would mean "no cap"
            raise cap.refusal(0)
        lost: set[uuid.UUID] = set()
        for attempt in range(BEST_HOLD_ATTEMPTS):
            # The board as of now (others' holds of the same rush included), and what was
            # just lost, should the board's change log not have shown it yet.
            taken = await self.seats.unavailable_to(user, layout, showtime.id) | lost
            spread = BEST_HOLD_SPREAD[min(attempt, len(BEST_HOLD_SPREAD) - 1)]
            if spread == 1:
                chosen = best_seats_in(layout.blocks, taken, body.count)
            else:
                blocks = best_blocks_in(layout.blocks, taken, body.count, spread)
                chosen = random.choice(blocks) if blocks else []
            if not chosen:
                break
            try:
                seat_ids = [seat.id for seat in chosen]
                return await self._claim(user, showtime.id, chosen, seat_ids, cap, now)
            except SeatsUnavailable as exc:
                now_taken = {uuid.UUID(seat_id) for seat_id in exc.extra.get("seat_ids", ())}
                if not now_taken:
                    raise
                lost |= now_taken
        else:
            raise Conflict("The best seats were taken while choosing: try again")
        raise NoSeatsTogether(body.count)

    async def release(self, user: Principal, body: SeatSelection) -> ReleaseOut:
        """Release the caller's own holds among the seats (others' holds stay)."""
        released = await self.seats.release(user, body.showtime_id, body.seat_ids)
        return ReleaseOut(showtime_id=body.showtime_id, released=released)

    async def seat_status(
        self, showtime_id: uuid.UUID, user: Principal | None, since: int | None
    ) -> tuple[int, bool, dict[str, SeatState]]:
        """(version, full?, seats): every seat that is not free, or, after `since`, every seat
        that changed (freed ones as "available"). 404 for a showtime the catalog lacks: no
        board is installed for made-up ids (nor while the catalog cannot say)."""
        try:
            await self.movies.showtime(showtime_id)
            known = True
        except ServiceUnavailable:
            known = False  # still answered, from what is here
        if since is not None:
            delta = await self.seats.changes_since(showtime_id, since)
            if delta is not None and delta.states is not None:
                view = caller_view(dict(delta.states), user, keep_free=True)
                return delta.version, False, view  # type: ignore[return-value]
        version, states = await self.seats.states(showtime_id, install=known)
        return version, True, caller_view(states, user)  # type: ignore[return-value]

    async def showtime(self, showtime_id: uuid.UUID) -> ShowtimeInfo:
        """The showtime as the movie service describes it; ShowtimeNotFound (404)."""
        return await self.movies.showtime(showtime_id)

    async def best_seats(
        self, showtime_id: uuid.UUID, count: int, user: Principal | None
    ) -> list[SeatInfo]:
        """The best `count` adjacent seats the caller could book now."""
        self.check_count(count)
        showtime = await self.movies.showtime(showtime_id)
        layout = await self.movies.layout(showtime.theater_id)
        taken = await self.seats.unavailable_to(user, layout, showtime_id)
        return best_seats_in(layout.blocks, taken, count)

    # -- booking seats ----------------------------------------------------------------------

    async def book(self, user: Principal, body: SeatSelection) -> Booking:
        """Book seats that are free or held by the caller; count the attempt by outcome."""
        try:
            booking = await self._book(user, body)
        except AppError as exc:
            outcome = {409: "conflict", 503: "unavailable", 404: "not_found"}.get(
                exc.status_code, "rejected"
            )
            BOOKINGS.labels(outcome).inc()
            raise
        except Exception:
            BOOKINGS.labels("error").inc()
            raise
        BOOKINGS.labels("created").inc()
        return booking

    async def _book(self, user: Principal, body: SeatSelection) -> Booking:
        """One transaction: the customer's lock and count, one hold script (the caller's own
        holds extend; others' refuse), then the insert, in which the unique index over live
        seats decides; the seat board learns of the sale after the commit."""
        showtime, layout, chosen = await self._selection(body)
        if showtime.enforce_seat_rules:
            await self._check_seat_rules(user, showtime.id, layout, [s.id for s in chosen])
        booking = await self._insert(user, showtime, chosen)
        self.events.record(BookingCreated.of(booking), aggregate_id=booking.id)
        self.seats.sell_after_commit(booking)
        return booking

    async def _insert(
        self, user: Principal, showtime: ShowtimeInfo, chosen: list[SeatInfo]
    ) -> Booking:
        """Take the customer's lock and count their unpaid seats once, before any seat is
        touched (a customer at the cap claims nothing); claim the seats on the board; insert
        the booking, in which the live-seat index decides. Losing that race undoes only the
        insert (`BookingRepository.insert`), nothing the caller's transaction did before;
        the seats someone else has are then named."""
        wanted = [s.id for s in chosen]
        await self._expire_overdue(showtime.id, wanted)
        await self.bookings.lock_customer(user.user_id)
        await self._check_fair_share(user, showtime.id, len(chosen))
        acquired: tuple[str, ...] = ()
        if self.seats.guards.holds:
            held = await self.seats.claim(user, showtime.id, chosen)
            acquired = held.acquired if held is not None else ()
        booking = self._new_booking(user, showtime, chosen, utcnow())
        if await self.bookings.insert(booking):
            await self.seats.release_quietly(showtime.id, acquired, user)
            live = await self.bookings.live_seats(showtime.id, utcnow(), wanted)
            sold = [s for s in live if not s.overdue]
            if sold:
                raise taken_error(sold)
            # Only a booking that ran out since `_expire_overdue` looked is left: rare, and
            # the customer's next try finds its seats free.
            raise Conflict("The booking could not be saved; please try again")
        return booking

    async def _expire_overdue(self, showtime_id: uuid.UUID, wanted: list[uuid.UUID]) -> None:
        """Expire the bookings that ran out unpaid on the wanted seats now, rather than wait
        for the sweeper: their seats are free, and the index would refuse the insert.

        In their own transaction, before this one writes: they are facts of their own, kept
        whatever becomes of this booking (and on SQLite this transaction does not yet hold
        the one write lock that transaction needs)."""
        now = utcnow()
        live = await self.bookings.live_seats(showtime_id, now, wanted)
        overdue = {s.booking_id for s in live if s.overdue}
        if overdue:
            async with self.db.transaction() as session:
                elsewhere = self._on(session)
                for booking_id in overdue:
                    await elsewhere.expire(booking_id, now)

    async def _check_fair_share(self, user: Principal, showtime_id: uuid.UUID, seats: int) -> None:
        """Refuse (409) a booking of `seats` that would leave the customer more unpaid seats
        than the caps allow (SPEC 4.10, docs/fair-share.md).

        Race-free when called after `lock_customer`, in the same transaction as the insert
        that follows: on PostgreSQL the customer's advisory lock makes their bookings take
        turns until commit, and each statement of READ COMMITTED sees every booking committed
        before it; on SQLite `lock_customer` took the database's only write lock, so no other
        booking commits until this one has. Either way the count is of what will be there,
        besides this booking, when it commits."""
        unpaid = await self.bookings.unpaid_seats(user.user_id, showtime_id, utcnow())
        per_showtime = self.settings.max_unpaid_seats_per_showtime
        in_all = self.settings.max_unpaid_seats_in_all
        if unpaid.here + seats > per_showtime:
            raise UnpaidSeatsCapReached("per_showtime", per_showtime, unpaid.here)
        if unpaid.in_all + seats > in_all:
            raise UnpaidSeatsCapReached("in_all", in_all, unpaid.in_all)

    def _new_booking(
        self, user: Principal, showtime: ShowtimeInfo, chosen: list[SeatInfo], now: dt.datetime
    ) -> Booking:
        booking_id = uuid.uuid4()
        seats = [
            BookingSeat(
                id=uuid.uuid4(),
                booking_id=booking_id,
                showtime_id=showtime.id,
                seat_id=seat.id,
                status=PENDING,
                position=position,
                seat_row=seat.seat_row,
                seat_number=seat.seat_number,
                seat_type=seat.seat_type,
                price=showtime.price_of(seat.seat_type),
            )
            for position, seat in enumerate(chosen)
        ]
        return Booking(
            id=booking_id,
            user_id=user.user_id,
            user_email=user.email,
            showtime_id=showtime.id,
            booking_code=new_booking_code(),
            total_seats=len(seats),
            total_price=sum((s.price for s in seats), Decimal("0.00")),
            status=PENDING,
            payment_status="unpaid",
            expires_at=now + dt.timedelta(seconds=self.settings.booking_expiry_seconds),
            movie_id=showtime.movie_id,
            movie_title=showtime.movie_title,
            theater_id=showtime.theater_id,
            theater_name=showtime.theater_name,
            city=showtime.city,
            show_date=showtime.show_date,
            show_time=showtime.show_time,
            show_starts_at=showtime.start(self.settings.theater_timezone),
            created_at=now,
            updated_at=now,
            seats=seats,
        )

    async def _check_seat_rules(
        self, user: Principal, showtime_id: uuid.UUID, layout: Layout, wanted: list[uuid.UUID]
    ) -> None:
        """Where the showtime asks for it: refuse a selection that strands a single seat."""
        taken = await self.seats.unavailable_to(user, layout, showtime_id)
        stranded = stranded_seats(list(layout.seats), taken, set(wanted))
        if stranded:
            labels = [label(s) for s in stranded]
            raise SeatSelectionLeavesGap(labels, [str(s.id) for s in stranded])

    # -- reading bookings -------------------------------------------------------------------

    async def get(self, booking_id: uuid.UUID) -> Booking:
        """The booking with its seats, or BookingNotFound (404). Whose it is, the caller
        checks (deps.BookingById)."""
        booking = await self.bookings.with_seats(booking_id)
        if booking is None:
            raise BookingNotFound(f"Booking {booking_id} not found")
        return booking

    async def read(self, booking_id: uuid.UUID) -> Booking:
        """As `get`, for a request that only reads: outside the request's transaction, so one
        round trip instead of BEGIN, the read and COMMIT (payment reads each booking it is
        asked to charge). The booking is detached: change it only through `get`."""
        async with self.db.reading() as session:
            booking = await BookingRepository(session).with_seats(booking_id)
        if booking is None:
            raise BookingNotFound(f"Booking {booking_id} not found")
        return booking

    async def list_bookings(
        self,
        user: Principal,
        *,
        user_id: uuid.UUID | None,
        showtime_id: uuid.UUID | None,
        everyone: bool,
        limit: int,
        offset: int,
        booking_code: str | None = None,
    ) -> list[Booking]:
        """The caller's bookings; staff may list another user's, or everyone's."""
        if (everyone and not user.is_staff) or (user_id and not user.may_act_for(user_id)):
            raise PermissionDenied("Only staff may list other customers' bookings")
        owner = None if everyone and user_id is None else (user_id or user.user_id)
        return list(
            await self.bookings.newest_first(
                user_id=owner,
                showtime_id=showtime_id,
                booking_code=booking_code,
                limit=limit,
                offset=offset,
            )
        )

    # -- a booking's life -------------------------------------------------------------------

    async def _reload(self, booking_id: uuid.UUID) -> Booking:
        booking = await self.bookings.with_seats(booking_id)
        if booking is None:  # bookings are never deleted
            raise BookingNotFound()
        return booking

    async def _freed(self, booking_id: uuid.UUID, seat_status: str) -> Booking:
        """After a transition that frees seats: the seats follow, and the board after commit;
        the booking as it is now, for the event the caller records."""
        await self.bookings.set_seats_status(booking_id, seat_status)
        booking = await self._reload(booking_id)
        self.seats.free_after_commit(booking)
        return booking

    async def expire(self, booking_id: uuid.UUID, now: dt.datetime | None = None) -> bool:
        """Expire a pending booking past its expiry and free its seats; False if it was not."""
        now = now or utcnow()
        moved = await self.bookings.transition(
            booking_id,
            from_statuses=[PENDING],
            expired_at=now,
            values={"status": EXPIRED, "updated_at": now},
        )
        if moved:
            booking = await self._freed(booking_id, EXPIRED)
            self.events.record(BookingExpired.of(booking), aggregate_id=booking.id)
        return moved

    async def cancel(self, user: Principal, booking: Booking) -> Booking:
        """The owner cancels: a pending booking frees its seats; a paid one also asks for a
        refund (`refund_required`), which payment makes and announces with payment.refunded."""
        if booking.user_id != user.user_id:
            raise NotBookingOwner("Only the booking's owner may cancel it")
        booking_id = booking.id
        # A racing transition changes the state under us at most a couple of times.
        for _ in range(3):
            now = utcnow()
            status = booking.effective_status(now)
            if status == CANCELLED:
                raise BookingNotCancellable("This booking is already cancelled")
            if status == EXPIRED:
                raise BookingNotCancellable("This booking has expired")
            refusal = cancel_refusal(booking, now)
            if refusal is not None:
                raise BookingNotCancellable(refusal)
            refund_required = status == CONFIRMED and booking.payment_status == PAID
            moved = await self.bookings.transition(
                booking_id,
                from_statuses=[status],
                unexpired_at=now if status == PENDING else None,
                checked_in=False,
                values={"status": CANCELLED, "cancelled_at": now, "updated_at": now},
            )
            if moved:
                booking = await self._freed(booking_id, CANCELLED)
                self._record_cancelled(booking, refund_required=refund_required, reason="requested")
                return booking
            booking = await self._reload(booking_id)
        raise BookingNotCancellable("This booking changed while cancelling; try again")

    def _record_cancelled(self, booking: Booking, *, refund_required: bool, reason: str) -> None:
        cancelled = BookingCancelled.of(booking, refund_required=refund_required, reason=reason)
        self.events.record(cancelled, aggregate_id=booking.id)

    async def payment_completed(self, booking_id: uuid.UUID, payment_id: uuid.UUID) -> None:
        """Confirm and mark paid; a payment for a booking that can no longer take it is
        rejected (booking.payment_rejected) so payment refunds it automatically."""
        booking = await self.bookings.with_seats(booking_id)
        if booking is None:
            log.warning("payment_for_unknown_booking", booking_id=str(booking_id))
            return
        if booking.payment_id == payment_id and booking.payment_status in (PAID, REFUNDED):
            return  # this payment was applied (and maybe refunded) already
        now = utcnow()
        if booking.effective_status(now) == PENDING:
            paid = {
                "status": CONFIRMED,
                "payment_status": PAID,
                "payment_id": payment_id,
                "confirmed_at": now,
                "updated_at": now,
            }
            moved = await self.bookings.transition(
                booking_id, from_statuses=[PENDING], unexpired_at=now, values=paid
            )
            if moved:
                await self.bookings.set_seats_status(booking_id, CONFIRMED)
                self.bookings.show_committed(booking, paid, CONFIRMED)
                self.events.record(BookingConfirmed.of(booking), aggregate_id=booking.id)
                self.seats.confirm_after_commit(booking)
                return
            booking = await self._reload(booking_id)
        if booking.status == PENDING and await self.expire(booking_id, now):
            booking = await self._reload(booking_id)
        reason = {
            EXPIRED: "booking_expired",
            CANCELLED: "booking_cancelled",
            CONFIRMED: "already_paid",
        }.get(booking.status, "booking_unpayable")
        log.warning("payment_rejected", booking_id=str(booking_id), reason=reason)
        rejected = BookingPaymentRejected.of(booking, payment_id=payment_id, reason=reason)
        self.events.record(rejected, aggregate_id=booking.id)

    async def payment_refunded(self, booking_id: uuid.UUID, payment_id: uuid.UUID) -> None:
        """A refund cancels the booking it paid for and frees the seats, unless the ticket was
        used: a checked-in booking is never cancelled (docs/refunds.md)."""
        booking = await self.bookings.with_seats(booking_id)
        if booking is None:
            log.warning("refund_for_unknown_booking", booking_id=str(booking_id))
            return
        if booking.payment_id is not None and booking.payment_id != payment_id:
            return  # the refund of a rejected second payment: this booking keeps its own
        for _ in range(3):  # a racing check-in changes the row under us at most once
            if await self._apply_refund(booking, payment_id):
                return
            booking = await self._reload(booking_id)
        log.error("refund_not_applied", booking_id=str(booking_id), payment_id=str(payment_id))
        raise RuntimeError(f"booking {booking_id} kept changing while its refund was applied")

    async def _used_ticket_refunded(self, booking: Booking, payment_id: uuid.UUID) -> None:
        """Money went back for a ticket that was used. The rule (refund_policy.py) keeps this
        from happening; if it does anyway (a refund from outside the rule), the booking tells
        the truth about the money but stays confirmed and checked in, its seats sold: the
        person was in the hall. People follow the error log up."""
        now = utcnow()
        await self.bookings.transition(
            booking.id,
            from_statuses=[booking.status],
            checked_in=True,
            values={"payment_status": REFUNDED, "payment_id": payment_id, "updated_at": now},
        )
        log.error(
            "used_ticket_refunded",
            booking_id=str(booking.id),
            payment_id=str(payment_id),
            checked_in_at=str(booking.checked_in_at),
        )

    async def _apply_refund(self, booking: Booking, payment_id: uuid.UUID) -> bool:
        """One attempt at applying a refund; False if the booking changed under it."""
        booking_id = booking.id
        if booking.checked_in_at is not None:
            await self._used_ticket_refunded(booking, payment_id)
            return True
        now = utcnow()
        status = booking.effective_status(now)
        if status == EXPIRED:
            await self.expire(booking_id, now)
            return True
        if status == CANCELLED:
            # The owner cancelled a paid booking; this is the refund it asked for.
            await self.bookings.transition(
                booking_id,
                from_statuses=[CANCELLED],
                payment_statuses=[PAID, UNPAID],
                values={"payment_status": REFUNDED, "payment_id": payment_id, "updated_at": now},
            )
            return True
        # Confirmed (refund requested through payment), or still pending because the refund
        # overtook the payment's own completion event: either way the sale is undone.
        moved = await self.bookings.transition(
            booking_id,
            from_statuses=[status],
            checked_in=False,
            values={
                "status": CANCELLED,
                "payment_status": REFUNDED,
                "payment_id": payment_id,
                "cancelled_at": now,
                "updated_at": now,
            },
        )
        if moved:
            booking = await self._freed(booking_id, CANCELLED)
            self._record_cancelled(booking, refund_required=False, reason="refunded")
        return moved

    async def check_in(self, code: str) -> Booking:
        """Staff at the door: a confirmed, unused ticket is marked used."""
        booking = await self.bookings.by_code(code)
        if booking is None:
            raise BookingNotFound(f"No booking with code {code}")
        if booking.checked_in_at is not None:
            used = f"{booking.checked_in_at:%Y-%m-%d %H:%M} UTC"
            # The door's page says when, and shows the ticket again (its id to read it by).
            raise CheckInRefused(
                f"This ticket was already checked in at {used}",
                extra={
                    "booking_id": str(booking.id),
                    "checked_in_at": booking.checked_in_at.isoformat(),
                },
            )
        now = utcnow()
        status = booking.effective_status(now)
        if status != CONFIRMED:
            raise CheckInRefused(f"This booking is {status}, not confirmed")
        if booking.refund_approved_at is not None:
            raise CheckInRefused("This ticket's money is being given back; it cannot be used")
        moved = await self.bookings.transition(
            booking.id,
            from_statuses=[CONFIRMED],
            checked_in=False,
            refund_approved=False,
            values={"checked_in_at": now, "updated_at": now},
        )
        if not moved:
            raise CheckInRefused("This ticket was just checked in, or changed")
        return await self._reload(booking.id)

    async def approve_refund(
        self, user: Principal, booking_id: uuid.UUID, payment_id: uuid.UUID
    ) -> bool:
        """Let a customer's refund of `payment_id` through, or raise RefundRefused (409)
        (refund_policy.py, docs/refunds.md). The owner asks (payment, for them), or an admin;
        anyone else gets the 404.

        True when a ticket is at stake: the booking is then marked `refund_approved_at`, which
        check-in refuses. False when the payment pays for no ticket (nothing is marked).
        """
        booking = await self.bookings.with_seats(booking_id)
        if booking is None or (booking.user_id != user.user_id and not user.is_admin):
            raise BookingNotFound(f"Booking {booking_id} not found")
        # A racing check-in changes the row under us at most once.
        for _ in range(3):
            now = utcnow()
            if not paid_by(booking, payment_id, now):
                return False
            reason = ticket_is_final(booking, now)
            if reason is not None:
                log.info("refund_refused", booking_id=str(booking_id), reason=reason)
                raise RefundRefused(f"{reason}: a used ticket is not refunded")
            if booking.refund_approved_at is not None:
                return True  # asked again (a retry): already approved
            moved = await self.bookings.transition(
                booking_id,
                from_statuses=[booking.status],
                checked_in=False,
                refund_approved=False,
                values={"refund_approved_at": now, "updated_at": now},
            )
            if moved:
                log.info("refund_approved", booking_id=str(booking_id), payment_id=str(payment_id))
                return True
            booking = await self._reload(booking_id)
        raise RefundRefused("This booking changed while the refund was checked; try again")

    # -- sales (the admin's reports, sales.py) ----------------------------------------------

    async def showtime_sales(self, showtime_id: uuid.UUID) -> ShowtimeSalesOut:
        """Sold and held seats, occupancy and revenue by seat type of one showtime; 404 when
        the catalog knows no such showtime."""
        showtime = await self.movies.showtime(showtime_id)
        by_type = await self.bookings.paid_seats_by_type(showtime_id)
        held = await self.bookings.awaiting_payment_seats(showtime_id, utcnow())
        return sales.showtime_report(showtime_id, showtime.total_seats, by_type, held)

    async def daily_sales(self, first: dt.date, last: dt.date) -> list[DailySalesOut]:
        """One row per day from `first` to `last` (both included, days without sales as
        zeros), in the cinema's time zone."""
        days = sales.check_range(first, last)
        cinema = self.settings.theater_timezone
        start, end = sales.span(first, last, cinema)
        paid = await self.bookings.paid_between(start, end)
        return sales.daily_report(first, days, paid, cinema)
