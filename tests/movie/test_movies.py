"""Browsing and running the movie catalog."""

from __future__ import annotations

import uuid

from tests.movie.factories import create_movie


def titles(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [m["title"] for m in response.json()]


async def test_admin_adds_a_movie_and_customers_see_it_with_the_designs_fields(api, admin):
    created = await create_movie(
        api,
        admin,
        title="The Matrix Resurrections",
        description="Neo returns to the Matrix",
        duration_minutes=148,
        genre="Sci-Fi",
        language="English",
        rating="PG-13",
        release_date="2024-01-15",
        poster_url="/images/matrix.jpg",
        director="Lana Wachowski",
    )
    fetched = await api.get(f"/api/movies/movies/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == {
        "id": created["id"],
        "title": "The Matrix Resurrections",
        "description": "Neo returns to the Matrix",
        "duration_minutes": 148,
        "genre": "Sci-Fi",
        "language": "English",
        "rating": "PG-13",
        "release_date": "2024-01-15",
        "poster_url": "/images/matrix.jpg",
        "director": "Lana Wachowski",
        "is_active": True,
    }


async def test_search_matches_title_description_and_director_in_any_case(api, admin):
    await create_movie(api, admin, title="Dune: Part Two", description="Desert war.")
    await create_movie(api, admin, title="Quiet Days", description="A story of SPICE traders.")
    await create_movie(api, admin, title="Arrival", director="Denis Villeneuve")
    await create_movie(api, admin, title="Lật Mặt 7", description="Gia đình.")

    assert titles(await api.get("/api/movies/movies", params={"q": "dUnE"})) == ["Dune: Part Two"]
    assert titles(await api.get("/api/movies/movies", params={"q": "spice"})) == ["Quiet Days"]
    assert titles(await api.get("/api/movies/movies", params={"q": "villeneuve"})) == ["Arrival"]
    # Case folding is Unicode-aware on both databases, not ASCII-only.
    assert titles(await api.get("/api/movies/movies", params={"q": "lẬt"})) == ["Lật Mặt 7"]
    # LIKE wildcards in a search are plain characters.
    assert titles(await api.get("/api/movies/movies", params={"q": "%"})) == []


async def test_genre_and_language_filters_ignore_case_and_page(api, admin):
    await create_movie(api, admin, title="Blade Runner", genre="Sci-Fi", language="English")
    await create_movie(api, admin, title="Mai", genre="Drama", language="Vietnamese")
    await create_movie(api, admin, title="Solaris", genre="Sci-Fi", language="Russian")

    scifi = await api.get("/api/movies/movies", params={"genre": "sci-fi"})
    assert titles(scifi) == ["Blade Runner", "Solaris"]
    vietnamese = await api.get("/api/movies/movies", params={"language": "VIETNAMESE"})
    assert titles(vietnamese) == ["Mai"]
    both = await api.get("/api/movies/movies", params={"genre": "Sci-Fi", "language": "russian"})
    assert titles(both) == ["Solaris"]
    paged = [
        titles(await api.get("/api/movies/movies", params={"limit": 2, "offset": offset}))
        for offset in (0, 2, 4)
    ]
    assert paged == [["Blade Runner", "Mai"], ["Solaris"], []]


async def test_the_gateway_alias_lists_movies_with_the_designs_query(api, admin):
    await create_movie(api, admin, title="The Matrix Resurrections", genre="Sci-Fi")
    await create_movie(api, admin, title="The Matrix", genre="Action")
    response = await api.get("/api/movies?genre=Sci-Fi&q=Matrix")
    assert titles(response) == ["The Matrix Resurrections"]


async def test_out_of_bounds_paging_or_filters_are_refused(api):
    for query in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "ten"}, {"q": "x" * 101}):
        response = await api.get("/api/movies/movies", params=query)
        assert response.status_code == 400, query
        assert response.json()["error_type"] == "ValidationError"


