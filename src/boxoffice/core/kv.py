"""Small key-value adapters: the catalog cache and the token revocation list.

Each has an in-process implementation (embedded mode, one process; the revocation list also
kept in a SQLite file there, to outlive a restart) and a Redis one (distributed mode); one
contract test suite runs against all of them (tests/core/test_kv_contract.py).

The revocation list also keeps each user's "not before": the moment (in milliseconds) their
password, role or status last changed; tokens issued earlier are refused.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Protocol

from redis.asyncio import Redis

from boxoffice.core.pubsub import Subscriber


class Cache(Protocol):
    """A string cache with per-key TTL and counters (counters version cache namespaces)."""

    async def get(self, key: str) -> str | None: ...
    async def set(self, key: str, value: str, ttl_seconds: int) -> None: ...
    async def delete(self, key: str) -> None: ...
    async def incr(self, key: str) -> int: ...


class RevocationStore(Protocol):
    """Token ids (jti) revoked until their token would have expired anyway, and per user the
    time before which their tokens are refused, kept as long as a token lives."""

    async def revoke(self, jti: str, ttl_seconds: int) -> None: ...
    async def is_revoked(self, jti: str) -> bool: ...
    async def set_not_before(self, user_id: str, at_ms: int, ttl_seconds: int) -> None: ...
    async def check(self, jti: str, user_id: str) -> tuple[bool, int | None]:
        """Whether the token is revoked, and its user's not-before (ms) if one is set."""
        ...

    async def lost_its_data(self) -> bool:
        """Whether the store has been emptied since `mark_complete` (a Redis restart without
        persistence): the auth service then copies everything back from its database."""
        ...

    async def mark_complete(self) -> None: ...


