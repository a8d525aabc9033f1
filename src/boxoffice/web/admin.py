"""The admin's pages: the catalog (movies, theaters, showtimes) and the users.

Every page and form here is for admins (access.py); the services check the role again.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, BeforeValidator, Field, field_validator

from boxoffice.web import sales
from boxoffice.web.access import Admin, Visitor
from boxoffice.web.errors import BadInput
from boxoffice.web.gateway import ApiError
from boxoffice.web.pages import gateway, redirect, render

router = APIRouter(include_in_schema=False)


# The sales pages first: their paths would also match the catalog's /admin/{kind}/{id}.
router.include_router(sales.router)


# -- form models: what each admin form sends ------------------------------------------------


def _blank_is_none(value: Any) -> Any:
    """An empty text field means 'not given'."""
    return None if isinstance(value, str) and not value.strip() else value


Text = Annotated[str | None, BeforeValidator(_blank_is_none)]
Day = Annotated[dt.date | None, BeforeValidator(_blank_is_none)]


class MovieForm(BaseModel):
    title: str = Field(min_length=1, max_length=255)
    duration_minutes: int = Field(ge=1, le=24 * 60)
    genre: Text = None
    language: Text = None
    rating: Text = None
    release_date: Day = None
    director: Text = None
    poster_url: Text = None
    description: Text = None


class TheaterForm(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    location: str = Field(min_length=1, max_length=500)
    city: str = Field(min_length=1, max_length=100)
    timezone: Text = None
    rows: int = Field(ge=1, le=26)
    seats_per_row: int = Field(ge=1, le=100)
    # Lists typed as text: "E,F" and "4, 10".
    vip_rows: str = Field("", max_length=100, pattern=r"^[A-Za-z ,]*$")
    aisles_after: str = Field("", max_length=300, pattern=r"^[0-9 ,]*$")

    def body(self) -> dict[str, Any]:
        body = self.model_dump(mode="json", exclude_none=True)
        body["vip_rows"] = [r.strip().upper() for r in self.vip_rows.split(",") if r.strip()]
        body["aisles_after"] = [int(n) for n in self.aisles_after.split(",") if n.strip()]
        return body


class TheaterEditForm(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    location: str = Field(min_length=1, max_length=500)
    city: str = Field(min_length=1, max_length=100)
    timezone: str = Field(min_length=1, max_length=64)


class ShowtimeEditForm(BaseModel):
    show_date: dt.date
    show_time: dt.time
    price: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    enforce_seat_rules: bool = False


class ShowtimeForm(ShowtimeEditForm):
    movie_id: uuid.UUID
    theater_id: uuid.UUID


Role = Literal["customer", "staff", "admin"]


class UserForm(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=200)
    full_name: Text = None
    role: Role = "staff"


class RoleForm(BaseModel):
    role: Role


class UserSearch(BaseModel):
    q: str = Field("", max_length=100)
    role: Literal["", "customer", "staff", "admin"] = ""

    @field_validator("q")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        return value.strip()


Kind = Literal["movies", "theaters", "showtimes"]
NAMES = {"movies": "Movie", "theaters": "Theater", "showtimes": "Showtime"}


async def _send(
    request: Request,
    who: Visitor,
    method: str,
    path: str,
    back: str,
    notice: str,
    body: dict[str, Any] | None = None,
) -> Response:
    """Call the API for a form; its refusal (a clash, a rule) goes back to the form's page."""
    try:
        await gateway(request).call(method, path, who.token, json=body)
    except ApiError as exc:
        if exc.status_code in (401, 403) or exc.status_code >= 500:
            raise
        return redirect(request, back, error=exc.detail)
    return redirect(request, back, notice=notice)


# -- the catalog ---------------------------------------------------------------------------


class CatalogFilter(BaseModel):
    """Which showtimes the catalog page lists: one day's, or every upcoming one."""

    day: Day = None


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(
    request: Request, who: Admin, shown: Annotated[CatalogFilter, Query()]
) -> Response:
    api = gateway(request)
    everything: dict[str, Any] = {"limit": 200, "include_inactive": "true"}
    showtimes = {**everything, **({"date": str(shown.day)} if shown.day else {})}
    return await render(
        request,
        "admin.html",
        user=who.user,
        section="catalog",
        shown=shown,
        movies=await api.call("GET", "/api/movies/movies", params=everything),
        theaters=await api.call("GET", "/api/movies/theaters", params=everything),
        showtimes=await api.call("GET", "/api/movies/showtimes", params=showtimes),
    )


@router.post("/admin/movies")
async def create_movie(
    request: Request, who: Admin, form: Annotated[MovieForm, Form()]
) -> Response:
    body = form.model_dump(mode="json", exclude_none=True)
    return await _send(
        request, who, "POST", "/api/movies/movies", "/admin", f"Added {form.title}.", body
    )


