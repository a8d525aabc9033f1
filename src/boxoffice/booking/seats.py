"""Seats of a showtime: holding and releasing them, what they are now, and the best free ones.

Holds are the fast path (per seat, atomic, all-or-nothing, owned, expiring); they only advise.
With the hold store down, holds degrade to "no hold information" and the booking database alone
decides a sale.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.booking import repository as repo
from boxoffice.booking.catalog import MovieCatalog, SeatInfo, ShowtimeInfo
from boxoffice.booking.errors import SeatsNotInTheater, SeatsUnavailable, TooManySeats
from boxoffice.booking.schemas import HoldOut, ReleaseOut, SeatSelection, SeatState
from boxoffice.booking.seat_rules import best_seats
from boxoffice.core.app import ServiceContext
from boxoffice.core.auth import Principal
from boxoffice.core.db import utcnow
from boxoffice.core.holds import HoldResult, HoldsUnavailable

log = structlog.get_logger("boxoffice.booking")


@dataclass
class Guards:
    """Switchable defences; only a test switches one off, to show the race it prevents."""

    holds: bool = True


def guards_of(ctx: ServiceContext) -> Guards:
    guards: Guards = ctx.state.setdefault("guards", Guards())
    return guards


def catalog_of(ctx: ServiceContext) -> MovieCatalog:
    catalog: MovieCatalog = ctx.state.setdefault("catalog", MovieCatalog(ctx.runtime))
    return catalog


def label(seat: SeatInfo | repo.LiveSeat) -> str:
    return f"{seat.seat_row}{seat.seat_number}"


def taken_error(seats: Iterable[SeatInfo | repo.LiveSeat]) -> SeatsUnavailable:
    ordered = sorted(seats, key=lambda s: (s.seat_row, s.seat_number))
    return SeatsUnavailable(
        [label(s) for s in ordered],
        [str(s.seat_id if isinstance(s, repo.LiveSeat) else s.id) for s in ordered],
    )


class SeatService:
    """One request's view of a showtime's seats."""

    def __init__(self, session: AsyncSession, ctx: ServiceContext) -> None:
        self.session = session
        self.ctx = ctx
        self.settings = ctx.settings
        self.holds = ctx.runtime.holds
        self.catalog = catalog_of(ctx)
        self.guards = guards_of(ctx)

    def _check_count(self, count: int) -> None:
        cap = self.settings.max_seats_per_booking
        if count > cap:
            raise TooManySeats(f"At most {cap} seats per booking; {count} requested")

    async def _selection(
        self, body: SeatSelection
    ) -> tuple[ShowtimeInfo, list[SeatInfo], list[SeatInfo]]:
        """The showtime, its theater's seats, and the chosen ones (all must be of it)."""
        self._check_count(len(body.seat_ids))
        showtime = await self.catalog.showtime(body.showtime_id)
        layout = await self.catalog.seats(showtime.theater_id)
        by_id = {s.id: s for s in layout}
        unknown = [str(i) for i in body.seat_ids if i not in by_id]
        if unknown:
            raise SeatsNotInTheater(unknown)
        return showtime, layout, [by_id[i] for i in body.seat_ids]

    async def _holders(self, showtime_id: uuid.UUID) -> dict[str, str]:
        try:
            return await self.holds.holders(str(showtime_id))
        except HoldsUnavailable as exc:
            log.warning("holds_unavailable", action="read", error=str(exc))
            return {}

    async def _sold(
        self, showtime_id: uuid.UUID, now: dt.datetime, seat_ids: Collection[uuid.UUID] | None
    ) -> list[repo.LiveSeat]:
        """Live booked seats; a pending booking past its expiry no longer counts."""
        return [
            s
            for s in await repo.live_seats(self.session, showtime_id, now, seat_ids)
            if not s.overdue
        ]

    async def _unavailable_to(
        self, user: Principal | None, showtime_id: uuid.UUID, now: dt.datetime
    ) -> set[uuid.UUID]:
        """Seats the caller cannot take now: sold, or held by someone else."""
        taken = {s.seat_id for s in await self._sold(showtime_id, now, None)}
        me = str(user.user_id) if user else None
        holders = await self._holders(showtime_id)
        return taken | {uuid.UUID(seat) for seat, owner in holders.items() if owner != me}

    async def _release_quietly(
        self, showtime_id: uuid.UUID, seats: Collection[str], user: Principal
    ) -> None:
        if not seats:
            return
        try:
            await self.holds.release(str(showtime_id), list(seats), str(user.user_id))
        except HoldsUnavailable as exc:
            log.warning("holds_unavailable", action="release", error=str(exc))

    async def hold(self, user: Principal, body: SeatSelection) -> HoldOut:
        """Hold every requested seat for the caller, or none (409 naming the taken ones)."""
        showtime, _, chosen = await self._selection(body)
        now = utcnow()
        sold = await self._sold(showtime.id, now, body.seat_ids)
        if sold:
            raise taken_error(sold)
        ttl = self.settings.seat_hold_ttl_seconds
        try:
            result = await self.holds.hold(
                str(showtime.id),
                [str(s.id) for s in chosen],
                str(user.user_id),
                ttl,
                limit=self.settings.max_seats_per_booking,
            )
        except HoldsUnavailable as exc:
            log.warning("holds_unavailable", action="hold", error=str(exc))
            return HoldOut(
                showtime_id=showtime.id,
                seat_ids=body.seat_ids,
                held=False,
                expires_at=None,
                hold_ttl_seconds=ttl,
            )
        self._raise_unless_held(result, chosen)
        return HoldOut(
            showtime_id=showtime.id,
            seat_ids=body.seat_ids,
            held=True,
            expires_at=now + dt.timedelta(seconds=ttl),
            hold_ttl_seconds=ttl,
        )

    def _raise_unless_held(self, result: HoldResult, chosen: list[SeatInfo]) -> None:
        if result.taken:
            taken = set(result.taken)
            raise taken_error(s for s in chosen if str(s.id) in taken)
        if result.over_limit:
            cap = self.settings.max_seats_per_booking
            raise TooManySeats(
                f"At most {cap} seats of a showtime may be held at once; you hold "
                f"{result.owner_count}. Release some or book them first."
            )

    async def release(self, user: Principal, body: SeatSelection) -> ReleaseOut:
        """Release the caller's own holds among the seats (others' holds stay)."""
        try:
            released = await self.holds.release(
                str(body.showtime_id), [str(s) for s in body.seat_ids], str(user.user_id)
            )
        except HoldsUnavailable as exc:
            log.warning("holds_unavailable", action="release", error=str(exc))
            released = []
        return ReleaseOut(showtime_id=body.showtime_id, released=[uuid.UUID(s) for s in released])

    async def seat_status(
        self, showtime_id: uuid.UUID, user: Principal | None
    ) -> dict[str, SeatState]:
        """Seats that are not free: booked, held by someone else, or held by the caller."""
        me = str(user.user_id) if user else None
        states: dict[str, SeatState] = {
            seat: ("mine" if owner == me else "held")
            for seat, owner in (await self._holders(showtime_id)).items()
        }
        for seat in await self._sold(showtime_id, utcnow(), None):
            states[str(seat.seat_id)] = "booked"
        return states

    async def best_seats(
        self, showtime_id: uuid.UUID, count: int, user: Principal | None
    ) -> list[SeatInfo]:
        """The best `count` adjacent seats the caller could book now."""
        self._check_count(count)
        showtime = await self.catalog.showtime(showtime_id)
        layout = await self.catalog.seats(showtime.theater_id)
        taken = await self._unavailable_to(user, showtime_id, utcnow())
        return best_seats(layout, taken, count)
