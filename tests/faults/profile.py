"""How hard the fault suite pushes: a short profile for CI, a long one on demand
(BOXOFFICE_SLOW=1, as the `slow` marker's tests)."""

from __future__ import annotations

from dataclasses import dataclass

from tests.slow_marker import slow_enabled


@dataclass(frozen=True)
class Profile:
    name: str
    clients: int  # customers of the load process, buying at once
    warmup_payments: int  # paid purchases of the load before a fault is injected
    outage_seconds: float  # how long a stopped server stays down
    after_seconds: float  # the load keeps running this long after the recovery
    recovery_bound: float  # seconds within which the probe must buy (and hear) again
    settle_bound: float  # seconds within which every check must hold after the load stops
    # The fault system's settings (besides what every run sets in conftest.system_env).
    settings: tuple[tuple[str, str], ...] = ()


SHORT = Profile(
    name="short",
    clients=4,
    warmup_payments=5,
    outage_seconds=4.0,
    after_seconds=2.0,
    recovery_bound=90.0,
    settle_bound=90.0,
    settings=(
        ("PAYMENT_GATEWAY_TIMEOUT_SECONDS", "2"),
        ("HTTP_TIMEOUT_SECONDS", "1"),
        ("BREAKER_RECOVERY_SECONDS", "5"),
    ),
)

LONG = Profile(
    name="long",
    clients=8,
    warmup_payments=40,
    outage_seconds=30.0,
    after_seconds=20.0,
    recovery_bound=180.0,
    settle_bound=180.0,
    settings=(("PAYMENT_GATEWAY_TIMEOUT_SECONDS", "3"),),
)


def current() -> Profile:
    return LONG if slow_enabled() else SHORT
