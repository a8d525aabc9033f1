"""The 24-hour cache of finished `POST /process` responses (design 6.3).

A fast path only: a hit saves the database round trip for a replay; a miss, a stale entry or a
dead Redis changes nothing, because the unique constraint in the payments table decides.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

import structlog
from pydantic import ValidationError

from boxoffice.core.app import ServiceContext
from boxoffice.payment.schemas import PaymentOut

log = structlog.get_logger("boxoffice.payment.idempotency")

TTL_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """A finished payment as first answered, and the fingerprint of the body that asked."""

    fingerprint: str
    payment: PaymentOut


def cache_key(user_id: uuid.UUID, idempotency_key: str) -> str:
    # Hashed: the key is client text of up to 255 characters, and scoped to its user.
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    return f"payment:idempotency:{user_id}:{digest}"


async def cached(
    ctx: ServiceContext, user_id: uuid.UUID, idempotency_key: str
) -> CachedResponse | None:
    try:
        raw = await ctx.runtime.cache.get(cache_key(user_id, idempotency_key))
    except Exception as exc:
        log.warning("idempotency_cache_unavailable", error=repr(exc))
        return None
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return CachedResponse(data["fingerprint"], PaymentOut.model_validate(data["payment"]))
    except (ValueError, KeyError, TypeError, ValidationError):
        return None


async def remember(
    ctx: ServiceContext,
    user_id: uuid.UUID,
    idempotency_key: str,
    fingerprint: str,
    payment: PaymentOut,
) -> None:
    value = json.dumps({"fingerprint": fingerprint, "payment": payment.model_dump(mode="json")})
    try:
        await ctx.runtime.cache.set(cache_key(user_id, idempotency_key), value, TTL_SECONDS)
    except Exception as exc:
        log.warning("idempotency_cache_unavailable", error=repr(exc))


async def forget(ctx: ServiceContext, user_id: uuid.UUID, idempotency_key: str) -> None:
    """Drop a cached response whose payment changed since (a refund)."""
    try:
        await ctx.runtime.cache.delete(cache_key(user_id, idempotency_key))
    except Exception as exc:
        log.warning("idempotency_cache_unavailable", error=repr(exc))
