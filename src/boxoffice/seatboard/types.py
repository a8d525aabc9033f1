"""The seat board's contract: its results, its states, and the protocol both adapters keep."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from boxoffice.seatboard.feed import Subscription

BOOKED = "B"
FREE = ""
# Changes of one version are kept this many versions back for `changes_since`.
LOG_LENGTH = 500
# A ready board is rebuilt from the database at least this often (a backstop for a board
# write lost between a commit and the write, e.g. a process killed at that moment).
BOARD_TTL_SECONDS = 900

PublicStatus = Literal["available", "held", "booked", "mine"]


class SeatBoardUnavailable(Exception):
    """The board's store cannot be reached; callers fall back to the database alone."""


def now_ms() -> int:
    return int(time.time() * 1000)


def hold_state(owner: str, expires_ms: int) -> str:
    return f"H{expires_ms}:{owner}"


def parse_hold(state: str) -> tuple[int, str] | None:
    """(expires ms, owner) of a hold state; None for any other state."""
    if not state.startswith("H"):
        return None
    expires, _, owner = state[1:].partition(":")
    return int(expires), owner


def sold_state(unpaid_until_ms: int | None = None) -> str:
    """The state of a sold seat: for good, or in a booking unpaid until that time."""
    return BOOKED if unpaid_until_ms is None else f"P{unpaid_until_ms}"


def unavailable(states: Mapping[str, str], caller: str | None, at_ms: int) -> list[str]:
    """The seats `public_status` shows the caller as "booked" or "held", in one pass with no
    call per seat: booking reads a whole 2,000-seat board for every best-seats hold, and asking
    `public_status` seat by seat was most of that (py-spy, issue 9)."""
    taken: list[str] = []
    add = taken.append
    for seat, state in states.items():
        kind = state[:1]
        if state == BOOKED:
            add(seat)
        elif kind == "P":
            if int(state[1:]) > at_ms:
                add(seat)
        elif kind == "H":
            expires, _, owner = state[1:].partition(":")
            if int(expires) > at_ms and owner != caller:
                add(seat)
    return taken


def is_sold(state: str, at_ms: int) -> bool:
    return state == BOOKED or (state.startswith("P") and int(state[1:]) > at_ms)


def public_status(state: str, caller: str | None, at_ms: int) -> PublicStatus:
    """What a seat map shows a caller for a stored state (owners are never shown); an unpaid
    booking or a hold past its time shows its seats free, sweeper or not (SPEC 4.4)."""
    if state == BOOKED:
        return "booked"
    if state.startswith("P"):
        return "booked" if int(state[1:]) > at_ms else "available"
    hold = parse_hold(state)
    if hold is None or hold[0] <= at_ms:
        return "available"
    return "mine" if caller is not None and hold[1] == caller else "held"


@dataclass(frozen=True, slots=True)
class HoldResult:
    """What one hold request did.

    `ok`: every requested seat is now held by the owner. Otherwise nothing changed and either
    `taken` names the seats another owner holds (or that are sold, when `knows_sales`), or
    `over_limit` says the owner would pass the per-showtime cap (then `owner_count` is how
    many the owner holds already). `acquired` lists the seats that were not the owner's before
    (for undoing on failure). `knows_sales` is False while the board is not installed: sold
    seats were then not checked, and the caller must ask the database.
    """

    ok: bool
    taken: tuple[str, ...] = ()
    over_limit: bool = False
    owner_count: int = 0
    acquired: tuple[str, ...] = field(default_factory=tuple)
    knows_sales: bool = True


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every non-free seat of a showtime at `version` (raw states; holds may have lapsed)."""

    version: int
    states: Mapping[str, str]


# Compared by identity (eq=False): one change object is shared by every listener of a process,
# so what is rendered from it can be remembered per change.
@dataclass(frozen=True, slots=True, eq=False)
class Change:
    """One change of the board: the new raw state of each seat it touched ("" is free).

    `reset` means the board was rebuilt (or the feed was interrupted): a listener must start
    again from a snapshot.
    """

    version: int
    states: Mapping[str, str]
    reset: bool = False


@dataclass(frozen=True, slots=True)
class Delta:
    """The changes after a version: merged `states`, or None when only a snapshot will do
    (the version is too old, from before a rebuild, or the board is not installed)."""

    version: int
    states: Mapping[str, str] | None


class SeatBoard(Protocol):
    """The seat board every adapter implements."""

    async def hold(
        self,
        showtime_id: str,
        seat_ids: Sequence[str],
        owner: str,
        ttl_seconds: int,
        *,
        limit: int = 0,
    ) -> HoldResult:
        """Hold all seats for `owner` (extending the owner's own holds) or none.

        Seats held by others are refused, and so are sold seats once the board is installed.
        `limit` > 0 caps how many seats of the showtime one owner may hold at once.
        """
        ...

    async def release(self, showtime_id: str, seat_ids: Sequence[str], owner: str) -> list[str]:
        """Delete the holds among `seat_ids` that `owner` has; return the seats released."""
        ...

    async def sell(
        self,
        showtime_id: str,
        seat_ids: Sequence[str],
        owner: str,
        *,
        unpaid_until_ms: int | None = None,
    ) -> None:
        """After a booking committed: the seats are sold (while unpaid, until that time); the
        owner's holds on them end."""
        ...

    async def confirm(self, showtime_id: str, seat_ids: Sequence[str]) -> None:
        """After a booking was paid (committed): its seats are sold for good."""
        ...

    async def free(self, showtime_id: str, seat_ids: Sequence[str]) -> None:
        """After a booking was cancelled or expired (committed): its sold seats are free."""
        ...

    async def holders(self, showtime_id: str) -> dict[str, str]:
        """Every live hold of a showtime: seat id -> owner (also before the install)."""
        ...

    async def snapshot(self, showtime_id: str) -> Snapshot | None:
        """The installed board, or None when it must first be installed."""
        ...

    async def version(self, showtime_id: str) -> int | None:
        """The installed board's version (cheap: to check a copy is current), else None."""
        ...

    async def install(self, showtime_id: str, sold: Mapping[str, str]) -> int:
        """Build the board from the database's sold seats (seat -> `sold_state`, read just
        before) and the live holds, unless another caller did; the board's version."""
        ...

    async def changes_since(self, showtime_id: str, version: int) -> Delta:
        """What changed after `version`."""
        ...

    async def prune(self, showtime_id: str) -> None:
        """Take lapsed holds off the board now (and announce it)."""
        ...

    def listen(self, showtime_id: str) -> AbstractAsyncContextManager[Subscription]:
        """The live changes of a showtime, from now on, while the context is open."""
        ...
