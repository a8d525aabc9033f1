"""The security stories run on the payment suite's systems (SQLite + in-process adapters, and
PostgreSQL + Redis + RabbitMQ): a cinema with movie, booking and payment. The web site's
stories run on the browser suite's `site`: the embedded system on a real port."""

from tests.browser.conftest import site  # noqa: F401  (fixture)
from tests.payment.conftest import (  # noqa: F401  (fixtures)
    cinema,
    open_cinema,
    payment_backend,
    shared_cinema,
)
