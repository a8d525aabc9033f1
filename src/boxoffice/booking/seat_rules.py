"""Seat rules a cinema expects, as pure functions of a seat layout (no I/O).

A row is cut into *blocks* by aisles (a seat with `aisle_after`), by its ends and by gaps in the
numbering. Within a block, a *free run* is a stretch of seats nobody has taken. A selection
strands a seat when it leaves a run of exactly one free seat between taken seats or against an
aisle or the row's end. That is allowed only when it is unavoidable: when the free run the seats
were taken from is exactly one seat longer than what was taken from it (any choice of that many
seats in that run leaves one over).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from typing import Protocol, TypeVar


class SeatLike(Protocol):
    """What the rules need to know about a seat."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def seat_row(self) -> str: ...
    @property
    def seat_number(self) -> int: ...
    @property
    def aisle_after(self) -> bool: ...


S = TypeVar("S", bound=SeatLike)


def _row_key(row: str) -> tuple[int, str]:
    return (len(row), row)


def rows_of(seats: Iterable[S]) -> dict[str, list[S]]:
    """Seats by row (front to back), each row ordered by seat number."""
    rows: dict[str, list[S]] = {}
    for seat in seats:
        rows.setdefault(seat.seat_row, []).append(seat)
    return {
        row: sorted(rows[row], key=lambda s: s.seat_number) for row in sorted(rows, key=_row_key)
    }


def blocks_of(row: Sequence[S]) -> list[list[S]]:
    """A row cut at its aisles and at gaps in the numbering."""
    blocks: list[list[S]] = []
    current: list[S] = []
    for seat in row:
        if current and (current[-1].aisle_after or seat.seat_number != current[-1].seat_number + 1):
            blocks.append(current)
            current = []
        current.append(seat)
    if current:
        blocks.append(current)
    return blocks


def free_runs(block: Sequence[S], taken: Collection[uuid.UUID]) -> list[list[S]]:
    """The maximal stretches of untaken seats in a block."""
    runs: list[list[S]] = []
    current: list[S] = []
    for seat in block:
        if seat.id in taken:
            if current:
                runs.append(current)
            current = []
        else:
            current.append(seat)
    if current:
        runs.append(current)
    return runs


def stranded_seats(
    seats: Iterable[S], taken: Collection[uuid.UUID], selection: Collection[uuid.UUID]
) -> list[S]:
    """The single seats `selection` would strand (avoidably), given seats already `taken`.

    Empty means the selection is fine. Seats that were already lone before the selection are
    not its fault and are not reported.
    """
    stranded: list[S] = []
    after = set(taken) | set(selection)
    for row in rows_of(seats).values():
        for block in blocks_of(row):
            for run in free_runs(block, taken):
                picked = sum(1 for seat in run if seat.id in selection)
                if picked == 0 or len(run) - picked == 1:
                    continue
                stranded.extend(r[0] for r in free_runs(run, after) if len(r) == 1)
    return stranded


def row_blocks(seats: Iterable[S]) -> list[list[list[S]]]:
    """Each row (front to back) cut into its blocks: what the best-seat search walks, worth
    keeping with a layout since a layout does not change."""
    return [blocks_of(row) for row in rows_of(seats).values()]


def best_seats(seats: Iterable[S], taken: Collection[uuid.UUID], count: int) -> list[S]:
    """The best `count` adjacent free seats: no stranded seat if possible, then the middle
    rows, then the centre of the row. Empty when no block has `count` free seats side by side.
    """
    return best_seats_in(row_blocks(seats), taken, count)


def best_seats_in(
    rows: Sequence[Sequence[Sequence[S]]], taken: Collection[uuid.UUID], count: int
) -> list[S]:
    """`best_seats` over a layout's `row_blocks`. Rows are tried from the middle outwards, so
    the search stops at the first row that has a block without a strand (no row further out
    can beat it): in a hall with free seats left in its middle it looks at a row or two."""
    if count < 1 or not rows:
        return []
    middle_row = (len(rows) - 1) / 2
    order = sorted(range(len(rows)), key=lambda i: (abs(i - middle_row), i))
    best: tuple[tuple[int, float, float, int], list[S]] | None = None
    for row_index in order:
        distance = abs(row_index - middle_row)
        if best is not None and best[0][0] == 0 and distance > best[0][1]:
            break
        blocks = rows[row_index]
        if not blocks:
            continue
        row_centre = (blocks[0][0].seat_number + blocks[-1][-1].seat_number) / 2
        for block in blocks:
            for run in free_runs(block, taken):
                spare = len(run) - count
                for start in range(spare + 1):
                    window = run[start : start + count]
                    strands = spare != 1 and 1 in (start, spare - start)
                    centre = (window[0].seat_number + window[-1].seat_number) / 2
                    score = (int(strands), distance, abs(centre - row_centre), row_index)
                    if best is None or score < best[0]:
                        best = (score, list(window))
    return best[1] if best else []


def best_blocks_in(
    rows: Sequence[Sequence[Sequence[S]]], taken: Collection[uuid.UUID], count: int, limit: int
) -> list[list[S]]:
    """Up to `limit` blocks of `count` adjacent free seats, none sharing a seat, best first as
    `best_seats_in` ranks a block on its own (its strands counted against `taken` only). Rows
    are read from the middle outwards until those read hold `limit` blocks (and the rest of
    their distance), so a big hall costs a row or two, as for one block."""
    if count < 1 or limit < 1 or not rows:
        return []
    middle_row = (len(rows) - 1) / 2
    order = sorted(range(len(rows)), key=lambda i: (abs(i - middle_row), i))
    ranked: list[tuple[tuple[int, float, float, int, int], list[S]]] = []
    room = 0  # how many blocks the runs read so far surely give
    clean = False  # whether one of them strands no seat (else any further row may)
    for position, row_index in enumerate(order):
        distance = abs(row_index - middle_row)
        if clean and room >= limit and distance > abs(order[position - 1] - middle_row):
            break
        blocks = rows[row_index]
        if not blocks:
            continue
        row_centre = (blocks[0][0].seat_number + blocks[-1][-1].seat_number) / 2
        for block in blocks:
            for run in free_runs(block, taken):
                spare = len(run) - count
                if spare >= 0:
                    # However the ranking picks in this run, each pick spoils at most
                    # 2 × count - 1 of its windows: at least this many fit.
                    room += -(-(spare + 1) // (2 * count - 1))
                for start in range(spare + 1):
                    window = run[start : start + count]
                    strands = spare != 1 and 1 in (start, spare - start)
                    centre = (window[0].seat_number + window[-1].seat_number) / 2
                    clean = clean or not strands
                    left = window[0].seat_number
                    score = (int(strands), distance, abs(centre - row_centre), row_index, left)
                    ranked.append((score, window))
    ranked.sort(key=lambda scored: scored[0])
    chosen: list[list[S]] = []
    used: set[uuid.UUID] = set()
    for _, window in ranked:
        if len(chosen) == limit:
            break
        if any(seat.id in used for seat in window):
            continue
        chosen.append(window)
        used.update(seat.id for seat in window)
    return chosen
