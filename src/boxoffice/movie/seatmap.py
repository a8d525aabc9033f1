"""The live seat map of a showtime, put together from bytes (SPEC 3's `available-seats`).

It is the most read answer of a rush, so it is split in two:
* the theater's layout, immutable once it has seats: kept per process as pre-serialized JSON,
  one fragment per seat with a slot for its status (also served as `GET /seats/{id}`, with an
  ETag and a long Cache-Control);
* the showtime's seat states, owned by the booking service, read from the seat board it keeps
  (`seatboard/`): one round trip to check the version, a second only when it changed.
The statuses every visitor sees are worked out once per version and shared; a caller's own
holds ("mine") are a small overlay. No model object per seat, and no call to another service
while the board is installed; when it is not (or its store is down), booking's `seat-status`
answers instead (and installs it). Each process follows the board's feed of the showtimes it
serves (`Watch`), so while nothing changes a seat map costs no round trip at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from boxoffice.core.app import ServiceContext
from boxoffice.core.auth import Principal
from boxoffice.core.db import Database
from boxoffice.core.errors import NotAuthenticated
from boxoffice.core.observability import CACHE_HITS, CACHE_MISSES
from boxoffice.movie.errors import SeatStatusUnavailable, ShowtimeNotFound, TheaterNotFound
from boxoffice.movie.repository import ShowtimeRepository, TheaterRepository
from boxoffice.seatboard import (
    SeatBoard,
    SeatBoardUnavailable,
    now_ms,
    parse_hold,
    public_status,
    seat_board,
)

log = structlog.get_logger("boxoffice.movie.seatmap")

MAX_LAYOUTS = 512
MAX_SHOWTIMES = 4096
MAX_WATCHES = 256
WATCH_IDLE_SECONDS = 600.0
# A live feed is trusted this long before the board's version is asked again.
CONFIRM_SECONDS = 0.25
_STATUS = {s: s.encode() for s in ("available", "held", "booked", "mine")}
_FOREVER = 2**62


@dataclass(frozen=True)
class Layout:
    """A theater's seats as JSON fragments: `template % statuses` is the seats array."""

    theater_id: uuid.UUID
    index: dict[str, int]
    template: bytes
    body: bytes  # the layout itself (`GET /seats/{theater_id}`)
    etag: str

    @classmethod
    def of(cls, theater_id: uuid.UUID, seats: list[dict[str, Any]]) -> Layout:
        fragments = []
        for seat in seats:
            text = json.dumps(seat, separators=(",", ":"))
            # The seat's JSON with a status slot before the closing brace.
            fragments.append(text[:-1].replace("%", "%%") + ',"status":"%s"}')
        template = ("[" + ",".join(fragments) + "]").encode()
        body = json.dumps(seats, separators=(",", ":")).encode()
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        return cls(theater_id, {s["id"]: i for i, s in enumerate(seats)}, template, body, etag)

    def render(self, statuses: list[bytes]) -> bytes:
        return self.template % tuple(statuses)


@dataclass
class SharedStatuses:
    """What every visitor sees at one version, and whose holds are where."""

    version: int
    statuses: list[bytes]
    available: int
    holds_by_owner: dict[str, list[int]]
    valid_until_ms: int  # the first hold or unpaid booking to run out changes the picture
    confirmed_at: float = 0.0  # when the board last said this is still its version
    body: bytes | None = None  # the answer for everyone without a hold, made once


class Watch:
    """Follows one showtime's board feed: `changed` says the board moved on since we looked.

    So a seat map is served without asking Redis anything while nothing changed. The feed only
    advises: while it is not live (starting, or its connection broken) every read asks, and
    even a live one is confirmed against the board's version every `CONFIRM_SECONDS`.
    """

    def __init__(self, board: SeatBoard, showtime_id: str) -> None:
        self.changed = True
        self.live = False
        self.used_at = time.monotonic()
        self._task = asyncio.create_task(self._follow(board, showtime_id), name="seat-map-watch")

    async def _follow(self, board: SeatBoard, showtime_id: str) -> None:
        try:
            async with board.listen(showtime_id) as feed:
                self.live, self.changed = True, True  # what happened before is unknown
                async for _ in feed:
                    self.changed = True
        except Exception as exc:  # the next read starts a new watch
            log.info("seat_map_watch_ended", showtime_id=showtime_id, error=repr(exc))
        finally:
            self.live, self.changed = False, True

    @property
    def done(self) -> bool:
        return self._task.done()

    def stop(self) -> None:
        self._task.cancel()


