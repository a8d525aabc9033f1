"""Finding 6 of issue 11: the web site answered 500 to malformed input.

The seat map's endpoint took any body to `json()`, the admin forms any text to `int()`, and any
cookie value went into an HTTP header. Every site route now answers junk with a 4xx: a page for
forms and links, the error shape for the seat map's fetch calls. The fuzz takes its routes from
the site's own route table, so a new route is fuzzed without anyone listing it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import BaseRoute, Mount

from boxoffice.web.app import create_web_app
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, TEST_SECRET
from tests.security.website import Visitor


def _flatten(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found += [(method, prefix + route.path) for method in sorted(route.methods or ())]
        elif isinstance(route, Mount):
            found += [("GET", prefix + route.path + "/{path}")]
        elif hasattr(route, "original_router"):
            # FastAPI (0.165) keeps an included router as one entry: its routes are inside.
            context = getattr(route, "include_context", None)
            inner = prefix + str(getattr(context, "prefix", "") or "")
            found += _flatten(route.original_router.routes, inner)
    return found


def site_routes() -> list[tuple[str, str]]:
    """(method, path template) of every route the web site serves, from its route table."""
    from boxoffice.settings import Settings

    app = create_web_app(Settings(_env_file=None, secret_key=TEST_SECRET))  # type: ignore[call-arg]
    return _flatten(app.routes)


ROUTES = site_routes()


def test_the_route_table_is_what_is_fuzzed():
    """A sanity check on the enumeration: the forms and the seat map's endpoint are in it."""
    assert ("POST", "/showtimes/{showtime_id}/seats/{action}") in ROUTES
    assert ("POST", "/admin/movies") in ROUTES
    assert ("POST", "/admin/{kind}/{item_id}/deactivate") in ROUTES
    assert ("POST", "/login") in ROUTES
    assert ("GET", "/static/{path}") in ROUTES
    assert len(ROUTES) >= 20


@pytest.fixture
def admin(site: str) -> Iterator[Visitor]:
    visitor = Visitor(site)
    visitor.log_in(ADMIN_EMAIL, ADMIN_PASSWORD)
    yield visitor
    visitor.close()


def test_the_seat_map_endpoint_answers_malformed_bodies_with_400(admin: Visitor):
    show = admin.http.get("/api/movies/showtimes", params={"limit": 1}).json()[0]
    path = f"/showtimes/{show['id']}/seats/hold"
    headers = {"Origin": admin.origin, "X-CSRF-Token": admin.token}
    for body in (b"not json", b'{"seat_ids": 5}', b'{"seat_ids": [1, 2]}', b"[" * 5000, b"\xff"):
        answer = admin.http.post(
            path, content=body, headers={**headers, "Content-Type": "application/json"}
        )
        assert answer.status_code == 400, (body[:20], answer.text)
        assert answer.json()["error_type"] == "ValidationError"
    best = f"/showtimes/{show['id']}/seats/hold-best"
    for body in (b"not json", b'{"count": "2"}', b'{"count": 0}', b'{"count": 101}',
                 b'{"count": true}', b'{"count": 1.5}', b"{}", b"[2]"):  # fmt: skip
        answer = admin.http.post(
            best, content=body, headers={**headers, "Content-Type": "application/json"}
        )
        assert answer.status_code == 400, (body[:20], answer.text)
        assert answer.json()["error_type"] == "ValidationError"


def test_the_admin_forms_answer_a_non_number_with_400(admin: Visitor):
    admin.get("/admin")
    movie = admin.post("/admin/movies", {"title": "Junk", "duration_minutes": "ninety"})
    assert movie.status_code == 400
    assert "check duration minutes" in movie.text
    theater = admin.post(
        "/admin/theaters",
        {"name": "T", "location": "L", "city": "C", "rows": "x", "seats_per_row": "10"},
    )
    assert theater.status_code == 400
    assert "check rows" in theater.text
    showtime = admin.post(
        "/admin/showtimes",
        {"movie_id": "x", "theater_id": "y", "show_date": "soon", "show_time": "7", "price": "£"},
    )
    assert showtime.status_code == 400


def test_a_forged_or_broken_cookie_is_a_logged_out_visitor(site: str):
    for value in ("junk", "a.b.c", "é" * 10, "eyJ" + "x" * 5000 + ".y.z"):
        with httpx.Client(base_url=site, follow_redirects=False) as http:
            cookie = f"bo_token={value}; bo_session={value}".encode("latin-1")
            home = http.get("/", headers={b"Cookie": cookie})
            assert home.status_code == 200, value
            assert 'href="/login"' in home.text
            tickets = http.get("/bookings", headers={b"Cookie": cookie})
            assert tickets.status_code == 303, value
            assert tickets.headers["location"].startswith("/login")


