"""The seat board: what every seat of a showtime is right now, versioned, with a live feed.

One structure per showtime answers the seat map, the hold rules and the live page:

* **Holds** (SPEC 4.3) are per seat, owned, expiring and all-or-nothing per request. The hold
  keys are their truth; one atomic script per request takes, extends or releases them.
* **Sales** come from the booking database, the truth for sold seats (SPEC 4.1). The booking
  service writes them onto the board after its transaction commits (`sell`, `free`), and
  rebuilds the board from its database whenever the board is missing (`install`), so the board
  is a projection that can always be dropped: a Redis restart or a crash between a commit and
  its board write costs a rebuild, never a double sale (the database's unique index decides).
* Every change bumps the showtime's **version** and is kept in a short **change log** and sent
  on a **feed**, so a seat map can ask "what changed since version V" or listen live.

States, as stored (compact, so a 2,000-seat board is one small hash):
    ""                      free (absent from the board)
    "B"                     sold: in a confirmed booking
    "P<expires ms>"         sold: in a booking unpaid until that Unix time in ms (then free)
    "H<expires ms>:<owner>" held by `owner` until that time
The board is *ready* once it has been installed from the database; until then writes are still
recorded (frees as tombstones) so that the install, which reads the database a moment earlier,
cannot undo a newer change.

Two adapters keep one contract (tests/seatboard/test_contract.py): `MemorySeatBoard`
(embedded mode, one process) and `RedisSeatBoard` (distributed mode: one Lua script per change;
all keys of one showtime share the Cluster hash tag `{<showtime_id>}`).

The board is a shared read model, not a service: booking writes it and movie reads it, so it
lives beside them and imports neither (an import-linter contract says so). A runtime holds
one board for all its services: `seat_board(runtime)`.
"""

from __future__ import annotations

from boxoffice.core.runtime import AdapterSlot, Runtime, redis_prefix
from boxoffice.seatboard.memory import MemorySeatBoard
from boxoffice.seatboard.redis import RedisSeatBoard
from boxoffice.seatboard.types import (
    BOOKED,
    Change,
    Delta,
    HoldResult,
    SeatBoard,
    SeatBoardUnavailable,
    Snapshot,
    hold_state,
    is_sold,
    now_ms,
    parse_hold,
    public_status,
    sold_state,
    unavailable,
)


def _build(runtime: Runtime) -> SeatBoard:
    """In-process by default; on the runtime's Redis (distributed mode), under its key prefix."""
    if runtime.redis is not None:
        return RedisSeatBoard(runtime.redis, redis_prefix(runtime.settings))
    return MemorySeatBoard()


SEAT_BOARD: AdapterSlot[SeatBoard] = AdapterSlot("seat board", _build)


def seat_board(runtime: Runtime) -> SeatBoard:
    """The runtime's seat board (holds and sales of every showtime)."""
    return runtime.adapter(SEAT_BOARD)


def use_seat_board(runtime: Runtime, board: SeatBoard) -> None:
    """Give the runtime this board instead (a test's board on a dead Redis, say)."""
    runtime.provide(SEAT_BOARD, board)


__all__ = [
    "BOOKED",
    "SEAT_BOARD",
    "Change",
    "Delta",
    "HoldResult",
    "MemorySeatBoard",
    "RedisSeatBoard",
    "SeatBoard",
    "SeatBoardUnavailable",
    "Snapshot",
    "hold_state",
    "is_sold",
    "now_ms",
    "parse_hold",
    "public_status",
    "seat_board",
    "sold_state",
    "unavailable",
    "use_seat_board",
]
