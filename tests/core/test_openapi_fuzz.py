"""Schemathesis over every service's OpenAPI: no input, however malformed, makes a 5xx; every
response matches what the OpenAPI documents; every 4xx is in the design's error shape.

The system is the embedded composition (so calls between services work) on the distributed
adapters: PostgreSQL is the stricter database (it refuses NUL characters, over-long strings and
out-of-range integers that SQLite quietly stores). Each service is fuzzed through its gateway
prefix, with a fresh admin token on every request so that protected
routes are exercised too (and a fuzzed `POST /logout` cannot lock the rest of the run out).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.python import asgi

from boxoffice.core.auth import issue_token
from boxoffice.core.runtime import redis_runtime
from boxoffice.embedded import create_embedded_app
from boxoffice.settings import Settings
from boxoffice.topology import GATEWAY_PREFIXES, SERVICE_NAMES
from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    POSTGRES_URL,
    RABBITMQ_URL,
    REDIS_URL,
    TEST_SECRET,
    delete_redis_prefix,
    drop_databases_with_prefix,
)

CONFIG = {
    # Positive and negative data; no shrinking, so a failure is reported at once (with its curl
    # line) instead of costing minutes of minimisation against a real database.
    "generation": {"mode": "all", "max-examples": 25, "no-shrink": True},
    "phases": {"stateful": {"enabled": False}},
    "checks": {
        # Only the checks this file promises; the auth matrix covers authentication.
        "enabled": False,
        "not_a_server_error": {"enabled": True},
        "status_code_conformance": {"enabled": True},
        "content_type_conformance": {"enabled": True},
        "response_schema_conformance": {"enabled": True},
        "response_headers_conformance": {"enabled": True},
    },
}


@schemathesis.check
def error_shape(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """Every 4xx carries {"detail", "status_code", "error_type"} with its own status."""
    if not 400 <= response.status_code < 500:
        return
    body = response.json()
    assert isinstance(body, dict), f"4xx body is not an object: {response.text[:200]}"
    missing = {"detail", "status_code", "error_type"} - set(body)
    assert not missing, f"4xx body lacks {sorted(missing)}: {body}"
    assert body["status_code"] == response.status_code, f"status_code mismatch: {body}"
    assert isinstance(body["detail"], str) and isinstance(body["error_type"], str), body


def _settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "BOXOFFICE_MODE": "distributed",
        "postgres_url": POSTGRES_URL,
        "redis_url": REDIS_URL,
        "rabbitmq_url": RABBITMQ_URL,
        "BOXOFFICE_DB_PREFIX": f"fuzz{uuid.uuid4().hex[:8]}_",
        "secret_key": TEST_SECRET,
        "bcrypt_rounds": 4,
        "BOXOFFICE_DATA_DIR": data_dir,
        "BOXOFFICE_ADMIN_EMAIL": ADMIN_EMAIL,
        "BOXOFFICE_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "BOXOFFICE_DEMO_DATA": False,
        "log_json": False,
        "log_level": "ERROR",
        "http_retries": 1,
        # The fuzzer is one very busy client: it is not what the rate limits are about.
        "rate_limit_general": "1000000/minute",
        "rate_limit_booking": "1000000/minute",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _service_schemas() -> dict[str, Any]:
    """Each service's OpenAPI, read from an app that is built but never started, and served
    (as the gateway does) under its prefix."""
    blueprint = create_embedded_app(
        _settings(Path("."), database_url="sqlite+aiosqlite:///:memory:")
    )
    schemas = {}
    for name in SERVICE_NAMES:
        document = blueprint.state.service_apps[name].openapi()
        document = {**document, "servers": [{"url": f"/api/{GATEWAY_PREFIXES[name]}"}]}
        schema = schemathesis.openapi.from_dict(
            document, config=schemathesis.Config.from_dict(CONFIG)
        )
        # The live seat stream never ends by itself (a test client would wait forever); its
        # input is the same showtime id as seat-status, and tests/booking/test_live.py runs it
        # against a real server.
        schemas[name] = schema.exclude(path_regex="seat-events")
    return schemas


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Settings, uuid.UUID]]:
    """The running embedded system (its lifespan run by schemathesis's ASGI client) and the
    id of its admin."""
    settings = _settings(tmp_path_factory.mktemp("fuzz"))
    runtime = redis_runtime(settings)
    app = create_embedded_app(settings, runtime)
    try:
        with asgi.get_client(app) as client:
            login = client.post(
                "/api/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
        assert login.status_code == 200, login.text
        yield app, settings, uuid.UUID(login.json()["user"]["id"])
    finally:
        asgi.shutdown_lifespans()
        asyncio.run(drop_databases_with_prefix(settings.db_prefix))
        asyncio.run(delete_redis_prefix(f"{settings.db_prefix}bo:"))
        # The exchange and queues the services declared on the shared RabbitMQ go too.
        asyncio.run(runtime.bus.delete_topology())


@pytest.fixture(scope="module")
def send(system: tuple[Any, Settings, uuid.UUID]) -> Callable[[schemathesis.Case], None]:
    """Send a case to the running system as the admin (a freshly minted token each time)."""
    app, settings, admin_id = system

    def call(case: schemathesis.Case) -> None:
        token, _ = issue_token(settings, user_id=admin_id, email=ADMIN_EMAIL, role="admin")
        case.call_and_validate(
            app=app,
            headers={"Authorization": f"Bearer {token}"},
            additional_checks=[error_shape],
        )

    return call


@schemathesis.pytest.parametrize(**_service_schemas())
def test_no_request_breaks_a_service_or_its_documented_contract(
    case: schemathesis.Case, send: Callable[[schemathesis.Case], None]
) -> None:
    send(case)