@router.post("/admin/theaters")
async def create_theater(
    request: Request, who: Admin, form: Annotated[TheaterForm, Form()]
) -> Response:
    return await _send(
        request, who, "POST", "/api/movies/theaters", "/admin", f"Added {form.name}.", form.body()
    )


@router.post("/admin/showtimes")
async def create_showtime(
    request: Request, who: Admin, form: Annotated[ShowtimeForm, Form()]
) -> Response:
    body = form.model_dump(mode="json")
    return await _send(
        request, who, "POST", "/api/movies/showtimes", "/admin", "Showtime added.", body
    )


@router.get("/admin/{kind}/{item_id}", response_class=HTMLResponse)
async def edit_page(request: Request, who: Admin, kind: Kind, item_id: uuid.UUID) -> Response:
    item = await gateway(request).call("GET", f"/api/movies/{kind}/{item_id}")
    return await render(
        request, "admin/edit.html", user=who.user, section="catalog", kind=kind, item=item
    )


async def _update(
    request: Request, who: Admin, kind: Kind, item_id: uuid.UUID, form: BaseModel
) -> Response:
    body = form.model_dump(mode="json")
    back = f"/admin/{kind}/{item_id}"
    return await _send(request, who, "PUT", f"/api/movies/{kind}/{item_id}", back, "Saved.", body)


@router.post("/admin/movies/{item_id}")
async def update_movie(
    request: Request, who: Admin, item_id: uuid.UUID, form: Annotated[MovieForm, Form()]
) -> Response:
    return await _update(request, who, "movies", item_id, form)


@router.post("/admin/theaters/{item_id}")
async def update_theater(
    request: Request, who: Admin, item_id: uuid.UUID, form: Annotated[TheaterEditForm, Form()]
) -> Response:
    return await _update(request, who, "theaters", item_id, form)


@router.post("/admin/showtimes/{item_id}")
async def update_showtime(
    request: Request, who: Admin, item_id: uuid.UUID, form: Annotated[ShowtimeEditForm, Form()]
) -> Response:
    return await _update(request, who, "showtimes", item_id, form)


# -- users ---------------------------------------------------------------------------------


@router.get("/admin/users", response_class=HTMLResponse)
async def users_page(
    request: Request, who: Admin, search: Annotated[UserSearch, Query()]
) -> Response:
    params: dict[str, Any] = {"limit": 200}
    if search.q:
        params["q"] = search.q
    if search.role:
        params["role"] = search.role
    users = await gateway(request).call("GET", "/api/auth/users", who.token, params=params)
    return await render(
        request, "admin/users.html", user=who.user, section="users", users=users, search=search
    )


@router.post("/admin/users")
async def create_user(request: Request, who: Admin, form: Annotated[UserForm, Form()]) -> Response:
    body = form.model_dump(mode="json", exclude_none=True)
    return await _send(
        request,
        who,
        "POST",
        "/api/auth/users",
        "/admin/users",
        f"Account {form.email} created ({form.role}).",
        body,
    )


@router.post("/admin/users/{user_id}/role")
async def change_role(
    request: Request, who: Admin, user_id: uuid.UUID, form: Annotated[RoleForm, Form()]
) -> Response:
    return await _send(
        request,
        who,
        "PUT",
        f"/api/auth/users/{user_id}/role",
        "/admin/users",
        f"Role changed to {form.role}.",
        {"role": form.role},
    )


@router.post("/admin/users/{user_id}/{action}")
async def switch_user(
    request: Request, who: Admin, user_id: uuid.UUID, action: Literal["deactivate", "reactivate"]
) -> Response:
    if user_id == uuid.UUID(str(who.user.get("id"))) and action == "deactivate":
        raise BadInput("You cannot deactivate your own account here.")
    done = "Account disabled." if action == "deactivate" else "Account active again."
    return await _send(
        request, who, "POST", f"/api/auth/users/{user_id}/{action}", "/admin/users", done
    )


# Last: these paths would also match the users' and the sales pages above.


@router.post("/admin/{kind}/{item_id}/deactivate")
async def deactivate(request: Request, who: Admin, kind: Kind, item_id: uuid.UUID) -> Response:
    return await _send(
        request,
        who,
        "DELETE",
        f"/api/movies/{kind}/{item_id}",
        "/admin",
        f"{NAMES[kind]} deactivated: it is no longer listed.",
    )


@router.post("/admin/{kind}/{item_id}/reactivate")
async def reactivate(request: Request, who: Admin, kind: Kind, item_id: uuid.UUID) -> Response:
    return await _send(
        request,
        who,
        "PUT",
        f"/api/movies/{kind}/{item_id}",
        "/admin",
        f"{NAMES[kind]} active again.",
        {"is_active": True},
    )


@router.get("/admin/{kind}")
async def catalog_list(request: Request, who: Admin, kind: Kind) -> Response:
    """Where a form's address leads when opened (after logging in again, say): the catalog."""
    return redirect(request, "/admin")
