"""Per-name attempt limits with growing lock-outs (the login throttle's storage).

An attempt is counted *before* the work it guards (a bcrypt check) starts, so concurrent
attempts cannot all slip through while the first ones are still being checked: at most
`max_attempts` attempts per name run in a window. The next one locks the name for `lock_seconds`,
doubled at each lock-out in a row (capped at `max_lock_seconds`); `reset` (a success) clears
both. Names are hashed before storage, so no login name is kept in memory or Redis.

In-process implementation for embedded mode; Redis (one Lua script, atomic across processes)
in distributed mode, falling back to the in-process one while Redis is unreachable (SPEC 4.7:
degrade, never fail the request).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog
from redis.asyncio import Redis

log = structlog.get_logger("boxoffice.lockout")


@dataclass(frozen=True)
class LockoutPolicy:
    """`max_attempts` per `window` seconds, then a lock of `lock_seconds`, doubling each time."""

    max_attempts: int
    window: float
    lock_seconds: float
    max_lock_seconds: float

    def lock_for(self, level: int) -> float:
        """Length of the `level`-th lock-out in a row (1 for the first)."""
        return min(self.max_lock_seconds, self.lock_seconds * 2 ** max(0, level - 1))

    @property
    def memory_seconds(self) -> float:
        """How long a name's lock-out level is remembered after its last lock-out."""
        return max(self.window, self.max_lock_seconds) * 2


class Lockout(Protocol):
    """Counts attempts per name; `attempt` answers 0 (go ahead) or the seconds to wait."""

    async def attempt(self, name: str) -> float: ...
    async def reset(self, name: str) -> None: ...


def _key(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", errors="replace")).hexdigest()[:32]


def retry_after(wait: float) -> int:
    """Whole seconds for a Retry-After header (at least 1)."""
    return max(1, math.ceil(wait))


class MemoryLockout:
    """In-process lock-outs (embedded mode: one process); memory stays bounded."""

    max_names = 50_000

    def __init__(self, policy: LockoutPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        # key -> [attempts, window ends, locked until, lock level, level forgotten at]
        self._names: dict[str, list[float]] = {}

    async def attempt(self, name: str) -> float:
        return self.attempt_now(name)

    def attempt_now(self, name: str) -> float:
        """`attempt` without awaiting: nothing can run between the check and the count."""
        now, p = self.clock(), self.policy
        key = _key(name)
        entry = self._names.get(key)
        if entry is None:
            if len(self._names) >= self.max_names:
                self._prune(now)
            entry = self._names[key] = [0, now + p.window, 0.0, 0, 0.0]
        if entry[2] > now:
            return entry[2] - now
        if entry[4] <= now:
            entry[3] = 0
        if entry[1] <= now:
            entry[0], entry[1] = 0, now + p.window
        entry[0] += 1
        if entry[0] <= p.max_attempts:
            return 0.0
        entry[3] += 1
        lock = p.lock_for(int(entry[3]))
        entry[0], entry[1], entry[2] = 0, now + p.window, now + lock
        entry[4] = now + lock + p.memory_seconds
        return lock

    async def reset(self, name: str) -> None:
        self._names.pop(_key(name), None)

    def _prune(self, now: float) -> None:
        stale = [k for k, e in self._names.items() if e[1] <= now and e[2] <= now and e[4] <= now]
        for key in stale:
            del self._names[key]
        if len(self._names) >= self.max_names:
            self._names.clear()


# KEYS: attempts, lock, level. ARGV: max attempts, window ms, lock ms, max lock ms, level ms.
# Returns the milliseconds to wait (0: go ahead).
_ATTEMPT = """
local locked = redis.call('PTTL', KEYS[2])
if locked > 0 then return locked end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n <= tonumber(ARGV[1]) then return 0 end
local level = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
local lock = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ (level - 1))
lock = math.max(1, math.floor(lock))
redis.call('SET', KEYS[2], '1', 'PX', lock)
redis.call('DEL', KEYS[1])
return lock
"""


class RedisLockout:
    """Lock-outs in Redis, shared by every process; in-process while Redis is unreachable."""

    def __init__(self, redis: Redis, policy: LockoutPolicy, prefix: str = "") -> None:
        self._redis = redis
        self.policy = policy
        self._prefix = prefix + "lockout:"
        self._script = redis.register_script(_ATTEMPT)
        self._fallback = MemoryLockout(policy)

    def _keys(self, name: str) -> list[str]:
        key = self._prefix + _key(name)
        return [key + ":n", key + ":lock", key + ":level"]

    async def attempt(self, name: str) -> float:
        p = self.policy
        args = [
            p.max_attempts,
            _ms(p.window),
            _ms(p.lock_seconds),
            _ms(p.max_lock_seconds),
            _ms(p.lock_for(64) + p.memory_seconds),
        ]
        try:
            waited = await self._script(keys=self._keys(name), args=args)
        except Exception as exc:  # Redis down: each process throttles on its own meanwhile
            log.warning("lockout_degraded", error=type(exc).__name__)
            return self._fallback.attempt_now(name)
        return int(waited) / 1000

    async def reset(self, name: str) -> None:
        await self._fallback.reset(name)
        try:
            await self._redis.delete(*self._keys(name))
        except Exception as exc:
            log.warning("lockout_degraded", error=type(exc).__name__)


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))
