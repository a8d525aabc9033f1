"""The card gateway simulator: the one mocked party, so it must behave like a real gateway."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

import pytest

from boxoffice.payment.provider import CardGatewayError, ChargeDeclined, SimulatedGateway

AMOUNT = Decimal("240000.00")


async def test_a_charge_gets_a_transaction_id_shaped_like_the_designs():
    gateway = SimulatedGateway()
    charge = await gateway.charge(
        reference="p1", amount=AMOUNT, payment_method="credit_card", token=None
    )
    assert re.fullmatch(r"TXN_\d{10}_[A-Z0-9]{10}", charge.transaction_id)
    assert gateway.money_held == AMOUNT


async def test_charging_one_reference_twice_moves_money_once():
    gateway = SimulatedGateway()
    first = await gateway.charge(
        reference="p1", amount=AMOUNT, payment_method="e_wallet", token="t"
    )
    again = await gateway.charge(
        reference="p1", amount=AMOUNT, payment_method="e_wallet", token="t"
    )
    assert first == again
    assert gateway.charge_calls == 2
    assert gateway.money_held == AMOUNT
    assert await gateway.find_charge("p1") == first
    assert await gateway.find_charge("p2") is None


async def test_tok_decline_is_declined_and_charges_nothing():
    gateway = SimulatedGateway()
    with pytest.raises(ChargeDeclined):
        await gateway.charge(
            reference="p1", amount=AMOUNT, payment_method="credit_card", token="tok_decline"
        )
    assert gateway.charges == {}


async def test_tok_timeout_hangs_past_the_callers_timeout():
    gateway = SimulatedGateway(timeout_seconds=0.1)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(
            gateway.charge(
                reference="p1", amount=AMOUNT, payment_method="credit_card", token="tok_timeout"
            ),
            timeout=0.1,
        )
    assert gateway.charges == {}


async def test_a_refund_returns_the_money_once_and_needs_the_charge():
    gateway = SimulatedGateway()
    charge = await gateway.charge(reference="p1", amount=AMOUNT, payment_method="x", token=None)
    with pytest.raises(CardGatewayError):
        await gateway.refund(reference="p1", transaction_id="TXN_other", amount=AMOUNT)
    first = await gateway.refund(
        reference="p1", transaction_id=charge.transaction_id, amount=AMOUNT
    )
    again = await gateway.refund(
        reference="p1", transaction_id=charge.transaction_id, amount=AMOUNT
    )
    assert first == again
    assert first.transaction_id.startswith("RFD_")
    assert gateway.money_held == Decimal("0.00")
