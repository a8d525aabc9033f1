"""The security stories run on the payment suite's systems (SQLite + in-process adapters, and
PostgreSQL + Redis + RabbitMQ): a cinema with movie, booking and payment."""

from tests.payment.conftest import (  # noqa: F401  (fixtures)
    cinema,
    open_cinema,
    payment_backend,
    shared_cinema,
)