class MemoryCache:
    """In-process cache for embedded mode; entries expire lazily on read."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[str, float | None]] = {}

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= time.monotonic():
            del self._data[key]
            return None
        return value

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        if len(self._data) > 50_000:  # bound memory: drop expired entries first, then everything
            for k in [k for k in self._data if self._live(k) is None]:
                self._data.pop(k, None)
            if len(self._data) > 50_000:
                self._data.clear()
        self._data[key] = (value, time.monotonic() + ttl_seconds)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def incr(self, key: str) -> int:
        current = int(self._live(key) or 0) + 1
        self._data[key] = (str(current), None)
        return current


class RedisCache:
    """Cache in Redis, keys under a prefix so several systems can share one server."""

    def __init__(self, redis: Redis, prefix: str = "") -> None:
        self._redis = redis
        self._prefix = prefix

    async def get(self, key: str) -> str | None:
        value = await self._redis.get(self._prefix + key)
        return value.decode() if isinstance(value, bytes) else value

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        await self._redis.set(self._prefix + key, value, ex=ttl_seconds)

    async def delete(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def incr(self, key: str) -> int:
        return int(await self._redis.incr(self._prefix + key))


class FileRevocationStore:
    """Revoked token ids in a SQLite file (embedded mode), so a logout survives a restart.

    Every request checks its token, so checks are answered from memory: the file is read once,
    at the first check, dropping rows whose token has expired since; a revocation is written to
    the file before it is remembered. Expiry times are wall-clock, as they must outlive the
    process.
    """

    # How often a check looks whether another process (`boxoffice users`) wrote the file.
    RESCAN_SECONDS = 0.5

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._until: dict[str, float] = {}  # jti -> time.time() its token expires
        self._not_before: dict[str, tuple[int, float]] = {}  # user id -> (at ms, expires)
        self._loaded = False
        self._loading = asyncio.Lock()
        self._seen: tuple[int, int] | None = None  # the file's (mtime_ns, size) when read
        self._next_scan = 0.0

    async def lost_its_data(self) -> bool:
        # The file outlives restarts; a wiped data dir is refilled when the auth service starts.
        return False

    async def mark_complete(self) -> None:
        return None

    async def revoke(self, jti: str, ttl_seconds: int) -> None:
        await self._load()
        until = time.time() + max(ttl_seconds, 1)
        await asyncio.to_thread(self._write, jti, until)
        now = time.time()
        for k in [k for k, t in self._until.items() if t <= now]:
            del self._until[k]
        self._until[jti] = until

    async def is_revoked(self, jti: str) -> bool:
        await self._refresh()
        until = self._until.get(jti)
        return until is not None and until > time.time()

    async def set_not_before(self, user_id: str, at_ms: int, ttl_seconds: int) -> None:
        await self._load()
        until = time.time() + max(ttl_seconds, 1)
        at_ms = max(at_ms, self._not_before_of(user_id) or 0)
        await asyncio.to_thread(self._write_not_before, user_id, at_ms, until)
        self._not_before[user_id] = (at_ms, until)

    async def check(self, jti: str, user_id: str) -> tuple[bool, int | None]:
        revoked = await self.is_revoked(jti)
        return revoked, self._not_before_of(user_id)

    def _not_before_of(self, user_id: str) -> int | None:
        item = self._not_before.get(user_id)
        return item[0] if item is not None and item[1] > time.time() else None

    async def _refresh(self) -> None:
        """Load the file at first use, and again when another process has written it since.

        The running system is the only writer of logouts, but `boxoffice users` (another
        process) writes not-befores: a stat every half second sees them within a second.
        """
        if not self._loaded:
            await self._load()
            return
        now = time.monotonic()
        if now < self._next_scan:
            return
        self._next_scan = now + self.RESCAN_SECONDS
        if self._stamp() != self._seen:
            self._loaded = False
            await self._load()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    async def _load(self) -> None:
        async with self._loading:
            if not self._loaded:
                # Stamped before reading: a write landing during the read shows as a change.
                stamp = self._stamp()
                self._until, self._not_before = await asyncio.to_thread(self._read)
                self._seen = stamp
                self._next_scan = time.monotonic() + self.RESCAN_SECONDS
                self._loaded = True

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS revoked_tokens (jti TEXT PRIMARY KEY, expires_at REAL)"
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS not_before"
            " (user_id TEXT PRIMARY KEY, at_ms INTEGER, expires_at REAL)"
        )
        return conn

    def _read(self) -> tuple[dict[str, float], dict[str, tuple[int, float]]]:
        conn = self._connect()
        try:
            with conn:
                conn.execute("DELETE FROM revoked_tokens WHERE expires_at <= ?", (time.time(),))
                conn.execute("DELETE FROM not_before WHERE expires_at <= ?", (time.time(),))
            rows = conn.execute("SELECT jti, expires_at FROM revoked_tokens").fetchall()
            users = conn.execute("SELECT user_id, at_ms, expires_at FROM not_before").fetchall()
        finally:
            conn.close()
        return (
            {str(jti): float(until) for jti, until in rows},
            {str(uid): (int(at), float(until)) for uid, at, until in users},
        )

    def _write_not_before(self, user_id: str, at_ms: int, until: float) -> None:
        conn = self._connect()
        try:
            with conn:
                conn.execute(
                    "INSERT INTO not_before (user_id, at_ms, expires_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (user_id) DO UPDATE SET"
                    " at_ms = max(at_ms, excluded.at_ms), expires_at = excluded.expires_at",
                    (user_id, at_ms, until),
                )
        finally:
            conn.close()

    def _write(self, jti: str, until: float) -> None:
        conn = self._connect()
        try:
            with conn:
                conn.execute(
                    "INSERT OR REPLACE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)",
                    (jti, until),
                )
                conn.execute("DELETE FROM revoked_tokens WHERE expires_at <= ?", (time.time(),))
        finally:
            conn.close()


class RedisRevocationStore:
    """Revoked token ids in Redis, each key expiring when its token would have.

    Every request checks its token, so every process mirrors the list in memory: loaded once,
    then kept current by a pub/sub message per logout. A check is then a dict lookup instead of
    a round trip. Until the mirror is loaded, and whenever its feed is broken, a check asks
    Redis directly (and fails as Redis does, which callers treat per SPEC 4.7).
    """

    def __init__(self, redis: Redis, prefix: str = "") -> None:
        self._redis = redis
        self._prefix = prefix + "revoked:"
        self._channel = prefix + "revocations"
        # Not-befores have a key space and channel of their own: a process of the previous
        # version, listening to "revocations" during a rolling update, never sees their messages.
        self._nb_prefix = prefix + "notbefore:"
        self._nb_channel = prefix + "not-before"
        # Set once the store holds every logout and not-before; a Redis restart that loses the
        # data loses this key with it, which is how the auth service notices.
        self._complete_key = prefix + "revocations:complete"
        self._mirror: dict[str, float] = {}  # jti -> monotonic time its token expires
        self._not_before: dict[str, tuple[int, float]] = {}  # user id -> (at ms, monotonic end)
        self._synced = False
        self._loading: asyncio.Task[None] | None = None
        self._subscriber = Subscriber(
            redis, self._on_message, on_reconnect=self._reload, on_disconnect=self._unsync
        )

    @property
    def mirrored(self) -> bool:
        """Whether checks are answered from memory (the mirror is loaded and being fed)."""
        return self._synced

    async def lost_its_data(self) -> bool:
        return not await self._redis.exists(self._complete_key)

    async def mark_complete(self) -> None:
        await self._redis.set(self._complete_key, "1")

    async def revoke(self, jti: str, ttl_seconds: int) -> None:
        ttl = max(ttl_seconds, 1)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._prefix + jti, "1", ex=ttl)
            pipe.publish(self._channel, f"{jti} {ttl}")
            await pipe.execute()
        self._remember(jti, ttl)

    async def is_revoked(self, jti: str) -> bool:
        if not self._synced:
            self._reload()
            return bool(await self._redis.exists(self._prefix + jti))
        until = self._mirror.get(jti)
        return until is not None and until > time.monotonic()

    async def set_not_before(self, user_id: str, at_ms: int, ttl_seconds: int) -> None:
        ttl = max(ttl_seconds, 1)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._nb_prefix + user_id, str(at_ms), ex=ttl)
            pipe.publish(self._nb_channel, f"{user_id} {at_ms} {ttl}")
            await pipe.execute()
        self._remember_not_before(user_id, at_ms, ttl)

    async def check(self, jti: str, user_id: str) -> tuple[bool, int | None]:
        if not self._synced:
            self._reload()
            revoked, at = await self._redis.mget(self._prefix + jti, self._nb_prefix + user_id)
            return revoked is not None, None if at is None else int(at)
        until = self._mirror.get(jti)
        item = self._not_before.get(user_id)
        now = time.monotonic()
        return (
            until is not None and until > now,
            item[0] if item is not None and item[1] > now else None,
        )

    def _remember_not_before(self, user_id: str, at_ms: int, ttl: float) -> None:
        now = time.monotonic()
        if len(self._not_before) > 10_000:
            self._not_before = {k: v for k, v in self._not_before.items() if v[1] > now}
        previous = self._not_before.get(user_id)
        if previous is not None and previous[1] > now:
            at_ms = max(at_ms, previous[0])
        self._not_before[user_id] = (at_ms, now + ttl)

    def _remember(self, jti: str, ttl: float) -> None:
        now = time.monotonic()
        if len(self._mirror) > 10_000:
            self._mirror = {k: t for k, t in self._mirror.items() if t > now}
        self._mirror[jti] = now + ttl

    def _on_message(self, channel: str, data: bytes) -> None:
        if channel == self._nb_channel:
            user_id, at_ms, ttl = data.decode().split(" ")
            self._remember_not_before(user_id, int(at_ms), float(ttl))
            return
        jti, _, ttl = data.decode().partition(" ")
        self._remember(jti, float(ttl or 1))

    def _unsync(self) -> None:
        self._synced = False

    def _reload(self) -> None:
        if self._loading is None or self._loading.done():
            self._loading = asyncio.create_task(self._load(), name="revocation-mirror")

    async def _load(self) -> None:
        """Subscribe first, then read every revoked id and not-before: none can fall between."""
        try:
            await self._subscriber.subscribe(self._channel)
            await self._subscriber.subscribe(self._nb_channel)
            keys = [k async for k in self._redis.scan_iter(match=self._prefix + "*", count=1000)]
            ttls = []
            if keys:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for key in keys:
                        pipe.ttl(key)
                    ttls = await pipe.execute()
            users = [
                k async for k in self._redis.scan_iter(match=self._nb_prefix + "*", count=1000)
            ]
            values = []
            if users:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for key in users:
                        pipe.get(key)
                        pipe.ttl(key)
                    values = await pipe.execute()
        except Exception:  # the next check tries again; meanwhile Redis is asked directly
            return
        for key, ttl in zip(keys, ttls, strict=True):
            if isinstance(ttl, int) and ttl > 0:
                self._remember(_text(key)[len(self._prefix) :], ttl)
        for key, at, ttl in zip(users, values[::2], values[1::2], strict=True):
            if at is not None and isinstance(ttl, int) and ttl > 0:
                self._remember_not_before(_text(key)[len(self._nb_prefix) :], int(at), ttl)
        self._synced = self._subscriber.connected

    async def aclose(self) -> None:
        if self._loading is not None:
            self._loading.cancel()
        await self._subscriber.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
