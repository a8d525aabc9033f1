"""`unavailable` is `public_status` in one pass: for any board, caller and moment, the seats it
returns are exactly those `public_status` shows that caller as "booked" or "held"."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from boxoffice.seatboard import hold_state, public_status, sold_state, unavailable

OWNERS = ["ana", "ben", "cy"]
AT_MS = 1_000_000

_moment = st.integers(min_value=AT_MS - 3, max_value=AT_MS + 3)
_state = st.one_of(
    st.just(sold_state()),
    _moment.map(sold_state),
    st.builds(hold_state, st.sampled_from(OWNERS), _moment),
)
_boards = st.dictionaries(st.text("abcdef0123", min_size=1, max_size=6), _state, max_size=30)


@given(_boards, st.sampled_from([None, *OWNERS]), _moment)
def test_unavailable_is_what_public_status_shows_as_booked_or_held(board, caller, at_ms):
    shown = {s: public_status(v, caller, at_ms) for s, v in board.items()}
    expected = [s for s, status in shown.items() if status in ("booked", "held")]
    assert unavailable(board, caller, at_ms) == expected


def test_a_seat_held_by_the_caller_or_lapsed_is_not_unavailable():
    board = {
        "a1": hold_state("ana", AT_MS + 1),  # ana's own hold
        "a2": hold_state("ben", AT_MS + 1),  # ben's, live
        "a3": hold_state("ben", AT_MS),  # ben's, lapsed this very moment
        "a4": sold_state(AT_MS + 1),  # an unpaid booking, still in time
        "a5": sold_state(AT_MS),  # an unpaid booking, lapsed
        "a6": sold_state(),  # paid
    }
    assert unavailable(board, "ana", AT_MS) == ["a2", "a4", "a6"]
    assert unavailable(board, None, AT_MS) == ["a1", "a2", "a4", "a6"]
