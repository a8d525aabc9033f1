"""`bench/sale_pieces.py` keeps running: both ways of each piece are timed (and give the same
seats), with no timing asserted."""

from __future__ import annotations

from bench.sale_pieces import email, unavailable_seats


def test_both_ways_of_each_piece_are_timed():
    mail, seats = email(repeats=1), unavailable_seats(repeats=1)
    for figures, ways in (
        (mail, ("email_message", "older_mime_classes", "of_which_qr_png")),
        (seats, ("public_status_seat_by_seat", "one_pass")),
    ):
        assert all(figures[way] > 0 for way in ways), figures
        assert figures["ratio"] > 0
