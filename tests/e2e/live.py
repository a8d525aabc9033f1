"""Open seat maps as browsers keep them: many listeners on one showtime's live stream
(`seat-events`, server-sent events), a hold made meanwhile, and what each listener heard."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp


@dataclass
class Listener:
    """One open stream: the events it heard, in order."""

    events: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    got: asyncio.Event = field(default_factory=asyncio.Event)

    def seats_after_snapshot(self) -> dict[str, str]:
        seats: dict[str, str] = {}
        for _, _, data in self.events:
            seats.update(data["seats"])
        return seats


async def read_stream(response: aiohttp.ClientResponse, listener: Listener) -> None:
    kind, event_id = "message", 0
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("data: "):
            listener.events.append((kind, event_id, json.loads(line[6:])))
            listener.got.set()


async def make_showtime(http: aiohttp.ClientSession, base: str, admin: dict[str, str]) -> str:
    tag = uuid.uuid4().hex[:8]
    movie = await http.post(
        f"{base}/api/movies/movies",
        headers=admin,
        json={"title": f"Live {tag}", "duration_minutes": 90, "genre": "Drama"},
    )
    theater = await http.post(
        f"{base}/api/movies/theaters",
        headers=admin,
        json={"name": f"Live {tag}", "location": "1 Main St", "city": "Hanoi", "rows": 3}
        | {"seats_per_row": 6},
    )
    day = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    showtime = await http.post(
        f"{base}/api/movies/showtimes",
        headers=admin,
        json={"movie_id": (await movie.json())["id"], "theater_id": (await theater.json())["id"]}
        | {"show_date": day, "show_time": "21:10:00", "price": 90000},
    )
    assert showtime.status == 201, await showtime.text()
    return str((await showtime.json())["id"])


async def customer(http: aiohttp.ClientSession, base: str) -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    email = f"live-{tag}@example.com"
    await http.post(
        f"{base}/api/auth/register",
        json={"email": email, "username": f"live{tag}", "password": "secret123"},
    )
    token = await http.post(
        f"{base}/api/auth/token", data={"username": email, "password": "secret123"}
    )
    return {"Authorization": f"Bearer {(await token.json())['access_token']}"}


async def watch_a_hold(base: str, admin_login: tuple[str, str], listeners: int) -> dict[str, Any]:
    """`listeners` open seat maps of a new showtime; a customer holds a seat. What they heard."""
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        login = await http.post(
            f"{base}/api/auth/token",
            data={"username": admin_login[0], "password": admin_login[1]},
        )
        admin = {"Authorization": f"Bearer {(await login.json())['access_token']}"}
        showtime = await make_showtime(http, base, admin)
        seat_map = await http.get(f"{base}/api/movies/showtimes/{showtime}/available-seats")
        seat = (await seat_map.json())["seats"][0]["id"]
        alice = await customer(http, base)
        url = f"{base}/api/bookings/showtimes/{showtime}/seat-events"
        opened = await asyncio.gather(*(http.get(url) for _ in range(listeners)))
        heard = [Listener() for _ in opened]
        readers = [
            asyncio.create_task(read_stream(r, listener))
            for r, listener in zip(opened, heard, strict=True)
        ]
        try:
            await asyncio.wait_for(asyncio.gather(*(h.got.wait() for h in heard)), 60)
            snapshot_version = heard[0].events[0][1]
            for listener in heard:
                listener.got.clear()
            held_at = asyncio.get_running_loop().time()
            hold = await http.post(
                f"{base}/api/bookings/seats/hold",
                headers=alice,
                json={"showtime_id": showtime, "seat_ids": [seat]},
            )
            assert hold.status == 200, await hold.text()
            await asyncio.wait_for(asyncio.gather(*(h.got.wait() for h in heard)), 30)
            delay = asyncio.get_running_loop().time() - held_at
            delta = await http.get(
                f"{base}/api/bookings/showtimes/{showtime}/seat-status",
                params={"since": snapshot_version},
            )
            resumed = Listener()
            again = await http.get(url, headers={"Last-Event-ID": str(snapshot_version)})
            resume_reader = asyncio.create_task(read_stream(again, resumed))
            await asyncio.wait_for(resumed.got.wait(), 30)
            resume_reader.cancel()
            again.close()
        finally:
            for task in readers:
                task.cancel()
            for response in opened:
                response.close()
        return {
            "seat": seat,
            "statuses": {r.status for r in opened},
            "first_kinds": {listener.events[0][0] for listener in heard},
            "seen": [listener.seats_after_snapshot().get(seat) for listener in heard],
            "delay_seconds": delay,
            "delta": await delta.json(),
            "resumed": resumed.events[0],
        }
