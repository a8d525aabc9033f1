"""Seats of a showtime: holding and releasing them, what they are now, and the best free ones.

The seat board (`seatboard/`) is the fast path: one atomic script per hold, and one read
for a whole seat map. It only advises: the booking database decides a sale, and with the board's
store down holds degrade to "no hold information" while sold seats are read from the database.
The board is booking's to keep: sales reach it after their commit (`after_commit`), and it is
installed from this database whenever it is missing (first use, or after a Redis restart).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.booking import repository as repo
from boxoffice.booking.catalog import CatalogClient, Layout, SeatInfo, ShowtimeInfo
from boxoffice.booking.errors import (
    SeatsUnavailable,
    ShowtimeNotOnSale,
    ShowtimeStarted,
    TooManySeats,
    UnpaidSeatsCapReached,
)
from boxoffice.booking.models import Booking
from boxoffice.booking.schemas import HoldOut, ReleaseOut, SeatSelection, SeatState
from boxoffice.booking.seat_rules import best_seats_in
from boxoffice.core.app import ServiceContext
from boxoffice.core.auth import Principal
from boxoffice.core.db import after_commit, utcnow
from boxoffice.core.errors import ServiceUnavailable
from boxoffice.seatboard import (
    HoldResult,
    SeatBoard,
    SeatBoardUnavailable,
    Snapshot,
    now_ms,
    public_status,
    seat_board,
    sold_state,
)

log = structlog.get_logger("boxoffice.booking")


@dataclass
class Guards:
    """Switchable defences; only a test switches one off, to show the race it prevents."""

    holds: bool = True


def guards_of(ctx: ServiceContext) -> Guards:
    guards: Guards = ctx.state.setdefault("guards", Guards())
    return guards


def catalog_of(ctx: ServiceContext) -> CatalogClient:
    catalog: CatalogClient = ctx.state.setdefault("catalog", CatalogClient(ctx.runtime))
    return catalog


def label(seat: SeatInfo | repo.LiveSeat) -> str:
    return f"{seat.seat_row}{seat.seat_number}"


def taken_error(seats: Iterable[SeatInfo | repo.LiveSeat]) -> SeatsUnavailable:
    ordered = sorted(seats, key=lambda s: (s.seat_row, s.seat_number))
    return SeatsUnavailable(
        [label(s) for s in ordered],
        [str(s.seat_id if isinstance(s, repo.LiveSeat) else s.id) for s in ordered],
    )


def seat_strings(seats: Iterable[SeatInfo]) -> list[str]:
    return [str(s.id) for s in seats]


def to_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def board_states(sold: Iterable[repo.LiveSeat]) -> dict[str, str]:
    """Sold seats as the board keeps them: unpaid until a time, or for good."""
    return {
        str(s.seat_id): sold_state(to_ms(s.unpaid_until) if s.unpaid_until else None) for s in sold
    }


def caller_view(
    states: dict[str, str], user: Principal | None, *, keep_free: bool = False
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


class SeatService:
    """One request's view of a showtime's seats."""

    def __init__(self, session: AsyncSession, ctx: ServiceContext) -> None:
        self.session = session
        self.ctx = ctx
        self.settings = ctx.settings
        self.board: SeatBoard = seat_board(ctx.runtime)
        self.catalog = catalog_of(ctx)
        self.guards = guards_of(ctx)

    def check_count(self, count: int) -> None:
        cap = self.settings.max_seats_per_booking
        if count > cap:
            raise TooManySeats(f"At most {cap} seats per booking; {count} requested")

    async def selection(self, body: SeatSelection) -> tuple[ShowtimeInfo, Layout, list[SeatInfo]]:
        """The showtime, its theater's layout, and the chosen seats (all must be of it);
        ShowtimeStarted (409) once the show has started: its seats are sold no more."""
        self.check_count(len(body.seat_ids))
        showtime = await self.catalog.showtime(body.showtime_id)
        if showtime.start(self.settings.theater_timezone) <= utcnow():
            raise ShowtimeStarted()
        if not showtime.is_active:
            raise ShowtimeNotOnSale()
        layout = await self.catalog.layout(showtime.theater_id)
        return showtime, layout, layout.pick(body.seat_ids)

    async def sold(
        self, showtime_id: uuid.UUID, seat_ids: Collection[uuid.UUID] | None = None
    ) -> list[repo.LiveSeat]:
        """Seats in live bookings, from the database; one past its expiry no longer counts."""
        live = await repo.live_seats(self.session, showtime_id, utcnow(), seat_ids)
        return [s for s in live if not s.overdue]

    # The board

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
    ) -> tuple[int, dict[str, str]]:
        """(version, stored state of every seat that is not free); the database's sold seats
        at version 0 when the board is down (or not installed, and not to be)."""
        snapshot = await self.current(showtime_id, install=install)
        if snapshot is not None:
            return snapshot.version, dict(snapshot.states)
        return 0, {str(s.seat_id): "B" for s in await self.sold(showtime_id)}

    def sell_after_commit(self, booking: Booking) -> None:
        """Once the booking is committed, its seats are sold on the board until it runs out."""
        showtime, owner = str(booking.showtime_id), str(booking.user_id)
        seats, until = [str(s.seat_id) for s in booking.seats], to_ms(booking.expires_at)

        async def sell() -> None:
            await self.board.sell(showtime, seats, owner, unpaid_until_ms=until)

        after_commit(self.session, sell)

    # Holds

    async def release_quietly(
        self, showtime_id: uuid.UUID, seats: Collection[str], user: Principal
    ) -> None:
        if not seats:
            return
        try:
            await self.board.release(str(showtime_id), list(seats), str(user.user_id))
        except SeatBoardUnavailable as exc:
            log.warning("seat_board_unavailable", action="release", error=str(exc))

    async def claim(
        self,
        user: Principal,
        showtime: ShowtimeInfo,
        chosen: list[SeatInfo],
        *,
        limit: int = 0,
        cap: HoldCap | None = None,
    ) -> HoldResult | None:
        """Hold the seats for the caller, or raise naming the taken ones; None while the board
        is down (then only the database decides)."""
        try:
            result = await self.board.hold(
                str(showtime.id),
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
            sold = await self.sold(showtime.id)
            try:
                await self.board.install(str(showtime.id), board_states(sold))
            except SeatBoardUnavailable:
                pass
            mine = {s.id for s in chosen}
            taken = [s for s in sold if s.seat_id in mine]
            if taken:
                await self.release_quietly(showtime.id, result.acquired, user)
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

    async def hold_cap(self, user: Principal, showtime_id: uuid.UUID) -> HoldCap:
        """How many seats of the showtime the caller may hold: what a booking allows, less
        their unpaid seats under the fair-share caps (SPEC 4.10). Holds are advisory (the
        booking's own count decides, in its transaction), so this unlocked read is enough."""
        unpaid = await repo.unpaid_seats(self.session, user.user_id, showtime_id, utcnow())
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
        showtime, _, chosen = await self.selection(body)
        ttl = self.settings.seat_hold_ttl_seconds
        now = utcnow()
        cap = await self.hold_cap(user, showtime.id)
        if cap.limit <= 0:  # a board limit of 0 would mean "no cap"
            raise cap.refusal(0)
        result = await self.claim(user, showtime, chosen, limit=cap.limit, cap=cap)
        if result is None:
            sold = await self.sold(showtime.id, body.seat_ids)
            if sold:
                raise taken_error(sold)
        return HoldOut(
            showtime_id=showtime.id,
            seat_ids=body.seat_ids,
            held=result is not None,
            expires_at=now + dt.timedelta(seconds=ttl) if result is not None else None,
            hold_ttl_seconds=ttl,
        )

    async def release(self, user: Principal, body: SeatSelection) -> ReleaseOut:
        """Release the caller's own holds among the seats (others' holds stay)."""
        try:
            released = await self.board.release(
                str(body.showtime_id), [str(s) for s in body.seat_ids], str(user.user_id)
            )
        except SeatBoardUnavailable as exc:
            log.warning("seat_board_unavailable", action="release", error=str(exc))
            released = []
        return ReleaseOut(showtime_id=body.showtime_id, released=[uuid.UUID(s) for s in released])

    # Reads

    async def seat_status(
        self, showtime_id: uuid.UUID, user: Principal | None, since: int | None
    ) -> tuple[int, bool, dict[str, SeatState]]:
        """(version, full?, seats): every seat that is not free, or, after `since`, every seat
        that changed (freed ones as "available"). 404 for a showtime the catalog lacks: no
        board is installed for made-up ids (nor while the catalog cannot say)."""
        try:
            await self.catalog.showtime(showtime_id)
            known = True
        except ServiceUnavailable:
            known = False  # still answered, from what is here
        if since is not None:
            try:
                delta = await self.board.changes_since(str(showtime_id), since)
            except SeatBoardUnavailable as exc:
                log.warning("seat_board_unavailable", action="changes", error=str(exc))
            else:
                if delta.states is not None:
                    view = caller_view(dict(delta.states), user, keep_free=True)
                    return delta.version, False, view  # type: ignore[return-value]
        version, states = await self.states(showtime_id, install=known)
        return version, True, caller_view(states, user)  # type: ignore[return-value]

    async def unavailable_to(
        self, user: Principal | None, layout: Layout, showtime_id: uuid.UUID
    ) -> set[uuid.UUID]:
        """Seats of the layout the caller cannot take now: sold, or held by someone else."""
        _, states = await self.states(showtime_id)
        view = caller_view(states, user)
        seats = layout.by_key
        return {seats[s].id for s, status in view.items() if status != "mine" and s in seats}

    async def best_seats(
        self, showtime_id: uuid.UUID, count: int, user: Principal | None
    ) -> list[SeatInfo]:
        """The best `count` adjacent seats the caller could book now."""
        self.check_count(count)
        showtime = await self.catalog.showtime(showtime_id)
        layout = await self.catalog.layout(showtime.theater_id)
        taken = await self.unavailable_to(user, layout, showtime_id)
        return best_seats_in(layout.blocks, taken, count)
