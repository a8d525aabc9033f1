"""Two pieces of every sale, timed alone, the way they were and the way they are (issue 9): the
confirmation e-mail built and serialised (`EmailMessage` versus the older MIME classes), and the
seats a caller cannot take on a busy 2,000-seat board (`public_status` seat by seat versus
`seatboard.unavailable` in one pass). Both ways in the same run, so the ratio holds on a shared
machine; the median of several repeats. Needs no server; prints JSON.

    .venv/bin/python bench/sale_pieces.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import timeit
import uuid
from collections.abc import Callable
from typing import Any

from boxoffice.notification.content import compose
from boxoffice.notification.mail import mail_of, qr_png
from boxoffice.notification.models import Notification
from boxoffice.seatboard import hold_state, now_ms, public_status, sold_state, unavailable


def _ms(call: Callable[[], Any], repeats: int, number: int) -> float:
    """Median ms of one call."""
    runs = timeit.repeat(call, number=number, repeat=repeats)
    return round(statistics.median(runs) / number * 1000, 3)


def _confirmation() -> Notification:
    booking = {
        "booking_id": str(uuid.uuid4()),
        "user_id": str(uuid.uuid4()),
        "booking_code": "BK7Q2M9X",
        "movie_title": "Dune: Part Two",
        "theater_name": "Galaxy Hall 1",
        "theater_city": "Hanoi",
        "show_date": "2026-03-20",
        "show_time": "19:30:00",
        "seats": "C5, C6",
        "total_price": "240000.00",
    }
    notice = compose("booking.confirmed", booking, booking)
    return Notification(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        type="booking.confirmed",
        subject=notice.subject,
        message=notice.message,
        email="alice@x.example",
        booking_code="BK7Q2M9X",
        context={**notice.context, "template": "booking_confirmed"},
        created_at=dt.datetime.now(dt.UTC),
    )


def email(repeats: int) -> dict[str, Any]:
    note = _confirmation()
    sender = "boxoffice <tickets@boxoffice.example>"
    mail = mail_of(note, sender)
    assert mail.plain_headers()
    before = _ms(lambda: mail_of(note, sender).message().as_bytes(), repeats, 100)
    after = _ms(lambda: mail_of(note, sender).plain_message().as_bytes(), repeats, 100)
    return {
        "what": "a confirmation e-mail (QR included) built and serialised, ms",
        "email_message": before,
        "older_mime_classes": after,
        "of_which_qr_png": _ms(lambda: qr_png("BK7Q2M9X"), repeats, 100),
        "ratio": round(before / after, 2),
    }


def unavailable_seats(repeats: int) -> dict[str, Any]:
    at = now_ms()
    seats = {str(uuid.uuid4()): uuid.uuid4() for _ in range(2000)}
    rng = random.Random(9)
    board = {}
    for key in list(seats)[:1800]:  # late in a rush: most sold, some unpaid, a few held
        roll = rng.random()
        if roll < 0.8:
            board[key] = sold_state()
        elif roll < 0.95:
            board[key] = sold_state(at + 60_000)
        else:
            board[key] = hold_state(rng.choice(["me", "other"]), at + 9_000)

    def seat_by_seat() -> set[uuid.UUID]:
        states = dict(board)
        view = {s: public_status(v, "me", at) for s, v in states.items()}
        view = {s: v for s, v in view.items() if v != "available"}
        return {seats[s] for s, v in view.items() if v != "mine" and s in seats}

    def one_pass() -> set[uuid.UUID]:
        return {seats[s] for s in unavailable(board, "me", at) if s in seats}

    assert seat_by_seat() == one_pass()
    before, after = _ms(seat_by_seat, repeats, 200), _ms(one_pass, repeats, 200)
    return {
        "what": "the seats a caller cannot take, 2,000-seat board with 1,800 taken, ms",
        "public_status_seat_by_seat": before,
        "one_pass": after,
        "ratio": round(before / after, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(
        json.dumps(
            {"email": email(args.repeats), "unavailable_seats": unavailable_seats(args.repeats)},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
