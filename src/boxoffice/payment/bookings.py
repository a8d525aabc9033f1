"""What the payment service asks the booking service about a booking (docs/contracts.md):
its facts, and whether a customer's refund may go ahead (docs/refunds.md)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import httpx
import structlog
from pydantic import BaseModel, ConfigDict, ValidationError

from boxoffice.core.errors import ServiceUnavailable
from boxoffice.core.http import ServiceClient
from boxoffice.core.runtime import Runtime
from boxoffice.payment.errors import RefundRefused

log = structlog.get_logger("boxoffice.payment.bookings")


class BookingFacts(BaseModel):
    """The fields of a booking that payment reads (tolerant reader: the rest is ignored)."""

    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    user_id: uuid.UUID
    booking_code: str | None = None
    status: str
    payment_status: str
    total_price: Decimal
    expires_at: dt.datetime | None = None
    checked_in_at: dt.datetime | None = None
    # When the show starts, as booking (which knows the theater's time zone) works it out.
    show_starts_at: dt.datetime | None = None

    def expired_at(self, now: dt.datetime) -> bool:
        """Past `expires_at` a pending booking already counts as expired (SPEC 4.4)."""
        if self.status == "expired":
            return True
        if self.expires_at is None:
            return False
        expires = self.expires_at
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=dt.UTC)
        return self.status == "pending" and expires <= now

    def show_started_at(self, now: dt.datetime) -> bool:
        """Whether the booking's show has started by `now` (docs/showtimes.md)."""
        if self.show_starts_at is None:
            return False
        starts = self.show_starts_at
        if starts.tzinfo is None:
            starts = starts.replace(tzinfo=dt.UTC)
        return starts <= now


class BookingClient:
    """Payment's HTTP client of the booking service: a booking's facts, a refund's approval.

    Every call carries the caller's own Authorization, so booking answers as it would answer
    them. The shared client (retries, breaker) is taken from the runtime when first needed.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def _client(self) -> ServiceClient:
        return self.runtime.client("payment", "booking")

    async def fetch(self, booking_id: uuid.UUID, authorization: str) -> BookingFacts | None:
        """The booking as the caller may see it; None when it is not theirs or does not exist.

        The client retries and trips its breaker on failures; a dead booking service is a 503.
        """
        response = await self._client.get(
            f"/bookings/{booking_id}", headers={"Authorization": authorization}
        )
        if response.status_code in (403, 404):
            return None
        if response.status_code != 200:
            log.warning(
                "booking_lookup_refused", booking_id=str(booking_id), status=response.status_code
            )
            raise ServiceUnavailable("The booking service could not be asked about this booking")
        try:
            return BookingFacts.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            log.error("booking_lookup_unreadable", booking_id=str(booking_id), error=repr(exc))
            raise ServiceUnavailable("The booking service answered with an unreadable booking")

    async def approve_refund(
        self, booking_id: uuid.UUID, payment_id: uuid.UUID, authorization: str
    ) -> None:
        """Ask the booking service, which owns the rule (docs/refunds.md), to let a customer's
        refund through; RefundRefused (409) with booking's reason when the ticket is final.

        A yes also makes the ticket unusable at the door, so it is asked before the refund is
        made. Asking again is harmless, so the client may retry it.
        """
        response = await self._client.post(
            f"/bookings/{booking_id}/refund-approval",
            json={"payment_id": str(payment_id)},
            headers={"Authorization": authorization},
            idempotent=True,
        )
        if response.status_code == 200:
            return
        if response.status_code == 404:
            # No booking to take a ticket from (a payment whose booking never existed for its
            # owner): the money buys nothing, so it goes back.
            log.warning("refund_of_payment_without_booking", booking_id=str(booking_id))
            return
        if response.status_code == 409:
            detail = _detail(response)
            log.info("refund_refused_by_booking", booking_id=str(booking_id), detail=detail)
            raise RefundRefused(detail)
        log.warning(
            "refund_approval_failed", booking_id=str(booking_id), status=response.status_code
        )
        raise ServiceUnavailable("The booking service could not be asked about this refund")


def _detail(response: httpx.Response) -> str | None:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return None
    return detail if isinstance(detail, str) else None