@dataclass(frozen=True)
class ShowtimeSeats:
    theater_id: uuid.UUID
    total_seats: int


class _Bounded(OrderedDict[Any, Any]):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


class SeatMaps:
    """One process's layouts and shared statuses (kept in the movie service's context)."""

    def __init__(self) -> None:
        self.layouts: _Bounded = _Bounded(MAX_LAYOUTS)
        self.showtimes: _Bounded = _Bounded(MAX_SHOWTIMES)
        self.shared: _Bounded = _Bounded(MAX_SHOWTIMES)
        self.watches: dict[uuid.UUID, Watch] = {}

    def watch(self, board: SeatBoard, showtime_id: uuid.UUID) -> Watch:
        watch = self.watches.get(showtime_id)
        now = time.monotonic()
        if watch is None or watch.done:
            if len(self.watches) >= MAX_WATCHES:
                self._forget_idle(now)
            watch = self.watches[showtime_id] = Watch(board, str(showtime_id))
        watch.used_at = now
        return watch

    def _forget_idle(self, now: float) -> None:
        for showtime_id, watch in list(self.watches.items()):
            if watch.done or now - watch.used_at > WATCH_IDLE_SECONDS:
                watch.stop()
                del self.watches[showtime_id]

    def close(self) -> None:
        for watch in self.watches.values():
            watch.stop()
        self.watches.clear()

    async def layout(self, db: Database, theater_id: uuid.UUID) -> Layout:
        layout: Layout | None = self.layouts.get(theater_id)
        (CACHE_HITS if layout is not None else CACHE_MISSES).labels("movie", "seats").inc()
        if layout is None:
            async with db.sessionmaker() as session:  # a session only on a miss
                theaters = TheaterRepository(session)
                if await theaters.get(theater_id) is None:
                    raise TheaterNotFound()
                seats = await theaters.seats(theater_id)
            layout = Layout.of(theater_id, [seat_json(s) for s in seats])
            self.layouts.put(theater_id, layout)
        return layout

    async def showtime(self, db: Database, showtime_id: uuid.UUID) -> ShowtimeSeats:
        known: ShowtimeSeats | None = self.showtimes.get(showtime_id)
        if known is None:
            async with db.sessionmaker() as session:
                row = await ShowtimeRepository(session).row(showtime_id)
            if row is None:
                raise ShowtimeNotFound()
            # A showtime's theater never changes; what else may change is not needed here.
            known = ShowtimeSeats(row.showtime.theater_id, row.showtime.total_seats)
            self.showtimes.put(showtime_id, known)
        return known


def seat_json(seat: Any) -> dict[str, Any]:
    """A seat as the API shows it (the fields of `SeatOut`, in its order)."""
    return {
        "id": str(seat.id),
        "theater_id": str(seat.theater_id),
        "seat_row": seat.seat_row,
        "seat_number": seat.seat_number,
        "seat_type": seat.seat_type,
        "aisle_after": seat.aisle_after,
    }


def maps_of(ctx: ServiceContext) -> SeatMaps:
    maps: SeatMaps = ctx.state.setdefault("seat_maps", SeatMaps())
    return maps


def share(layout: Layout, version: int, states: Mapping[str, str]) -> SharedStatuses:
    """Statuses for everyone from the board's stored states."""
    at = now_ms()
    statuses = [_STATUS["available"]] * len(layout.index)
    available = len(statuses)
    holds: dict[str, list[int]] = {}
    valid_until = _FOREVER
    for seat, state in states.items():
        i = layout.index.get(seat)
        if i is None:
            continue
        status = public_status(state, None, at)
        if status == "available":
            continue
        statuses[i] = _STATUS[status]
        available -= 1
        hold = parse_hold(state)
        if hold is not None:
            holds.setdefault(hold[1], []).append(i)
            valid_until = min(valid_until, hold[0])
        elif state.startswith("P"):
            valid_until = min(valid_until, int(state[1:]))
    return SharedStatuses(version, statuses, available, holds, valid_until)


