"""`SeatBoardKeeper`: booking's side of the seat board (holds, sales, what seats are now).

The seat board (`seatboard/`) is the fast path: one atomic script per hold, and one read
for a whole seat map. It only advises: the booking database decides a sale, and with the board's
store down holds degrade to "no hold information" while sold seats are read from the database.
The board is booking's to keep: sales reach it after their commit (`*_after_commit`), and it is
installed from this database whenever it is missing (first use, or after a Redis restart).
The rules (how many seats, for whom, when) are BookingService's; this is the mechanism.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import structlog

from boxoffice.booking.errors import SeatsUnavailable, TooManySeats, UnpaidSeatsCapReached
from boxoffice.booking.models import Booking
from boxoffice.booking.movie_client import Layout, SeatInfo
from boxoffice.booking.repository import BookingRepository, LiveSeat
from boxoffice.booking.settings import BookingSettings
from boxoffice.core.app import ServiceContext
from boxoffice.core.auth import Principal
from boxoffice.core.db import after_commit, utcnow
from boxoffice.seatboard import (
    Delta,
    HoldResult,
    SeatBoard,
    SeatBoardUnavailable,
    Snapshot,
    now_ms,
    public_status,
    sold_state,
    unavailable,
)

log = structlog.get_logger("boxoffice.booking")


@dataclass
class Guards:
    """Switchable defences; only a test switches one off, to show the race it prevents."""

    holds: bool = True


def guards_of(ctx: ServiceContext) -> Guards:
    guards: Guards | None = ctx.state.get("guards")
    if guards is None:
        guards = ctx.state["guards"] = Guards()
    return guards


def label(seat: SeatInfo | LiveSeat) -> str:
    return f"{seat.seat_row}{seat.seat_number}"


def taken_error(seats: Iterable[SeatInfo | LiveSeat]) -> SeatsUnavailable:
    ordered = sorted(seats, key=lambda s: (s.seat_row, s.seat_number))
    return SeatsUnavailable(
        [label(s) for s in ordered],
        [str(s.seat_id if isinstance(s, LiveSeat) else s.id) for s in ordered],
    )


def seat_strings(seats: Iterable[SeatInfo]) -> list[str]:
    return [str(s.id) for s in seats]


def to_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def board_states(sold: Iterable[LiveSeat]) -> dict[str, str]:
    """Sold seats as the board keeps them: unpaid until a time, or for good."""
    return {
        str(s.seat_id): sold_state(to_ms(s.unpaid_until) if s.unpaid_until else None) for s in sold
    }


def caller_view(
    states: Mapping[str, str], user: Principal | None, *, keep_free: bool = False
) -> dict[str, str]:
    """Stored board states as the caller sees them; free seats only when `keep_free`."""
    me = str(user.user_id) if user else None
    at = now_ms()
    view = {seat: public_status(state, me, at) for seat, state in states.items()}
    return view if keep_free else {s: v for s, v in view.items() if v != "available"}


@dataclass(frozen=True)
class HoldCap:
    """The most seats of a showtime a customer may hold now, and which rule set it (None:
    the per-booking limit; else a fair-share cap of `cap` seats, `unpaid` of them used)."""

    limit: int
    scope: str | None
    cap: int = 0
    unpaid: int = 0

    def refusal(self, held: int) -> UnpaidSeatsCapReached:
        return UnpaidSeatsCapReached(self.scope or "per_showtime", self.cap, self.unpaid, held)


class SeatBoardKeeper:
    """The seat board as booking keeps it, in one session (the caller's transaction): holds
    taken and released, sales written after commit, and the board installed from the
    database when missing; a board that is down is logged and answered from the database."""

    def __init__(
        self,
        board: SeatBoard,
        bookings: BookingRepository,
        settings: BookingSettings,
        guards: Guards,
    ) -> None:
        self.board = board
        self.bookings = bookings
        self.settings = settings
        self.guards = guards

    async def sold(
        self, showtime_id: uuid.UUID, seat_ids: Collection[uuid.UUID] | None = None
    ) -> list[LiveSeat]:
        """Seats in live bookings, from the database; one past its expiry no longer counts."""
        live = await self.bookings.live_seats(showtime_id, utcnow(), seat_ids)
        return [s for s in live if not s.overdue]

    # Reading the board

    async def install(self, showtime_id: uuid.UUID) -> Snapshot | None:
        """Build the showtime's board from this database (and the live holds)."""
        sold = board_states(await self.sold(showtime_id))
        try:
            await self.board.install(str(showtime_id), sold)
            return await self.board.snapshot(str(showtime_id))
        except SeatBoardUnavailable as exc:
            log.warning("seat_board_unavailable", action="install", error=str(exc))
            return None

    async def current(self, showtime_id: uuid.UUID, *, install: bool = True) -> Snapshot | None:
        """The installed board (installing it first when needed and allowed); None while it
        is down or not installed."""
        try:
            snapshot = await self.board.snapshot(str(showtime_id))
        except SeatBoardUnavailable as exc:
            log.warning("seat_board_unavailable", action="read", error=str(exc))
            return None
        if snapshot is None and install:
            return await self.install(showtime_id)
        return snapshot

    async def states(
        self, showtime_id: uuid.UUID, *, install: bool = True
    ) -> tuple[int, Mapping[str, str]]:
        """(version, stored state of every seat that is not free); the database's sold seats
        at version 0 when the board is down (or not installed, and not to be). Read-only: a
        snapshot's states are shared by every reader of the process."""
        snapshot = await self.current(showtime_id, install=install)
        if snapshot is not None:
            return snapshot.version, snapshot.states
        return 0, {str(s.seat_id): "B" for s in await self.sold(showtime_id)}

    async def changes_since(self, showtime_id: uuid.UUID, version: int) -> Delta | None:
        """What changed after `version`; None while the board is down."""
        try:
            return await self.board.changes_since(str(showtime_id), version)
        except SeatBoardUnavailable as exc:
            log.warning("seat_board_unavailable", action="changes", error=str(exc))
            return None

    async def unavailable_to(
        self, user: Principal | None, layout: Layout, showtime_id: uuid.UUID
    ) -> set[uuid.UUID]:
        """Seats of the layout the caller cannot take now: sold, or held by someone else."""
        _, states = await self.states(showtime_id)
        seats = layout.by_key
        taken = unavailable(states, str(user.user_id) if user else None, now_ms())
        return {seats[s].id for s in taken if s in seats}

    # Holds

    async def claim(
        self,
        user: Principal,
        showtime_id: uuid.UUID,
        chosen: list[SeatInfo],
        *,
        limit: int = 0,
        cap: HoldCap | None = None,
    ) -> HoldResult | None:
        """Hold the seats for the caller, or raise naming the taken ones; None while the board
        is down (then only the database decides)."""
        try:
            result = await self.board.hold(
                str(showtime_id),
                seat_strings(chosen),
                str(user.user_id),
                self.settings.seat_hold_ttl_seconds,
                limit=limit,
            )
        except SeatBoardUnavailable as exc:
            log.warning("seat_board_unavailable", action="hold", error=str(exc))
            return None
        self.raise_unless_held(result, chosen, cap)
        if not result.knows_sales:
            # The board was not installed, so sold seats went unchecked: ask the database, and
            # install the board from that same answer for everyone after us.
            sold = await self.sold(showtime_id)
            try:
                await self.board.install(str(showtime_id), board_states(sold))
            except SeatBoardUnavailable:
                pass
            mine = {s.id for s in chosen}
            taken = [s for s in sold if s.seat_id in mine]
            if taken:
                await self.release_quietly(showtime_id, result.acquired, user)
                raise taken_error(taken)
        return result

    def raise_unless_held(
        self, result: HoldResult, chosen: list[SeatInfo], cap: HoldCap | None = None
    ) -> None:
        if result.taken:
            taken = set(result.taken)
            raise taken_error(s for s in chosen if str(s.id) in taken)
        if result.over_limit:
            if cap is not None and cap.scope is not None:
                raise cap.refusal(result.owner_count)
            cap_seats = self.settings.max_seats_per_booking
            raise TooManySeats(
                f"At most {cap_seats} seats of a showtime may be held at once; you hold "
                f"{result.owner_count}. Release some or book them first."
            )

    async def release(
        self, user: Principal, showtime_id: uuid.UUID, seat_ids: Iterable[uuid.UUID]
    ) -> list[uuid.UUID]:
        """Release the caller's own holds among the seats (others' holds stay); the seats
        released (none while the board is down)."""
        try:
            released = await self.board.release(
                str(showtime_id), [str(s) for s in seat_ids], str(user.user_id)
            )
        except SeatBoardUnavailable as exc:
            log.warning("seat_board_unavailable", action="release", error=str(exc))
            released = []
        return [uuid.UUID(s) for s in released]

    async def release_quietly(
        self, showtime_id: uuid.UUID, seats: Collection[str], user: Principal
    ) -> None:
        if not seats:
            return
        try:
            await self.board.release(str(showtime_id), list(seats), str(user.user_id))
        except SeatBoardUnavailable as exc:
            log.warning("seat_board_unavailable", action="release", error=str(exc))

    # Sales, once the transaction that made them commits

    def sell_after_commit(self, booking: Booking) -> None:
        """Once the booking is committed, its seats are sold on the board until it runs out."""
        showtime, owner = str(booking.showtime_id), str(booking.user_id)
        seats, until = [str(s.seat_id) for s in booking.seats], to_ms(booking.expires_at)

        async def sell() -> None:
            await self.board.sell(showtime, seats, owner, unpaid_until_ms=until)

        after_commit(self.bookings.session, sell)

    def confirm_after_commit(self, booking: Booking) -> None:
        """Once the payment's confirmation commits, the booking's seats are sold for good."""
        showtime, seats = str(booking.showtime_id), [str(s.seat_id) for s in booking.seats]

        async def confirm() -> None:
            await self.board.confirm(showtime, seats)

        after_commit(self.bookings.session, confirm)

    def free_after_commit(self, booking: Booking) -> None:
        """Once the transaction that ended the booking commits, its seats are free on the
        board."""
        showtime, seats = str(booking.showtime_id), [str(s.seat_id) for s in booking.seats]

        async def free() -> None:
            await self.board.free(showtime, seats)

        after_commit(self.bookings.session, free)
