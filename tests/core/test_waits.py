"""A wait with a time limit never loses a cancellation (see boxoffice.core.waits)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from boxoffice.core.waits import wait_set


async def _cancel_as_it_is_set(wait) -> asyncio.Task:
    """Start `wait(event)`, then set the event and cancel the waiter in the same loop turn:
    what a shutdown does when it cancels a loop whose waker was just woken."""
    event = asyncio.Event()
    task = asyncio.create_task(wait(event))
    await asyncio.sleep(0)  # the task is now waiting
    event.set()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return task


async def test_a_cancellation_arriving_as_the_event_is_set_is_not_lost():
    task = await _cancel_as_it_is_set(lambda e: wait_set(e, 10))
    assert task.cancelled()


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="fixed in Python 3.12")
async def test_the_control_asyncio_wait_for_loses_it_on_python_3_11():
    # Why wait_set exists: the same sequence through wait_for returns as if never cancelled.
    task = await _cancel_as_it_is_set(lambda e: asyncio.wait_for(e.wait(), 10))
    assert not task.cancelled()


async def test_it_says_whether_the_event_was_set():
    event = asyncio.Event()
    assert await wait_set(event, 0.01) is False
    event.set()
    assert await wait_set(event, 0.01) is True
