"""What can go wrong in the movie service, named as facts."""

from boxoffice.core.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed


class MovieNotFound(NotFound):
    """No movie has this id."""

    default_detail = "Movie not found"


class TheaterNotFound(NotFound):
    """No theater has this id."""

    default_detail = "Theater not found"


class ShowtimeNotFound(NotFound):
    """No showtime has this id."""

    default_detail = "Showtime not found"


class MovieNotShowing(Conflict):
    """The movie is deactivated, so no new showtimes can be scheduled for it."""

    default_detail = "Movie is not showing"


class ShowtimeOverlaps(Conflict):
    """Another showtime in the same theater runs at that time."""

    default_detail = "Another showtime in this theater overlaps that time"


class ShowtimeInPast(ValidationFailed):
    """The showtime would start at or before now, in its theater's time zone."""

    error_type = "ShowtimeInPast"
    default_detail = "A showtime cannot start in the past"


class SeatStatusUnavailable(ServiceUnavailable):
    """The booking service could not say which seats are taken."""

    default_detail = "Seat availability is unavailable right now"


class TheaterNotActive(Conflict):
    """The theater is deactivated, so no new showtimes can be scheduled in it."""

    default_detail = "Theater is not active"


class TheaterInUse(Conflict):
    """The change would alter showtimes already scheduled in the theater."""

    default_detail = "The theater has showtimes; its time zone cannot change"


class ShowtimeHasBookings(Conflict):
    """Seats of the showtime are booked, so its date and time can no longer move."""

    default_detail = "Seats of this showtime are booked; its date and time cannot change"
