"""What can go wrong in booking, named as facts; each carries its HTTP status."""

from __future__ import annotations

from collections.abc import Iterable

from boxoffice.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


class ShowtimeNotFound(NotFound):
    """The showtime does not exist."""


class BookingNotFound(NotFound):
    """The booking does not exist, or is not the caller's."""


class SeatsNotInTheater(ValidationFailed):
    """Some requested seats are not seats of the showtime's theater."""

    def __init__(self, seat_ids: Iterable[str]) -> None:
        ids = sorted(seat_ids)
        super().__init__(
            f"Not seats of this showtime's theater: {', '.join(ids)}", extra={"seat_ids": ids}
        )


class TooManySeats(ValidationFailed):
    """More seats than one booking (or one customer's holds) may take."""


class SeatSelectionLeavesGap(ValidationFailed):
    """The selection would strand a single empty seat, and this showtime forbids that."""

    def __init__(self, seat_labels: list[str], seat_ids: list[str]) -> None:
        super().__init__(
            "This selection would leave a single empty seat stranded: "
            f"{', '.join(seat_labels)}. Choose seats that leave no one-seat gap.",
            extra={"seat_ids": seat_ids},
        )


class SeatsUnavailable(Conflict):
    """Another customer holds or has booked some of the requested seats (named)."""

    def __init__(self, seat_labels: list[str], seat_ids: list[str]) -> None:
        super().__init__(
            f"Seats already taken: {', '.join(seat_labels)}", extra={"seat_ids": seat_ids}
        )


class NoSeatsTogether(Conflict):
    """No block of the showtime has the asked number of free seats side by side."""

    def __init__(self, count: int) -> None:
        super().__init__(f"No {count} seats side by side are free", extra={"count": count})


class UnpaidSeatsCapReached(Conflict):
    """The customer would hold or keep unpaid more seats than a fair-share cap allows."""

    def __init__(self, scope: str, cap: int, unpaid: int, held: int = 0) -> None:
        where = "for this showtime" if scope == "per_showtime" else "across all showtimes"
        has = f"{unpaid} unpaid" + (f" and {held} held" if held else "")
        super().__init__(
            f"You may hold and keep unpaid at most {cap} seats {where}; you already have "
            f"{has}. Pay for or cancel an unpaid booking (or release held seats) to free some.",
            extra={"cap": scope, "limit": cap, "unpaid_seats": unpaid, "held_seats": held},
        )


class ShowtimeStarted(Conflict):
    """The show has started (its theater's local time): its seats are no longer sold."""

    error_type = "ShowtimeStarted"
    default_detail = "This showtime has already started"


class ShowtimeNotOnSale(Conflict):
    """The showtime was deactivated by an admin: its seats are no longer sold."""

    error_type = "ShowtimeNotOnSale"
    default_detail = "This showtime is no longer on sale"


class SalesRangeInvalid(ValidationFailed):
    """The sales report's dates are backwards or span too many days."""


class BookingNotCancellable(Conflict):
    """The booking is already cancelled, expired or checked in."""


class RefundRefused(Conflict):
    """The ticket was checked in, or its show has started: a used ticket is final."""


class CheckInRefused(Conflict):
    """The ticket is not confirmed, or was already checked in."""


class NotBookingOwner(PermissionDenied):
    """Only the booking's owner may do this."""
