"""Seat holds: per-seat, owned, expiring, all-or-nothing per request (SPEC section 4, rule 3).

Two adapters keep one contract (tests/core/test_holds_contract.py): `MemorySeatHolds` for
embedded mode (one process, so plain dict operations between awaits are atomic) and
`RedisSeatHolds` for distributed mode, where every request is ONE Lua script.

Redis keys (all of one showtime share the Cluster hash tag `{<showtime_id>}`, so each script
touches a single slot and still works on a cluster):
    hold:{<showtime_id>}:<seat_id>          value = owner, PX = the hold's TTL (the truth)
    holds:{<showtime_id>}:index             sorted set of held seat ids, score = expiry (ms)
    holds:{<showtime_id>}:owner:<owner>     sorted set of the owner's seat ids, score = expiry
The two sorted sets are indexes for listing and for the per-owner cap; a seat key that has
expired wins over a stale index entry, and stale entries are pruned by the next hold.

Holds are the fast path, never the guarantee: the booking database decides a sale.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError


class HoldsUnavailable(Exception):
    """The hold store cannot be reached; callers degrade to 'no hold information'."""


@dataclass(frozen=True, slots=True)
class HoldResult:
    """What one hold request did.

    `ok`: every requested seat is now held by the owner. Otherwise nothing changed and either
    `taken` names the seats another owner holds, or `over_limit` says the owner would pass
    the per-showtime cap (then `owner_count` is how many the owner holds already).
    `acquired` lists the seats that were not the owner's before (for undoing on failure).
    """

    ok: bool
    taken: tuple[str, ...] = ()
    over_limit: bool = False
    owner_count: int = 0
    acquired: tuple[str, ...] = field(default_factory=tuple)


class SeatHolds(Protocol):
    """The hold store every adapter implements."""

    async def hold(
        self,
        showtime_id: str,
        seat_ids: Sequence[str],
        owner: str,
        ttl_seconds: int,
        *,
        limit: int = 0,
    ) -> HoldResult:
        """Hold all seats for `owner` (extending the owner's own holds) or none.

        `limit` > 0 caps how many seats of the showtime one owner may hold at once.
        """
        ...

    async def release(self, showtime_id: str, seat_ids: Sequence[str], owner: str) -> list[str]:
        """Delete the holds among `seat_ids` that `owner` has; return the seats released."""
        ...

    async def holders(self, showtime_id: str) -> dict[str, str]:
        """Every live hold of a showtime: seat id -> owner."""
        ...


class MemorySeatHolds:
    """Holds in this process (embedded mode); expiry is checked on every access."""

    def __init__(self) -> None:
        # showtime id -> seat id -> (owner, monotonic expiry)
        self._holds: dict[str, dict[str, tuple[str, float]]] = {}

    def _live(self, showtime_id: str) -> dict[str, tuple[str, float]]:
        seats = self._holds.get(showtime_id)
        if seats is None:
            return {}
        now = time.monotonic()
        for seat in [s for s, (_, expires) in seats.items() if expires <= now]:
            del seats[seat]
        if not seats:
            del self._holds[showtime_id]
        return seats

    async def hold(
        self,
        showtime_id: str,
        seat_ids: Sequence[str],
        owner: str,
        ttl_seconds: int,
        *,
        limit: int = 0,
    ) -> HoldResult:
        seat_ids = list(dict.fromkeys(seat_ids))
        seats = self._live(showtime_id)
        taken = tuple(s for s in seat_ids if s in seats and seats[s][0] != owner)
        if taken:
            return HoldResult(ok=False, taken=taken)
        mine = {s for s, (o, _) in seats.items() if o == owner}
        acquired = tuple(s for s in seat_ids if s not in mine)
        if limit > 0 and len(mine) + len(acquired) > limit:
            return HoldResult(ok=False, over_limit=True, owner_count=len(mine))
        expires = time.monotonic() + ttl_seconds
        table = self._holds.setdefault(showtime_id, seats)
        for seat in seat_ids:
            table[seat] = (owner, expires)
        return HoldResult(ok=True, owner_count=len(mine) + len(acquired), acquired=acquired)

    async def release(self, showtime_id: str, seat_ids: Sequence[str], owner: str) -> list[str]:
        seats = self._live(showtime_id)
        released = [s for s in seat_ids if s in seats and seats[s][0] == owner]
        for seat in released:
            del seats[seat]
        return released

    async def holders(self, showtime_id: str) -> dict[str, str]:
        return {seat: owner for seat, (owner, _) in self._live(showtime_id).items()}


# KEYS: index, owner index, seat keys...   ARGV: owner, ttl ms, limit, seat ids...
# Returns {1, owner's count, acquired...} held; {0, taken...} taken by others;
# {2, owner's count} over the cap.
_HOLD_SCRIPT = """
local owner = ARGV[1]
local ttl = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local taken = {}
local acquired = {}
for i = 3, #KEYS do
  local current = redis.call('GET', KEYS[i])
  if current and current ~= owner then
    taken[#taken + 1] = ARGV[i + 1]
  elseif not current then
    acquired[#acquired + 1] = ARGV[i + 1]
  end
end
if #taken > 0 then
  table.insert(taken, 1, 0)
  return taken
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if limit > 0 then
  local count = redis.call('ZCARD', KEYS[2])
  if count + #acquired > limit then
    return {2, tostring(count)}
  end
end
local expires = now + ttl
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], owner, 'PX', ttl)
  redis.call('ZADD', KEYS[1], expires, ARGV[i + 1])
  redis.call('ZADD', KEYS[2], expires, ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[2], ttl)
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
table.insert(acquired, 1, tostring(redis.call('ZCARD', KEYS[2])))
table.insert(acquired, 1, 1)
return acquired
"""

# Compare-and-delete: only the owner's holds go. KEYS: index, owner index, seat keys...
# ARGV: owner, seat ids...
_RELEASE_SCRIPT = """
local owner = ARGV[1]
local released = {}
for i = 3, #KEYS do
  if redis.call('GET', KEYS[i]) == owner then
    redis.call('DEL', KEYS[i])
    redis.call('ZREM', KEYS[1], ARGV[i - 1])
    redis.call('ZREM', KEYS[2], ARGV[i - 1])
    released[#released + 1] = ARGV[i - 1]
  end
end
return released
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisSeatHolds:
    """Holds in Redis (distributed mode): one atomic script per hold or release request."""

    def __init__(self, redis: Redis, prefix: str = "") -> None:
        self._redis = redis
        self._prefix = prefix
        self._hold = redis.register_script(_HOLD_SCRIPT)
        self._release = redis.register_script(_RELEASE_SCRIPT)

    def _seat_key(self, showtime_id: str, seat_id: str) -> str:
        return f"{self._prefix}hold:{{{showtime_id}}}:{seat_id}"

    def _index_key(self, showtime_id: str) -> str:
        return f"{self._prefix}holds:{{{showtime_id}}}:index"

    def _owner_key(self, showtime_id: str, owner: str) -> str:
        return f"{self._prefix}holds:{{{showtime_id}}}:owner:{owner}"

    def _keys(self, showtime_id: str, seat_ids: Sequence[str], owner: str) -> list[str]:
        return [
            self._index_key(showtime_id),
            self._owner_key(showtime_id, owner),
            *(self._seat_key(showtime_id, s) for s in seat_ids),
        ]

    async def hold(
        self,
        showtime_id: str,
        seat_ids: Sequence[str],
        owner: str,
        ttl_seconds: int,
        *,
        limit: int = 0,
    ) -> HoldResult:
        seat_ids = list(dict.fromkeys(seat_ids))
        if not seat_ids:
            return HoldResult(ok=True)
        keys = self._keys(showtime_id, seat_ids, owner)
        args: list[str | int] = [owner, int(ttl_seconds * 1000), limit, *seat_ids]
        try:
            reply = await self._hold(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            raise HoldsUnavailable(str(exc)) from exc
        code, rest = int(reply[0]), [_text(v) for v in reply[1:]]
        if code == 1:
            return HoldResult(ok=True, owner_count=int(rest[0]), acquired=tuple(rest[1:]))
        if code == 2:
            return HoldResult(ok=False, over_limit=True, owner_count=int(rest[0]))
        return HoldResult(ok=False, taken=tuple(rest))

    async def release(self, showtime_id: str, seat_ids: Sequence[str], owner: str) -> list[str]:
        seat_ids = list(dict.fromkeys(seat_ids))
        if not seat_ids:
            return []
        try:
            reply = await self._release(
                keys=self._keys(showtime_id, seat_ids, owner), args=[owner, *seat_ids]
            )
        except (RedisError, OSError) as exc:
            raise HoldsUnavailable(str(exc)) from exc
        return [_text(v) for v in reply]

    async def holders(self, showtime_id: str) -> dict[str, str]:
        try:
            indexed = await self._redis.zrange(self._index_key(showtime_id), 0, -1)
            seats = [_text(s) for s in indexed if isinstance(s, bytes | str)]
            if not seats:
                return {}
            owners = await self._redis.mget([self._seat_key(showtime_id, s) for s in seats])
        except (RedisError, OSError) as exc:
            raise HoldsUnavailable(str(exc)) from exc
        return {seat: _text(owner) for seat, owner in zip(seats, owners, strict=True) if owner}