async def test_admin_edits_a_movie_and_leaves_the_other_fields_alone(api, admin):
    movie = await create_movie(api, admin, title="Working Title", duration_minutes=100)
    response = await api.put(
        f"/api/movies/movies/{movie['id']}",
        json={"title": "Final Title", "rating": "R"},
        headers=admin,
    )
    assert response.status_code == 200
    assert response.json() == {**movie, "title": "Final Title", "rating": "R"}
    edited = (await api.get(f"/api/movies/movies/{movie['id']}")).json()
    assert edited["title"] == "Final Title"

    # A required field cannot be cleared.
    for body in ({"title": None}, {"duration_minutes": None}, {"duration_minutes": -1}):
        cleared = await api.put(f"/api/movies/movies/{movie['id']}", json=body, headers=admin)
        assert cleared.status_code == 400, body
    assert (await api.get(f"/api/movies/movies/{movie['id']}")).json() == edited


async def test_a_deleted_movie_leaves_the_listing_but_its_page_remains(api, admin):
    kept = await create_movie(api, admin, title="Kept")
    gone = await create_movie(api, admin, title="Gone")
    response = await api.delete(f"/api/movies/movies/{gone['id']}", headers=admin)
    assert response.status_code == 204
    assert titles(await api.get("/api/movies/movies")) == [kept["title"]]
    # Bookings and tickets still refer to it.
    detail = await api.get(f"/api/movies/movies/{gone['id']}")
    assert detail.status_code == 200
    assert detail.json()["is_active"] is False


INVALID_MOVIES = [
    {"duration_minutes": 120},
    {"title": "", "duration_minutes": 120},
    {"title": "   ", "duration_minutes": 120},
    {"title": "x" * 256, "duration_minutes": 120},
    {"title": "T", "duration_minutes": 0},
    {"title": "T", "duration_minutes": 10_000},
    {"title": "T", "duration_minutes": "long"},
    {"title": "T", "duration_minutes": 120, "rating": "NOT-A-RATING"},
    {"title": "T", "duration_minutes": 120, "release_date": "2024-13-45"},
    {"title": "Nul\u0000byte", "duration_minutes": 120},
    {"title": "T", "duration_minutes": 120, "unknown": 1},
    ["not", "an", "object"],
]


async def test_invalid_movies_are_refused_and_nothing_is_added(api, admin):
    for body in INVALID_MOVIES:
        response = await api.post("/api/movies/movies", json=body, headers=admin)
        assert response.status_code == 400, body
        assert set(response.json()) == {"detail", "status_code", "error_type"}
    raw = b'{"title": "bad \\ud800 text", "duration_minutes": 90}'
    response = await api.post(
        "/api/movies/movies", content=raw, headers={**admin, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert (await api.get("/api/movies/movies")).json() == []


async def test_only_admins_change_the_catalog(api, admin, customer):
    movie = await create_movie(api, admin)
    url = f"/api/movies/movies/{movie['id']}"
    body = {"title": "Hijacked", "duration_minutes": 90}
    for headers, status in ((customer, 403), ({}, 401)):
        assert (await api.post("/api/movies/movies", json=body, headers=headers)).status_code == (
            status
        )
        assert (await api.put(url, json=body, headers=headers)).status_code == status
        assert (await api.delete(url, headers=headers)).status_code == status
    assert titles(await api.get("/api/movies/movies")) == [movie["title"]]


async def test_unknown_movie_is_404_and_a_malformed_id_is_400(api, admin):
    unknown = str(uuid.uuid4())
    for response in (
        await api.get(f"/api/movies/movies/{unknown}"),
        await api.put(f"/api/movies/movies/{unknown}", json={"title": "X"}, headers=admin),
        await api.delete(f"/api/movies/movies/{unknown}", headers=admin),
    ):
        assert response.status_code == 404
        assert response.json()["error_type"] == "NotFoundError"
    malformed = await api.get("/api/movies/movies/not-a-uuid")
    assert malformed.status_code == 400
    assert malformed.json()["error_type"] == "ValidationError"
