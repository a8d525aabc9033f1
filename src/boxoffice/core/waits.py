"""Waiting with a time limit, without losing a cancellation.

On Python 3.11, `asyncio.wait_for` can swallow a cancellation that arrives just as the awaited
thing finishes or times out (python/cpython#86296, fixed in 3.12): the caller goes on as if
never cancelled. A background loop that polls with it (`wait_for(event.wait(), poll)` in a
`while True`) then never stops; the test suite hung for its full timeout in teardown on exactly
that (the in-process bus's consumer), and so could embedded mode's shutdown. `asyncio.timeout`
tells its own cancellation from anyone else's, so that is what waits here use.
"""

from __future__ import annotations

import asyncio


async def wait_set(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set, at most `seconds`; whether it was set."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
