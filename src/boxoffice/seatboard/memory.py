"""The seat board in this process (embedded mode). One process, one event loop: each method
runs without an await between its reads and writes, so each is atomic as the Redis scripts are."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from boxoffice.seatboard.feed import FeedHub, Subscription
from boxoffice.seatboard.types import (
    BOOKED,
    FREE,
    LOG_LENGTH,
    Change,
    Delta,
    HoldResult,
    Snapshot,
    hold_state,
    is_sold,
    now_ms,
    parse_hold,
    sold_state,
)

TOMBSTONE = "F"


@dataclass
class _Showtime:
    # seat -> (owner, expires ms): the holds' truth
    holds: dict[str, tuple[str, int]] = field(default_factory=dict)
    # seat -> state: the board (with tombstones until installed)
    board: dict[str, str] = field(default_factory=dict)
    ready: bool = False
    version: int = 0
    log: list[Change] = field(default_factory=list)
    # seats whose hold ran out since the board last looked
    lapsed: set[str] = field(default_factory=set)


class MemorySeatBoard:
    """Holds, sales and the change feed of every showtime, in dicts."""

    def __init__(self) -> None:
        self._showtimes: dict[str, _Showtime] = {}
        self._hub = FeedHub()

    def _show(self, showtime_id: str) -> _Showtime:
        show = self._showtimes.get(showtime_id)
        if show is None:
            show = self._showtimes[showtime_id] = _Showtime()
        return show

    @staticmethod
    def _live_holds(show: _Showtime, now: int) -> dict[str, tuple[str, int]]:
        for seat in [s for s, (_, expires) in show.holds.items() if expires <= now]:
            del show.holds[seat]
            show.lapsed.add(seat)
        return show.holds

    @staticmethod
    def _put(show: _Showtime, seat: str, state: str) -> None:
        if state != FREE:
            show.board[seat] = state
        elif show.ready:
            show.board.pop(seat, None)
        else:
            show.board[seat] = TOMBSTONE

    def _record(self, showtime_id: str, show: _Showtime, states: dict[str, str]) -> None:
        if not states:
            return
        if show.version == 0:
            show.version = now_ms() * 1000
        show.version += 1
        change = Change(show.version, dict(states))
        show.log.append(change)
        del show.log[:-LOG_LENGTH]
        self._hub.publish(showtime_id, change)

    def _lapsed(self, show: _Showtime, now: int) -> dict[str, str]:
        """Board entries of holds that ran out, taken off the board."""
        self._live_holds(show, now)
        changes: dict[str, str] = {}
        for seat in show.lapsed:
            hold = parse_hold(show.board.get(seat, ""))
            if hold is not None and hold[0] <= now:
                self._put(show, seat, FREE)
                changes[seat] = FREE
        show.lapsed.clear()
        return changes

    async def hold(
        self,
        showtime_id: str,
        seat_ids: Sequence[str],
        owner: str,
        ttl_seconds: int,
        *,
        limit: int = 0,
    ) -> HoldResult:
        seat_ids = list(dict.fromkeys(seat_ids))
        show = self._show(showtime_id)
        now = now_ms()
        holds = self._live_holds(show, now)
        taken = tuple(
            s
            for s in seat_ids
            if (s in holds and holds[s][0] != owner)
            or (show.ready and is_sold(show.board.get(s, ""), now))
        )
        if taken:
            return HoldResult(ok=False, taken=taken, knows_sales=show.ready)
        mine = {s for s, (o, _) in holds.items() if o == owner}
        acquired = tuple(s for s in seat_ids if s not in mine)
        if limit > 0 and len(mine) + len(acquired) > limit:
            return HoldResult(ok=False, over_limit=True, owner_count=len(mine))
        changes = self._lapsed(show, now)
        expires = now + int(ttl_seconds * 1000)
        state = hold_state(owner, expires)
        for seat in seat_ids:
            holds[seat] = (owner, expires)
            self._put(show, seat, state)
            changes[seat] = state
        self._record(showtime_id, show, changes)
        return HoldResult(
            ok=True,
            owner_count=len(mine) + len(acquired),
            acquired=acquired,
            knows_sales=show.ready,
        )

    async def release(self, showtime_id: str, seat_ids: Sequence[str], owner: str) -> list[str]:
        show = self._show(showtime_id)
        holds = self._live_holds(show, now_ms())
        released = [s for s in dict.fromkeys(seat_ids) if s in holds and holds[s][0] == owner]
        changes: dict[str, str] = {}
        for seat in released:
            del holds[seat]
            hold = parse_hold(show.board.get(seat, ""))
            unknown = not show.ready and seat not in show.board
            if (hold is not None and hold[1] == owner) or unknown:
                self._put(show, seat, FREE)
                changes[seat] = FREE
        self._record(showtime_id, show, changes)
        return released

    async def sell(
        self,
        showtime_id: str,
        seat_ids: Sequence[str],
        owner: str,
        *,
        unpaid_until_ms: int | None = None,
    ) -> None:
        show = self._show(showtime_id)
        holds = self._live_holds(show, now_ms())
        state = sold_state(unpaid_until_ms)
        changes: dict[str, str] = {}
        for seat in dict.fromkeys(seat_ids):
            if seat in holds and holds[seat][0] == owner:
                del holds[seat]
            self._put(show, seat, state)
            changes[seat] = state
        self._record(showtime_id, show, changes)

    async def confirm(self, showtime_id: str, seat_ids: Sequence[str]) -> None:
        show = self._show(showtime_id)
        changes: dict[str, str] = {}
        for seat in dict.fromkeys(seat_ids):
            if show.board.get(seat, "").startswith("P") or not show.ready:
                self._put(show, seat, BOOKED)
                changes[seat] = BOOKED
        self._record(showtime_id, show, changes)

    async def free(self, showtime_id: str, seat_ids: Sequence[str]) -> None:
        show = self._show(showtime_id)
        changes: dict[str, str] = {}
        for seat in dict.fromkeys(seat_ids):
            state = show.board.get(seat)
            sold = state is not None and (state == BOOKED or state.startswith("P"))
            if sold or (not show.ready and state is None):
                self._put(show, seat, FREE)
                changes[seat] = FREE
        self._record(showtime_id, show, changes)

    async def holders(self, showtime_id: str) -> dict[str, str]:
        show = self._showtimes.get(showtime_id)
        if show is None:
            return {}
        return {seat: owner for seat, (owner, _) in self._live_holds(show, now_ms()).items()}

    async def snapshot(self, showtime_id: str) -> Snapshot | None:
        show = self._showtimes.get(showtime_id)
        if show is None or not show.ready:
            return None
        return Snapshot(show.version, dict(show.board))

    async def version(self, showtime_id: str) -> int | None:
        show = self._showtimes.get(showtime_id)
        return show.version if show is not None and show.ready else None

    async def install(self, showtime_id: str, sold: Mapping[str, str]) -> int:
        show = self._show(showtime_id)
        if show.ready:
            return show.version
        # Entries already on the board were written after the database was read: they win.
        for seat, state in sold.items():
            show.board.setdefault(seat, state)
        for seat, (owner, expires) in self._live_holds(show, now_ms()).items():
            show.board.setdefault(seat, hold_state(owner, expires))
        show.board = {s: state for s, state in show.board.items() if state != TOMBSTONE}
        show.ready = True
        show.version = max(show.version + 1, now_ms() * 1000)
        reset = Change(show.version, {}, reset=True)
        show.log = [reset]
        self._hub.publish(showtime_id, reset)
        return show.version

    async def changes_since(self, showtime_id: str, version: int) -> Delta:
        show = self._showtimes.get(showtime_id)
        if show is None or not show.ready:
            return Delta(show.version if show else 0, None)
        if version == show.version:
            return Delta(show.version, {})
        if version > show.version or not show.log or show.log[0].version > version + 1:
            return Delta(show.version, None)
        merged: dict[str, str] = {}
        for change in show.log:
            if change.version > version:
                if change.reset:
                    return Delta(show.version, None)
                merged.update(change.states)
        return Delta(show.version, merged)

    async def prune(self, showtime_id: str) -> None:
        show = self._showtimes.get(showtime_id)
        if show is not None:
            self._record(showtime_id, show, self._lapsed(show, now_ms()))

    def listen(self, showtime_id: str) -> AbstractAsyncContextManager[Subscription]:
        return self._hub.listen(showtime_id)

    def forget(self) -> None:
        """Lose everything, as a restarted process does (tests)."""
        self._showtimes.clear()