async def available_seats(
    ctx: ServiceContext, showtime_id: uuid.UUID, user: Principal | None
) -> bytes:
    """Every seat of the showtime's theater with its status, as the JSON body."""
    maps = maps_of(ctx)
    showtime = await maps.showtime(ctx.db, showtime_id)
    layout = await maps.layout(ctx.db, showtime.theater_id)
    shared = await _shared(ctx, maps, layout, showtime_id)
    if shared is None:
        statuses, available = await _from_booking(ctx, layout, showtime_id, user)
        return _body(showtime_id, showtime, layout, statuses, available)
    mine = shared.holds_by_owner.get(str(user.user_id)) if user else None
    if not mine:
        if shared.body is None:
            shared.body = _body(showtime_id, showtime, layout, shared.statuses, shared.available)
        return shared.body
    statuses = list(shared.statuses)
    for i in mine:
        statuses[i] = _STATUS["mine"]
    return _body(showtime_id, showtime, layout, statuses, shared.available)


def _body(
    showtime_id: uuid.UUID,
    showtime: ShowtimeSeats,
    layout: Layout,
    statuses: list[bytes],
    available: int,
) -> bytes:
    head = (
        f'{{"showtime_id":"{showtime_id}","total_seats":{showtime.total_seats},'
        f'"available_count":{available},"seats":'
    ).encode()
    return b"".join((head, layout.render(statuses), b"}"))


async def _shared(
    ctx: ServiceContext, maps: SeatMaps, layout: Layout, showtime_id: uuid.UUID
) -> SharedStatuses | None:
    """The statuses everyone sees now, recomputed only when the board moved on (or a hold or
    unpaid booking ran out); None when the board cannot tell."""
    board = seat_board(ctx.runtime)
    key = str(showtime_id)
    watch = maps.watch(board, showtime_id)
    cached: SharedStatuses | None = maps.shared.get(showtime_id)
    now = time.monotonic()
    try:
        if cached is not None and cached.valid_until_ms > now_ms() and not watch.changed:
            if watch.live and now - cached.confirmed_at < CONFIRM_SECONDS:
                return cached
            if await board.version(key) == cached.version:
                cached.confirmed_at = now
                return cached
        watch.changed = False  # before the read: a change during it counts again
        snapshot = await board.snapshot(key)
    except SeatBoardUnavailable as exc:
        log.warning("seat_board_unavailable", error=str(exc))
        return None
    if snapshot is None:
        return None
    shared = share(layout, snapshot.version, snapshot.states)
    shared.confirmed_at = now
    maps.shared.put(showtime_id, shared)
    return shared


async def _from_booking(
    ctx: ServiceContext, layout: Layout, showtime_id: uuid.UUID, user: Principal | None
) -> tuple[list[bytes], int]:
    """Statuses from booking's `seat-status` (which also installs the board)."""
    headers = {"Authorization": f"Bearer {user.token}"} if user else {}
    booking = ctx.runtime.client("movie", "booking")
    response = await booking.get(f"/showtimes/{showtime_id}/seat-status", headers=headers)
    if response.status_code == 401:
        raise NotAuthenticated(_detail(response) or "Token not accepted by the booking service")
    if response.status_code != 200:
        raise SeatStatusUnavailable(
            f"Booking service answered {response.status_code} for the seat status"
        )
    try:
        states = {str(k): str(v) for k, v in response.json()["seats"].items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SeatStatusUnavailable("Booking service sent an unreadable seat status")
    statuses = [_STATUS["available"]] * len(layout.index)
    available = len(statuses)
    for seat, status in states.items():
        i = layout.index.get(seat)
        if i is not None and status != "available":
            # A status this version does not know still means "not free".
            statuses[i] = _STATUS.get(status, _STATUS["held"])
            available -= 1
    return statuses, available


def _detail(response: Any) -> str | None:
    try:
        return str(response.json()["detail"])
    except (ValueError, KeyError, TypeError):
        return None
