"""Request and response bodies of the movie service (design 4.2, SPEC 3)."""

from __future__ import annotations

import datetime as dt
import string
import uuid
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from boxoffice.core.localtime import check_time_zone
from boxoffice.core.settings import money

MAX_ROWS = 26
MAX_SEATS_PER_ROW = 100
# Most seats in a row of a theater created from its seat count alone (TheaterCreate).
DEFAULT_ROW_SEATS = 20
ROW_LETTERS = string.ascii_uppercase[:MAX_ROWS]


def storable(value: str) -> str:
    """Refuse text a database cannot store faithfully (NUL bytes, lone surrogates)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text")
    return value


_STORABLE = AfterValidator(storable)


def _bounds(max_length: int, min_length: int = 1) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)


Title = Annotated[str, _bounds(255), _STORABLE]
Description = Annotated[str, _bounds(5000, min_length=0), _STORABLE]
Genre = Annotated[str, _bounds(100), _STORABLE]
Language = Annotated[str, _bounds(50), _STORABLE]
Rating = Annotated[str, _bounds(10), _STORABLE]
PosterUrl = Annotated[str, _bounds(500), _STORABLE]
PersonName = Annotated[str, _bounds(255), _STORABLE]
TheaterName = Annotated[str, _bounds(255), _STORABLE]
Location = Annotated[str, _bounds(500), _STORABLE]
City = Annotated[str, _bounds(100), _STORABLE]
TimeZone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(check_time_zone),
]
RowLetter = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]$")
]
Duration = Annotated[int, Field(ge=1, le=24 * 60, description="Runtime in minutes")]
Price = Annotated[
    Decimal,
    Field(gt=0, max_digits=12, decimal_places=2, description="Price of one seat (VND)"),
    AfterValidator(money),
]


class MovieCreate(BaseModel):
    """A new movie (admin)."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description | None = None
    duration_minutes: Duration
    genre: Genre | None = None
    language: Language | None = None
    rating: Rating | None = None
    release_date: dt.date | None = None
    poster_url: PosterUrl | None = None
    director: PersonName | None = None
    is_active: bool = True


class MovieUpdate(BaseModel):
    """Changes to a movie (admin); fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description | None = None
    duration_minutes: Duration | None = None
    genre: Genre | None = None
    language: Language | None = None
    rating: Rating | None = None
    release_date: dt.date | None = None
    poster_url: PosterUrl | None = None
    director: PersonName | None = None
    is_active: bool | None = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> Self:
        for name in ("title", "duration_minutes", "is_active"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class MovieOut(BaseModel):
    """A movie as the design's example shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    description: str | None
    duration_minutes: int
    genre: str | None
    language: str | None
    rating: str | None
    release_date: dt.date | None
    poster_url: str | None
    director: str | None
    is_active: bool


