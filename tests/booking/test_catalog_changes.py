"""Booking keeps showtimes and layouts parsed in memory; a change in the catalog reaches it."""

from __future__ import annotations

import uuid

from boxoffice.booking.movie_client import MovieClient
from tests.booking.conftest import BOOK, booking_ctx
from tests.conftest import bearer, eventually


async def test_a_renamed_movie_is_on_the_next_ticket_not_the_old_title(
    api, make_show, customer, token_for
):
    show = await make_show(api)
    alice, bob = customer(), customer()
    first = await api.post(BOOK, headers=alice.headers, json=show.selection("A1"))
    assert first.json()["movie_title"] == "Dune: Part Two"  # the showtime is now kept in memory

    renamed = await api.put(
        f"/api/movies/movies/{show.raw['movie_id']}",
        headers=bearer(token_for("admin")),
        json={"title": "Dune: Part Two (IMAX)"},
    )
    assert renamed.status_code == 200, renamed.text

    catalog = MovieClient.of(booking_ctx(api))
    showtime_id = uuid.UUID(show.id)

    async def forgotten() -> bool:
        return not catalog.remembers(showtime_id)

    await eventually(forgotten)
    second = await api.post(BOOK, headers=bob.headers, json=show.selection("A2"))
    assert second.status_code == 201, second.text
    assert second.json()["movie_title"] == "Dune: Part Two (IMAX)"