def test_a_malformed_id_is_a_404_page_not_fastapis_422(site: str):
    with httpx.Client(base_url=site) as http:
        answer = http.get("/movies/not-a-uuid")
    # A malformed id in the address names nothing: the not-found page.
    assert answer.status_code == 404
    assert "text/html" in answer.headers["content-type"]


# Junk that still fits in an HTTP request: header values are latin-1 without control bytes.
_HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
    max_size=60,
).map(str.strip)  # h11 sends no header value with whitespace around it
_TEXT = st.text(max_size=40)
_PATH_PARAM = st.one_of(
    st.uuids().map(str),
    st.sampled_from(["hold", "release", "movies", "theaters", "showtimes", "x.svg", "00"]),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20),
)
_FORM = st.dictionaries(
    st.sampled_from(
        [
            "seat_ids",
            "idempotency_key",
            "payment_method",
            "card",
            "username",
            "password",
            "next",
            "email",
            "full_name",
            "booking_code",
            "title",
            "duration_minutes",
            "rows",
            "seats_per_row",
            "vip_rows",
            "aisles_after",
            "movie_id",
            "theater_id",
            "show_date",
            "show_time",
            "price",
        ]
    ),
    st.one_of(_TEXT, st.integers().map(str), st.uuids().map(str)),
    max_size=6,
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
) | st.fixed_dictionaries({"seat_ids": st.lists(st.one_of(_TEXT, st.integers()), max_size=3)})


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    method, template = draw(st.sampled_from(ROUTES))
    path = re.sub(
        r"\{[^}]+\}",
        lambda _: quote(draw(_PATH_PARAM), safe=""),
        template,
    )
    request: dict[str, Any] = {
        "method": method,
        "url": path,
        "params": draw(st.dictionaries(_TEXT, _TEXT, max_size=3)),
        # Most requests carry the session's token and origin, so they get past the CSRF check
        # to the handler; some carry junk, or none.
        "csrf": draw(st.sampled_from(["valid", "valid", "valid", "junk", "none"])),
        "cookies": draw(st.sampled_from(["admin", "admin", "junk", "none"])),
        "junk_cookie": draw(_HEADER_TEXT),
    }
    kind = draw(st.sampled_from(["form", "json", "bytes", "none"]))
    if kind == "form":
        request["data"] = draw(_FORM)
    elif kind == "json":
        request["content"] = json.dumps(draw(_JSON)).encode()
        request["content_type"] = "application/json"
    elif kind == "bytes":
        request["content"] = draw(st.binary(max_size=200))
        request["content_type"] = draw(
            st.sampled_from(
                [
                    "application/json",
                    "application/x-www-form-urlencoded",
                    "multipart/form-data; boundary=xyz",
                    "text/plain",
                ]
            )
        )
    return request


def test_no_site_route_answers_junk_with_a_5xx(admin: Visitor):
    admin.get("/")
    session = {"bo_token": admin.http.cookies["bo_token"]}
    session["bo_session"] = admin.http.cookies["bo_session"]
    http = httpx.Client(base_url=admin.base, follow_redirects=False, timeout=30)

    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(requests())
    def fuzz(request: dict[str, Any]) -> None:
        headers: dict[str, Any] = {}
        if request["csrf"] == "valid":
            headers = {"Origin": admin.origin, "X-CSRF-Token": admin.token}
        elif request["csrf"] == "junk":
            headers = {"Origin": request["junk_cookie"].encode("latin-1")}
        if "content_type" in request:
            headers["Content-Type"] = request["content_type"]
        if request["cookies"] == "admin":
            # A logout would end the admin's login for the examples after it: it logs out of
            # the session alone.
            kept = session if request["url"] != "/logout" else {"bo_session": session["bo_session"]}
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in kept.items())
        elif request["cookies"] == "junk":
            headers["Cookie"] = (
                f"bo_token={request['junk_cookie']}; bo_session={request['junk_cookie']}"
            ).encode("latin-1")
        data = request.get("data")
        if data is not None and request["csrf"] == "valid":
            data = {**data, "csrf_token": admin.token}
        answer = http.request(
            request["method"],
            request["url"],
            params=request["params"],
            headers=headers,
            data=data,
            content=request.get("content"),
        )
        http.cookies.clear()  # each example brings its own cookies
        assert answer.status_code < 500, (request, answer.status_code, answer.text[:300])

    try:
        fuzz()
    finally:
        http.close()


def test_the_fuzzed_requests_reach_the_handlers(admin: Visitor):
    """The fuzz's "valid" requests are really accepted: a token-carrying form gets past CSRF."""
    admin.get("/admin")
    tag = uuid.uuid4().hex[:6]
    created = admin.post(
        "/admin/movies", {"title": f"Fuzz {tag}", "duration_minutes": "90", "genre": "Drama"}
    )
    assert created.status_code == 303
    assert f"Added Fuzz {tag}." in admin.get("/admin").text
