"""Theaters and the seats their layouts create."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from boxoffice.movie.schemas import TheaterCreate, row_lengths
from tests.movie.factories import create_theater


async def test_a_layout_creates_every_seat_with_vip_rows_and_aisles(api, admin):
    theater = await create_theater(
        api,
        admin,
        name="Hall 1",
        location="191 Bà Triệu",
        city="Hanoi",
        rows=4,
        seats_per_row=6,
        vip_rows=["c", "B", "C"],
        aisles_after=[4, 2],
    )
    assert theater["total_seats"] == 24
    assert theater["vip_rows"] == ["B", "C"]
    assert theater["aisles_after"] == [2, 4]

    response = await api.get(f"/api/movies/seats/{theater['id']}")
    assert response.status_code == 200
    seats = response.json()
    assert [(s["seat_row"], s["seat_number"]) for s in seats] == [
        (row, number) for row in "ABCD" for number in range(1, 7)
    ]
    assert {s["seat_row"] for s in seats if s["seat_type"] == "vip"} == {"B", "C"}
    assert {s["seat_type"] for s in seats if s["seat_row"] in "AD"} == {"standard"}
    assert {s["seat_number"] for s in seats if s["aisle_after"]} == {2, 4}
    assert sum(s["aisle_after"] for s in seats) == 8  # two aisles through four rows
    assert all(s["theater_id"] == theater["id"] for s in seats)
    assert len({s["id"] for s in seats}) == 24


async def test_the_largest_layout_is_26_rows_of_100(api, admin):
    theater = await create_theater(api, admin, rows=26, seats_per_row=100)
    assert theater["total_seats"] == 2600
    seats = (await api.get(f"/api/movies/seats/{theater['id']}")).json()
    assert len(seats) == 2600
    assert (seats[0]["seat_row"], seats[0]["seat_number"]) == ("A", 1)
    assert (seats[-1]["seat_row"], seats[-1]["seat_number"]) == ("Z", 100)


async def test_a_theater_given_only_the_designs_columns_gets_an_even_layout(api, admin):
    body = {"name": "Hall 150", "location": "1 Main St", "city": "Hanoi", "total_seats": 150}
    response = await api.post("/api/movies/theaters", json=body, headers=admin)
    assert response.status_code == 201, response.text
    theater = response.json()
    assert (theater["total_seats"], theater["rows"], theater["seats_per_row"]) == (150, 8, 19)
    seats = (await api.get(f"/api/movies/seats/{theater['id']}")).json()
    assert len(seats) == 150
    per_row = Counter(s["seat_row"] for s in seats)
    # As few rows of at most 20 as hold them, spread evenly, the front rows one seat shorter.
    assert per_row == {"A": 18, "B": 18, **{row: 19 for row in "CDEFGH"}}
    assert {s["seat_number"] for s in seats if s["seat_row"] == "A"} == set(range(1, 19))


@pytest.mark.parametrize("total", [1, 20, 21, 151, 520, 521, 2600])
def test_every_seat_count_is_laid_out_in_full_rows_of_at_most_20_while_26_rows_hold_them(
    total: int,
) -> None:
    layout = TheaterCreate(name="Hall", location="Here", city="Hanoi", total_seats=total).layout
    rows, widest, seats = layout
    lengths = row_lengths(rows, widest, seats)
    assert sum(lengths) == total == seats
    assert max(lengths) == widest and max(lengths) - min(lengths) <= 1 and min(lengths) >= 1
    assert rows <= 26 and (widest <= 20 or rows == 26)


def test_the_openapi_explains_the_default_layout() -> None:
    described = TheaterCreate.model_json_schema()["properties"]["total_seats"]["description"]
    assert "at most 20 in a row" in described


BAD_LAYOUTS = [
    {"rows": 27},
    {"rows": 0},
    {"seats_per_row": 101},
    {"seats_per_row": 0},
    {"rows": "five"},
    {"vip_rows": ["F"]},  # the theater has rows A–E
    {"vip_rows": ["AB"]},
    {"vip_rows": ["1"]},
    {"aisles_after": [0]},
    {"aisles_after": [8]},  # after the last seat of a row there is nothing to divide
    {"aisles_after": [-3]},
    {"name": ""},
    {"city": "x" * 101},
    {"location": None},
    {"total_seats": 41},  # not 5 x 8
    {"rows": None},  # seats_per_row alone
    {"rows": None, "seats_per_row": None},  # no layout at all
    {"rows": None, "seats_per_row": None, "total_seats": 2601},
    {"rows": None, "seats_per_row": None, "total_seats": 0},
]


async def test_bad_layouts_and_non_admins_are_refused_and_create_nothing(api, admin, customer):
    base = {"name": "Hall", "location": "Somewhere", "city": "Hanoi", "rows": 5, "seats_per_row": 8}
    for change in BAD_LAYOUTS:
        response = await api.post("/api/movies/theaters", json={**base, **change}, headers=admin)
        assert response.status_code == 400, change
        assert response.json()["error_type"] == "ValidationError"
    assert (await api.post("/api/movies/theaters", json=base, headers=customer)).status_code == 403
    assert (await api.post("/api/movies/theaters", json=base)).status_code == 401
    assert (await api.get("/api/movies/theaters")).json() == []


async def test_theaters_are_listed_by_city_in_any_case(api, admin):
    hanoi = await create_theater(api, admin, name="Bà Triệu", city="Hanoi")
    saigon = await create_theater(api, admin, name="Lê Lợi", city="Ho Chi Minh City")
    everything = (await api.get("/api/movies/theaters")).json()
    assert [t["id"] for t in everything] == [hanoi["id"], saigon["id"]]
    in_saigon = (await api.get("/api/movies/theaters", params={"city": "ho chi minh city"})).json()
    assert [t["name"] for t in in_saigon] == ["Lê Lợi"]
    one = await api.get(f"/api/movies/theaters/{hanoi['id']}")
    assert one.json() == hanoi
    paged = await api.get("/api/movies/theaters", params={"limit": 1, "offset": 1})
    assert [t["id"] for t in paged.json()] == [saigon["id"]]


async def test_unknown_theaters_are_404_and_malformed_ids_400(api):
    unknown = uuid.uuid4()
    for path in (f"/api/movies/theaters/{unknown}", f"/api/movies/seats/{unknown}"):
        response = await api.get(path)
        assert response.status_code == 404
        assert response.json()["error_type"] == "NotFoundError"
    for path in ("/api/movies/theaters/12", "/api/movies/seats/not-a-uuid"):
        assert (await api.get(path)).status_code == 400
