"""The stranded-seat rule and the best-seat suggestion, as pure functions of a layout."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from hypothesis import example, given, settings
from hypothesis import strategies as st

from boxoffice.booking.seat_rules import (
    best_blocks_in,
    best_seats,
    blocks_of,
    free_runs,
    row_blocks,
    rows_of,
    stranded_seats,
)


@dataclass(frozen=True)
class Seat:
    id: uuid.UUID
    seat_row: str
    seat_number: int
    aisle_after: bool = False


def layout(rows: str = "ABC", per_row: int = 8, aisles_after: tuple[int, ...] = ()) -> list[Seat]:
    return [
        Seat(uuid.uuid5(uuid.NAMESPACE_OID, f"{r}{n}"), r, n, n in aisles_after)
        for r in rows
        for n in range(1, per_row + 1)
    ]


def pick(seats: list[Seat], *labels: str) -> set[uuid.UUID]:
    by_label = {f"{s.seat_row}{s.seat_number}": s.id for s in seats}
    return {by_label[label] for label in labels}


def labels(seats: list[Seat]) -> list[str]:
    return [f"{s.seat_row}{s.seat_number}" for s in seats]


def test_taking_seats_from_the_row_end_leaves_no_gap():
    hall = layout()
    assert stranded_seats(hall, set(), pick(hall, "A1", "A2")) == []


def test_leaving_one_seat_at_the_row_end_is_refused():
    hall = layout()
    assert labels(stranded_seats(hall, set(), pick(hall, "A2", "A3"))) == ["A1"]


def test_leaving_one_seat_between_taken_seats_is_refused():
    hall = layout()
    taken = pick(hall, "A1", "A2")
    assert labels(stranded_seats(hall, taken, pick(hall, "A4", "A5"))) == ["A3"]
    assert stranded_seats(hall, taken, pick(hall, "A3", "A4")) == []


def test_leaving_one_seat_against_the_aisle_is_refused():
    hall = layout(per_row=8, aisles_after=(4,))
    # A1..A4 | aisle | A5..A8: taking A2-A3 strands A1 at the wall and A4 at the aisle
    assert labels(stranded_seats(hall, set(), pick(hall, "A2", "A3"))) == ["A1", "A4"]
    # seats across the aisle are another block: taking A5-A6 strands nobody
    assert stranded_seats(hall, set(), pick(hall, "A5", "A6")) == []


def test_a_gap_that_cannot_be_avoided_is_allowed():
    hall = layout(per_row=4)
    # three free seats, two wanted: every choice leaves one seat over
    taken = pick(hall, "A1")
    assert stranded_seats(hall, taken, pick(hall, "A2", "A3")) == []
    assert stranded_seats(hall, taken, pick(hall, "A3", "A4")) == []


def test_a_lone_seat_that_was_already_there_is_not_the_selections_fault():
    hall = layout(per_row=8)
    taken = pick(hall, "A1", "A3")  # A2 is already alone
    assert stranded_seats(hall, taken, pick(hall, "A4", "A5")) == []


def test_layout_helpers_cut_rows_at_aisles_and_numbering_gaps():
    hall = [s for s in layout(per_row=6, aisles_after=(2,)) if s.seat_number != 5]
    row_a = rows_of(hall)["A"]
    assert [labels(b) for b in blocks_of(row_a)] == [["A1", "A2"], ["A3", "A4"], ["A6"]]
    assert [labels(r) for r in free_runs(row_a, pick(hall, "A2"))] == [["A1"], ["A3", "A4", "A6"]]


def test_best_seats_are_the_centre_of_the_middle_row():
    hall = layout(rows="ABCDE", per_row=10)
    assert labels(best_seats(hall, set(), 2)) == ["C5", "C6"]
    assert labels(best_seats(hall, set(), 3)) in (["C4", "C5", "C6"], ["C5", "C6", "C7"])


def test_best_seats_step_around_taken_seats_and_avoid_strands():
    hall = layout(rows="ABC", per_row=6)
    taken = pick(hall, "B3", "B4")
    best = best_seats(hall, taken, 2)
    # B1-B2 or B5-B6 keep the middle row without a strand
    assert labels(best) in (["B1", "B2"], ["B5", "B6"])
    assert stranded_seats(hall, taken, {s.id for s in best}) == []


def test_best_seats_never_straddle_an_aisle():
    hall = layout(rows="A", per_row=4, aisles_after=(2,))
    assert len(best_seats(hall, set(), 2)) == 2
    assert best_seats(hall, set(), 3) == []


def test_best_seats_is_empty_when_no_block_is_big_enough():
    hall = layout(rows="A", per_row=4)
    assert best_seats(hall, pick(hall, "A2"), 3) == []
    assert best_seats([], set(), 1) == []


@settings(max_examples=200, deadline=None)
@given(
    per_row=st.integers(min_value=1, max_value=12),
    taken_mask=st.integers(min_value=0, max_value=2**12 - 1),
    pick_mask=st.integers(min_value=1, max_value=2**12 - 1),
)
def test_an_accepted_selection_never_creates_an_avoidable_lone_seat(per_row, taken_mask, pick_mask):
    hall = layout(rows="A", per_row=per_row)
    taken = {s.id for i, s in enumerate(hall) if taken_mask >> i & 1}
    chosen = {s.id for i, s in enumerate(hall) if pick_mask >> i & 1} - taken
    if not chosen:
        return
    reported = stranded_seats(hall, taken, chosen)
    after = taken | chosen
    for run in free_runs(hall, taken):
        picked = sum(1 for s in run if s.id in chosen)
        new_lone = [r[0] for r in free_runs(run, after) if len(r) == 1]
        avoidable = picked > 0 and len(run) - picked != 1
        # every lone seat the selection made in a run is reported exactly when avoidable
        assert all((seat in reported) == avoidable for seat in new_lone)
    # and whatever it reports is a free, lone seat
    assert all(s.id not in after for s in reported)


@settings(max_examples=100, deadline=None)
@given(
    per_row=st.integers(min_value=1, max_value=12),
    taken_mask=st.integers(min_value=0, max_value=2**12 - 1),
    count=st.integers(min_value=1, max_value=4),
)
def test_best_seats_are_free_adjacent_and_in_one_row(per_row, taken_mask, count):
    hall = layout(rows="AB", per_row=per_row)
    taken = {s.id for i, s in enumerate(hall) if taken_mask >> i & 1}
    best = best_seats(hall, taken, count)
    if not best:
        # nothing found means no run anywhere is long enough
        runs = [r for row in rows_of(hall).values() for r in free_runs(row, taken)]
        assert all(len(r) < count for r in runs)
        return
    assert len(best) == count
    assert all(s.id not in taken for s in best)
    assert len({s.seat_row for s in best}) == 1
    numbers = [s.seat_number for s in best]
    assert numbers == list(range(numbers[0], numbers[0] + count))


def slow_best_seats(seats, taken, count):
    """The search as first written: every window of every row, scored; the oracle."""
    rows = rows_of(seats)
    if count < 1 or not rows:
        return []
    middle_row = (len(rows) - 1) / 2
    best = None
    for row_index, row in enumerate(rows.values()):
        row_centre = (row[0].seat_number + row[-1].seat_number) / 2
        for block in blocks_of(row):
            for run in free_runs(block, taken):
                spare = len(run) - count
                for start in range(spare + 1):
                    window = run[start : start + count]
                    strands = spare != 1 and 1 in (start, spare - start)
                    centre = (window[0].seat_number + window[-1].seat_number) / 2
                    score = (
                        int(strands),
                        abs(row_index - middle_row),
                        abs(centre - row_centre),
                        row_index,
                    )
                    if best is None or score < best[0]:
                        best = (score, window)
    return best[1] if best else []


@settings(max_examples=300, deadline=None)
@given(
    rows=st.sampled_from(["A", "AB", "ABC", "ABCD", "ABCDEFG"]),
    per_row=st.integers(min_value=1, max_value=9),
    taken_bits=st.integers(min_value=0, max_value=2**63 - 1),
    count=st.integers(min_value=1, max_value=4),
    aisle=st.integers(min_value=0, max_value=8),
)
def test_the_search_that_stops_early_picks_what_the_full_search_picks(
    rows, per_row, taken_bits, count, aisle
):
    hall = layout(rows=rows, per_row=per_row, aisles_after=(aisle,) if aisle else ())
    taken = {s.id for i, s in enumerate(hall) if taken_bits >> (i % 63) & 1}
    assert best_seats(hall, taken, count) == slow_best_seats(hall, taken, count)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.sampled_from(["A", "AB", "ABC", "ABCD", "ABCDEFG"]),
    per_row=st.integers(min_value=1, max_value=9),
    taken_bits=st.integers(min_value=0, max_value=2**63 - 1),
    count=st.integers(min_value=1, max_value=4),
    aisle=st.integers(min_value=0, max_value=8),
    limit=st.integers(min_value=1, max_value=12),
)
# An empty middle row of 7 holds two blocks of 3, but once the best (its centre) is chosen
# there is room for no second one there: the rows beyond must be read too.
@example(rows="ABC", per_row=7, taken_bits=0, count=3, aisle=0, limit=2)
def test_the_next_best_blocks_start_with_the_best_and_share_no_seat(
    rows, per_row, taken_bits, count, aisle, limit
):
    """What a best-seats hold picks from after losing its block: the best first, then others,
    each `count` free seats side by side in one block, none twice, and as many as fit (up to
    `limit`) once the best is taken out, the first `limit` a greedy pass over every window
    would find among the rows it read."""
    hall = layout(rows=rows, per_row=per_row, aisles_after=(aisle,) if aisle else ())
    taken = {s.id for i, s in enumerate(hall) if taken_bits >> (i % 63) & 1}
    blocks = best_blocks_in(row_blocks(hall), taken, count, limit)
    assert (blocks[0] if blocks else []) == slow_best_seats(hall, taken, count)
    assert len(blocks) <= limit
    seats = [s.id for block in blocks for s in block]
    assert len(seats) == len(set(seats)) and not set(seats) & taken
    cut = {r: blocks_of(row) for r, row in rows_of(hall).items()}
    for block in blocks:
        assert len(block) == count
        assert any(
            [s.id for s in block] == [s.id for s in part[i : i + count]]
            for part in cut[block[0].seat_row]
            for i in range(len(part))
        ), "side by side within one block"
    if len(blocks) < limit:
        # fewer than asked only when no other free window is left beside those chosen
        left = taken | set(seats)
        runs = [
            r for row in rows_of(hall).values() for b in blocks_of(row) for r in free_runs(b, left)
        ]
        assert all(len(r) < count for r in runs)
