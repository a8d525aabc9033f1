"""The in-app inbox: a user's own notices, newest first, unread counts, marking read, and
`/send`, which only admins may use."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.conftest import bearer
from tests.notification.conftest import notices

SEND = "/api/notifications/send"
INBOX = "/api/notifications/notifications"

# One system per backend for the module; every story uses users of its own.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture
def api(shared_api):
    return shared_api


async def send(api, admin, user_id, subject="Hello", **extra):
    body = {"user_id": str(user_id), "subject": subject, "message": f"{subject}, world", **extra}
    response = await api.post(SEND, json=body, headers=bearer(admin))
    assert response.status_code == 201, response.text
    return response.json()


async def test_customers_and_staff_cannot_send_and_nothing_is_created(api, token_for):
    alice = uuid.uuid4()
    body = {"user_id": str(alice), "subject": "Free tickets", "message": "Click here"}
    as_customer = await api.post(SEND, json=body, headers=bearer(token_for("customer")))
    as_staff = await api.post(SEND, json=body, headers=bearer(token_for("staff")))
    anonymous = await api.post(SEND, json=body)
    assert as_customer.status_code == 403
    assert as_customer.json()["error_type"] == "PermissionError"
    assert as_staff.status_code == 403
    assert anonymous.status_code == 401
    assert await notices(api, token_for(user_id=alice)) == []


async def test_admin_sends_a_notice_the_user_then_sees_unread(api, token_for):
    alice = uuid.uuid4()
    sent = await send(api, token_for("admin"), alice, "Cinema closed on Monday")
    assert sent["user_id"] == str(alice)
    assert sent["type"] == "general"
    assert sent["status"] == "sent"  # nothing to e-mail: delivered once it is in the inbox
    assert sent["read"] is False and sent["read_at"] is None

    inbox = await notices(api, token_for(user_id=alice))
    assert [n["subject"] for n in inbox] == ["Cinema closed on Monday"]
    assert inbox[0]["message"] == "Cinema closed on Monday, world"


async def test_inbox_is_newest_first_with_the_unread_count(api, token_for):
    alice = uuid.uuid4()
    admin = token_for("admin")
    for subject in ("first", "second", "third"):
        await send(api, admin, alice, subject)
    token = token_for(user_id=alice)
    response = await api.get(INBOX, headers=bearer(token))
    assert [n["subject"] for n in response.json()] == ["third", "second", "first"]
    assert response.headers["X-Unread-Count"] == "3"

    page = await notices(api, token, limit=2, offset=1)
    assert [n["subject"] for n in page] == ["second", "first"]

    await api.post(f"{INBOX}/{response.json()[0]['id']}/read", headers=bearer(token))
    count = await api.get(f"{INBOX}/unread-count", headers=bearer(token))
    assert count.json() == {"unread": 2}
    unread = await notices(api, token, unread="true")
    assert [n["subject"] for n in unread] == ["second", "first"]


async def test_another_user_can_neither_see_nor_mark_your_notice(api, token_for):
    alice, mallory = uuid.uuid4(), uuid.uuid4()
    note = await send(api, token_for("admin"), alice, "Your tickets")
    intruder = token_for(user_id=mallory)

    assert await notices(api, intruder) == []
    marked = await api.post(f"{INBOX}/{note['id']}/read", headers=bearer(intruder))
    assert marked.status_code == 404
    assert marked.json()["error_type"] == "NotFoundError"

    alices = await notices(api, token_for(user_id=alice))
    assert alices[0]["read"] is False


async def test_marking_read_twice_is_fine_and_keeps_the_first_time(api, token_for):
    alice = uuid.uuid4()
    note = await send(api, token_for("admin"), alice)
    token = token_for(user_id=alice)
    first = await api.post(f"{INBOX}/{note['id']}/read", headers=bearer(token))
    again = await api.post(f"{INBOX}/{note['id']}/read", headers=bearer(token))
    assert first.status_code == again.status_code == 200
    assert first.json()["read"] is True
    assert again.json()["read_at"] == first.json()["read_at"]
    count = await api.get(f"{INBOX}/unread-count", headers=bearer(token))
    assert count.json() == {"unread": 0}


async def test_read_all_marks_only_the_callers_notices(api, token_for):
    alice, bob = uuid.uuid4(), uuid.uuid4()
    admin = token_for("admin")
    await asyncio.gather(*(send(api, admin, alice, f"a{i}") for i in range(3)))
    await send(api, admin, bob, "b")
    marked = await api.post(f"{INBOX}/read-all", headers=bearer(token_for(user_id=alice)))
    assert marked.json() == {"marked": 3}
    bobs = await api.get(f"{INBOX}/unread-count", headers=bearer(token_for(user_id=bob)))
    assert bobs.json() == {"unread": 1}


async def test_concurrent_marks_of_many_notices_all_land(api, token_for):
    alice = uuid.uuid4()
    admin = token_for("admin")
    notes = await asyncio.gather(*(send(api, admin, alice, f"n{i}") for i in range(12)))
    token = token_for(user_id=alice)
    # Each notice is marked three times at once: all succeed, every notice ends read.
    results = await asyncio.gather(
        *(
            api.post(f"{INBOX}/{n['id']}/read", headers=bearer(token))
            for n in notes
            for _ in range(3)
        )
    )
    assert {r.status_code for r in results} == {200}
    count = await api.get(f"{INBOX}/unread-count", headers=bearer(token))
    assert count.json() == {"unread": 0}


async def test_bad_input_is_a_clear_400_and_creates_nothing(api, token_for):
    alice = uuid.uuid4()
    admin = bearer(token_for("admin"))
    token = bearer(token_for(user_id=alice))
    good = {"user_id": str(alice), "subject": "s", "message": "m"}
    bad_bodies = [
        {**good, "user_id": "not-a-uuid"},
        {**good, "email": "not an address"},
        {**good, "email": "a@b.example\r\nBcc: all@x.example"},
        {**good, "subject": ""},
        {**good, "subject": "x" * 201},
        {**good, "subject": "nul\u0000byte"},
        {**good, "subject": "two\nlines"},
        {**good, "message": "nul\u0000byte"},
        {**good, "email": "a\u0000@b.example"},
        {**good, "type": "Has Spaces"},
        {**good, "unexpected": 1},
        {"subject": "s", "message": "m"},
    ]
    for body in bad_bodies:
        response = await api.post(SEND, json=body, headers=admin)
        assert response.status_code == 400, (body, response.text)
        assert set(response.json()) >= {"detail", "status_code", "error_type"}
    # A lone surrogate (valid JSON escape, not valid text) too.
    surrogate = f'{{"user_id": "{alice}", "subject": "s", "message": "x\\ud800"}}'.encode()
    for raw in (b"{", b"[]", b"null", surrogate):
        response = await api.post(
            SEND, content=raw, headers={**admin, "Content-Type": "application/json"}
        )
        assert response.status_code == 400
    assert (await api.post(f"{INBOX}/nope/read", headers=token)).status_code == 400
    for params in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"unread": "maybe"}):
        assert (await api.get(INBOX, params=params, headers=token)).status_code == 400
    assert await notices(api, token_for(user_id=alice)) == []
    # Line breaks belong in a message, though.
    body = {**good, "message": "Line one\nLine two\ttabbed"}
    assert (await api.post(SEND, json=body, headers=admin)).status_code == 201


async def test_unknown_notice_is_404_and_inbox_needs_a_token(api, token_for):
    missing = await api.post(f"{INBOX}/{uuid.uuid4()}/read", headers=bearer(token_for("customer")))
    assert missing.status_code == 404
    assert (await api.get(INBOX)).status_code == 401
    assert (await api.get(f"{INBOX}/unread-count")).status_code == 401