def default_layout(total_seats: int) -> tuple[int, int]:
    """(rows, seats in the widest row) for a theater given only its seat count.

    As few rows as hold the seats with at most DEFAULT_ROW_SEATS in a row (26 rows at most:
    bigger halls get wider rows); `row_lengths` then spreads the seats evenly over them.
    """
    rows = min(MAX_ROWS, -(-total_seats // DEFAULT_ROW_SEATS))
    return rows, -(-total_seats // rows)


def row_lengths(rows: int, seats_per_row: int, total_seats: int) -> list[int]:
    """Seats in each row, front (A) to back: spread evenly, so rows differ by at most one seat
    and the front rows hold the fewer; every row full when total = rows x seats_per_row."""
    total_seats = min(total_seats, rows * seats_per_row)
    narrow, wide = divmod(total_seats, rows)
    return [narrow] * (rows - wide) + [narrow + 1] * wide


class TheaterCreate(BaseModel):
    """A new theater and its layout (admin); the seats are created from the layout.

    Give the layout as `rows` and `seats_per_row`, or only `total_seats` (the design's
    columns: `name, location, city, total_seats`): the theater then gets as few rows as hold
    the seats with at most 20 in a row, the seats spread evenly over them, front rows holding
    one fewer when they do not divide evenly (150 seats: 8 rows, A–B of 18 and C–H of 19).
    """

    model_config = ConfigDict(extra="forbid")

    name: TheaterName
    location: Location
    city: City
    rows: int | None = Field(
        None, ge=1, le=MAX_ROWS, description="Rows A, B, … (at most 26); with seats_per_row"
    )
    seats_per_row: int | None = Field(
        None, ge=1, le=MAX_SEATS_PER_ROW, description="Seats 1…n in every row; with rows"
    )
    total_seats: int | None = Field(
        None,
        ge=1,
        le=MAX_ROWS * MAX_SEATS_PER_ROW,
        description="The theater's seats, instead of rows and seats_per_row: laid out in as few "
        "rows as hold them with at most 20 in a row (26 rows at most), spread evenly, the front "
        "rows holding one fewer when they do not divide evenly. With rows and seats_per_row it "
        "must equal their product.",
    )
    vip_rows: list[RowLetter] = Field(default_factory=list, max_length=MAX_ROWS)
    aisles_after: list[int] = Field(
        default_factory=list,
        max_length=MAX_SEATS_PER_ROW,
        description="Seat numbers after which an aisle runs through every row",
    )
    timezone: TimeZone | None = Field(
        None,
        description="IANA time zone of the theater's show times, e.g. Asia/Ho_Chi_Minh "
        "(default: the THEATER_TIMEZONE setting)",
    )

    @model_validator(mode="after")
    def _layout_fits(self) -> Self:
        if self.rows is not None and self.seats_per_row is not None:
            product = self.rows * self.seats_per_row
            if self.total_seats not in (None, product):
                raise ValueError(
                    f"total_seats {self.total_seats} is not rows x seats_per_row ({product}); "
                    "leave it out, or give only total_seats"
                )
            self.total_seats = product
        elif self.rows is not None or self.seats_per_row is not None:
            raise ValueError("give rows and seats_per_row together (or only total_seats)")
        elif self.total_seats is None:
            raise ValueError("give the layout: total_seats, or rows and seats_per_row")
        else:
            self.rows, self.seats_per_row = default_layout(self.total_seats)
        widest = self.seats_per_row
        rows = ROW_LETTERS[: self.rows]
        outside = sorted({r for r in self.vip_rows if r not in rows})
        if outside:
            raise ValueError(
                f"vip_rows {', '.join(outside)} are not rows of this theater (A–{rows[-1]})"
            )
        bad = sorted({n for n in self.aisles_after if not 1 <= n < widest})
        if bad:
            raise ValueError(
                f"aisles_after {', '.join(map(str, bad))} must lie between seat 1 and "
                f"seat {widest - 1}"
            )
        self.vip_rows = sorted(set(self.vip_rows))
        self.aisles_after = sorted(set(self.aisles_after))
        return self

    @property
    def layout(self) -> tuple[int, int, int]:
        """(rows, seats in the widest row, total seats), as the validator settled them."""
        assert self.rows and self.seats_per_row and self.total_seats  # set by _layout_fits
        return self.rows, self.seats_per_row, self.total_seats


class TheaterOut(BaseModel):
    """A theater with its layout."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    location: str
    city: str
    total_seats: int
    rows: int
    seats_per_row: int = Field(
        description="Seats in the widest row (every row when total_seats = rows x seats_per_row)"
    )
    vip_rows: list[str]
    aisles_after: list[int]
    timezone: str
    is_active: bool = True


class TheaterUpdate(BaseModel):
    """Changes to a theater (admin); fields left out stay as they are. The layout (rows, seats,
    VIP rows, aisles) never changes once the theater has seats; the time zone only while the
    theater has no showtimes (their start instants are read in it)."""

    model_config = ConfigDict(extra="forbid")

    name: TheaterName | None = None
    location: Location | None = None
    city: City | None = None
    timezone: TimeZone | None = None
    is_active: bool | None = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> Self:
        for name in ("name", "location", "city", "timezone", "is_active"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


SeatType = Literal["standard", "vip"]
SeatStatus = Literal["available", "held", "booked", "mine"]


class SeatOut(BaseModel):
    """A seat of a theater (docs/contracts.md)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    theater_id: uuid.UUID
    seat_row: str
    seat_number: int
    seat_type: SeatType
    aisle_after: bool


class SeatWithStatus(SeatOut):
    """A seat and what it is for one showtime, as the seat map shows it."""

    status: SeatStatus


class ShowtimeCreate(BaseModel):
    """A new screening (admin); seats and capacity come from the theater."""

    model_config = ConfigDict(extra="forbid")

    movie_id: uuid.UUID
    theater_id: uuid.UUID
    show_date: dt.date = Field(ge=dt.date(2000, 1, 1), le=dt.date(2100, 12, 31))
    show_time: dt.time = Field(
        description="Wall-clock time in the theater's time zone, e.g. 19:30; must be in the future"
    )
    price: Price
    enforce_seat_rules: bool = Field(
        False, description="Refuse selections that strand a single seat (booking checks it)"
    )

    @model_validator(mode="after")
    def _local_time(self) -> Self:
        if self.show_time.tzinfo is not None:
            raise ValueError("show_time is the theater's local time and takes no UTC offset")
        self.show_time = self.show_time.replace(microsecond=0)
        return self


class ShowtimeOut(BaseModel):
    """A showtime with what a listing shows (docs/contracts.md)."""

    id: uuid.UUID
    movie_id: uuid.UUID
    theater_id: uuid.UUID
    show_date: dt.date
    show_time: dt.time
    price: Decimal
    total_seats: int
    available_seats: int
    enforce_seat_rules: bool
    movie_title: str
    theater_name: str
    city: str
    timezone: str = Field(description="The theater's IANA time zone: show_date/show_time are in it")
    starts_at: dt.datetime = Field(description="When the show starts, as a UTC instant")
    is_active: bool = Field(
        True, description="False once deactivated: listed no more, and no seats are sold"
    )


class ShowtimeUpdate(BaseModel):
    """Changes to a showtime (admin); fields left out stay as they are. The price applies to
    bookings made from now on; the date and time may change only while no seat is booked, and
    obey the same rules as a new showtime (in the future, no overlap)."""

    model_config = ConfigDict(extra="forbid")

    show_date: dt.date | None = Field(
        default=None, ge=dt.date(2000, 1, 1), le=dt.date(2100, 12, 31)
    )
    show_time: dt.time | None = None
    price: Price | None = None
    enforce_seat_rules: bool | None = None
    is_active: bool | None = None

    @model_validator(mode="after")
    def _checked(self) -> Self:
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if self.show_time is not None:
            if self.show_time.tzinfo is not None:
                raise ValueError("show_time is the theater's local time and takes no UTC offset")
            self.show_time = self.show_time.replace(microsecond=0)
        return self


class AvailableSeats(BaseModel):
    """Every seat of a showtime's theater with its live status (SPEC 3)."""

    showtime_id: uuid.UUID
    total_seats: int
    available_count: int
    seats: list[SeatWithStatus]
