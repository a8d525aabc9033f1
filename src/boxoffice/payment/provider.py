"""The external card gateway behind a small interface, and its simulator.

The simulator is the only mocked party of the whole system (SPEC 6). Like a real gateway it
takes the caller's reference as its own idempotency key: charging or refunding the same
reference twice moves money once and answers with the first transaction.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import string
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

DECLINE_TOKEN = "tok_decline"
TIMEOUT_TOKEN = "tok_timeout"


class ChargeDeclined(Exception):
    """The gateway refused the charge (insufficient funds, stolen card...)."""

    def __init__(self, reason: str = "card_declined") -> None:
        self.reason = reason
        super().__init__(reason)


class CardGatewayError(Exception):
    """The gateway failed in a way that says nothing about whether money moved."""


@dataclass(frozen=True, slots=True)
class Charge:
    """A charge the gateway made."""

    reference: str
    transaction_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Refund:
    """A refund the gateway made."""

    reference: str
    transaction_id: str
    amount: Decimal


class PaymentProvider(Protocol):
    """What the payment service needs from a card gateway."""

    async def charge(
        self, *, reference: str, amount: Decimal, payment_method: str, token: str | None
    ) -> Charge:
        """Move money once per reference; raise ChargeDeclined or CardGatewayError."""
        ...

    async def find_charge(self, reference: str) -> Charge | None:
        """The charge made under a reference, if any (for reconciling unclear outcomes)."""
        ...

    async def refund(self, *, reference: str, transaction_id: str, amount: Decimal) -> Refund:
        """Give a charge's money back once per reference; raise CardGatewayError on failure."""
        ...


def transaction_id() -> str:
    """A gateway transaction id shaped like the design's `TXN_1705323600_ABC123`."""
    alphabet = string.ascii_uppercase + string.digits
    return f"TXN_{int(time.time())}_{''.join(secrets.choice(alphabet) for _ in range(10))}"


@dataclass
class SimulatedGateway:
    """A card gateway in memory: `tok_decline` declines, `tok_timeout` hangs past the timeout,
    anything else succeeds after `latency_ms` (and while paused, not before it is resumed).
    Counts calls so tests can assert one charge."""

    latency_ms: int = 0
    timeout_seconds: float = 5.0
    charges: dict[str, Charge] = field(default_factory=dict)
    refunds: dict[str, Refund] = field(default_factory=dict)
    charge_calls: int = 0
    refund_calls: int = 0
    # The bank's own books, shared by every replica of the payment service (Redis) so a refund
    # handled by one process finds the charge another made; None: this process alone.
    ledger: SharedLedger | None = None
    # While paused, charges wait at the gateway (as a slow bank would) until resumed.
    _resumed: asyncio.Event | None = None

    def pause(self) -> None:
        """Hold every charge at the gateway until `resume()` (or the caller's timeout)."""
        self._resumed = asyncio.Event()

    def resume(self) -> None:
        if self._resumed is not None:
            self._resumed.set()
            self._resumed = None

    async def _latency(self) -> None:
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)

    async def charge(
        self, *, reference: str, amount: Decimal, payment_method: str, token: str | None
    ) -> Charge:
        self.charge_calls += 1
        if token == TIMEOUT_TOKEN:
            # Longer than any caller waits; the caller's timeout cancels this sleep.
            await asyncio.sleep(self.timeout_seconds * 2 + 1)
            raise CardGatewayError("simulated gateway hang ended")
        await self._latency()
        if self._resumed is not None:
            await self._resumed.wait()
        if token == DECLINE_TOKEN:
            raise ChargeDeclined("card_declined")
        # No await between the lookup and the store: one reference, one charge.
        existing = self.charges.get(reference)
        if existing is not None:
            return existing
        made = Charge(reference=reference, transaction_id=transaction_id(), amount=amount)
        self.charges[reference] = made
        if self.ledger is not None:
            # Another replica may have charged this reference first: the bank's record wins.
            made = self.charges[reference] = await self.ledger.put_charge(made)
        return made

    async def find_charge(self, reference: str) -> Charge | None:
        found = self.charges.get(reference)
        if found is None and self.ledger is not None:
            found = await self.ledger.charge(reference)
        return found

    async def refund(self, *, reference: str, transaction_id: str, amount: Decimal) -> Refund:
        self.refund_calls += 1
        await self._latency()
        existing = self.refunds.get(reference)
        if existing is not None:
            return existing
        charge = await self.find_charge(reference)
        if charge is None or charge.transaction_id != transaction_id:
            raise CardGatewayError(f"no charge {transaction_id} to refund")
        made = Refund(reference=reference, transaction_id=_refund_id(), amount=amount)
        self.refunds[reference] = made
        if self.ledger is not None:
            made = self.refunds[reference] = await self.ledger.put_refund(made)
        return made

    @property
    def money_held(self) -> Decimal:
        """What the gateway has charged and not given back (for tests and the reconciler)."""
        refunded = sum((r.amount for r in self.refunds.values()), Decimal("0.00"))
        charged = sum((c.amount for c in self.charges.values()), Decimal("0.00"))
        return charged - refunded


def _refund_id() -> str:
    return "RFD" + transaction_id()[3:]


class SharedLedger:
    """The simulated bank's books in Redis: one record per payment reference, written once
    (HSETNX), so every replica sees the same charges and refunds."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._charges = f"{prefix}gateway:charges"
        self._refunds = f"{prefix}gateway:refunds"

    async def _put(self, key: str, reference: str, record: Charge | Refund) -> dict[str, str]:
        fields = {"transaction_id": record.transaction_id, "amount": str(record.amount)}
        try:
            await self._redis.hsetnx(key, reference, json.dumps(fields))
            stored = await self._redis.hget(key, reference)
        except RedisError as exc:
            raise CardGatewayError(f"gateway unreachable: {exc}") from exc
        return dict(json.loads(stored)) if stored else fields

    async def _get(self, key: str, reference: str) -> dict[str, str] | None:
        try:
            stored = await self._redis.hget(key, reference)
        except RedisError as exc:
            raise CardGatewayError(f"gateway unreachable: {exc}") from exc
        return dict(json.loads(stored)) if stored else None

    async def put_charge(self, charge: Charge) -> Charge:
        got = await self._put(self._charges, charge.reference, charge)
        return Charge(charge.reference, got["transaction_id"], Decimal(got["amount"]))

    async def charge(self, reference: str) -> Charge | None:
        got = await self._get(self._charges, reference)
        return Charge(reference, got["transaction_id"], Decimal(got["amount"])) if got else None

    async def put_refund(self, refund: Refund) -> Refund:
        got = await self._put(self._refunds, refund.reference, refund)
        return Refund(refund.reference, got["transaction_id"], Decimal(got["amount"]))
