"""Bad input to the payment service gets a clear 4xx in the error shape and changes nothing."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import bearer, running_system
from tests.payment.conftest import build_settings

# One system per module and backend (see conftest.py): its event loop is the module's.
pytestmark = pytest.mark.asyncio(loop_scope="module")

GOOD = {"booking_id": str(uuid.uuid4()), "payment_method": "credit_card", "amount": 120000.0}


def assert_error_shape(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status_code"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["error_type"], str)


async def test_paying_without_a_token_is_401(payment_api):
    response = await payment_api.post(
        "/api/payments/process", json=GOOD, headers={"Idempotency-Key": "k"}
    )
    assert_error_shape(response, 401)


async def test_paying_without_a_usable_idempotency_key_is_400(payment_api, token_for):
    for key in (None, "", "   ", "x" * 256, "tab\tinside", "ключ".encode()):
        headers: dict = bearer(token_for())
        if key is not None:
            headers["Idempotency-Key"] = key
        response = await payment_api.post("/api/payments/process", json=GOOD, headers=headers)
        assert_error_shape(response, 400)
        assert response.json()["error_type"] == "IdempotencyKeyMissing", key


MALFORMED_BODIES = [
    {},
    {**GOOD, "booking_id": "not-a-uuid"},
    {**GOOD, "amount": 0},
    {**GOOD, "amount": -5},
    {**GOOD, "amount": "NaN"},
    {**GOOD, "amount": "Infinity"},
    {**GOOD, "amount": 1.005},
    {**GOOD, "amount": 10**13},
    {**GOOD, "amount": "lots"},
    {**GOOD, "payment_method": "cash_in_an_envelope"},
    {**GOOD, "payment_token": "t" * 300},
    {**GOOD, "surprise": True},
    [GOOD],
    "just a string",
]


async def test_malformed_payment_bodies_are_400(payment_api, token_for):
    for body in MALFORMED_BODIES:
        headers = {**bearer(token_for()), "Idempotency-Key": uuid.uuid4().hex}
        response = await payment_api.post("/api/payments/process", json=body, headers=headers)
        assert_error_shape(response, 400)


async def test_a_body_that_is_not_json_is_400(payment_api, token_for):
    headers = {
        **bearer(token_for()),
        "Idempotency-Key": "k",
        "Content-Type": "application/json",
    }
    response = await payment_api.post(
        "/api/payments/process", content=b"{not json", headers=headers
    )
    assert_error_shape(response, 400)


async def test_malformed_payment_ids_and_list_parameters_are_400(payment_api, token_for):
    token = bearer(token_for())
    assert_error_shape(
        await payment_api.get("/api/payments/payments/not-a-uuid", headers=token), 400
    )
    assert_error_shape(
        await payment_api.post("/api/payments/payments/123/refund", headers=token), 400
    )
    for query in (
        {"limit": 0},
        {"limit": 201},
        {"offset": -1},
        {"status": "stolen"},
        {"booking_id": "x"},
    ):
        response = await payment_api.get("/api/payments/payments", params=query, headers=token)
        assert_error_shape(response, 400)


async def test_an_unknown_payment_is_404_and_refunding_it_too(payment_api, token_for):
    token = bearer(token_for())
    missing = uuid.uuid4()
    assert_error_shape(
        await payment_api.get(f"/api/payments/payments/{missing}", headers=token), 404
    )
    assert_error_shape(
        await payment_api.post(f"/api/payments/payments/{missing}/refund", headers=token), 404
    )


async def test_reconciliation_is_for_admins_only(payment_api, token_for):
    response = await payment_api.post(
        "/api/payments/reconcile", headers=bearer(token_for("customer"))
    )
    assert_error_shape(response, 403)
    response = await payment_api.post("/api/payments/reconcile")
    assert_error_shape(response, 401)


async def test_with_the_booking_service_down_paying_is_503_fast_and_charges_nothing(
    payment_backend, tmp_path, token_for
):
    settings = build_settings(
        payment_backend,
        tmp_path,
        f"t{uuid.uuid4().hex[:10]}_",
        booking_service_url="http://127.0.0.1:1",  # nothing listens there
        breaker_failure_threshold=2,
    )
    async with running_system(settings, ("payment",)) as api:
        token = bearer(token_for())
        answers = []
        for _ in range(3):
            headers = {**token, "Idempotency-Key": uuid.uuid4().hex}
            answers.append(await api.post("/api/payments/process", json=GOOD, headers=headers))
        listed = await api.get("/api/payments/payments", headers=token)
        gateway = api.app.state.service_apps["payment"].state.ctx.state["provider"]

    for response in answers:
        assert_error_shape(response, 503)
    assert "circuit open" in answers[-1].json()["detail"]
    assert listed.json() == []
    assert gateway.charge_calls == 0
