"""When `boxoffice up --distributed` cannot start, it says which part failed and why, exits
non-zero, and leaves nothing running."""

from __future__ import annotations

import socket

import pytest

from tests.e2e.system import System, free_ports

pytestmark = pytest.mark.distributed


@pytest.fixture
def make_system(tmp_path):
    systems = []

    def build(env=None, args=()):
        system = System(tmp_path, distributed=True, env=env, args=args)
        systems.append(system)
        return system

    yield build
    for system in systems:
        system.cleanup()


def closed_port() -> int:
    return free_ports(1)  # nothing listens there


@pytest.mark.parametrize(
    ("variable", "url", "part"),
    [
        ("POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres", "PostgreSQL"),
        ("REDIS_URL", "redis://127.0.0.1:{port}/0", "Redis"),
        ("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:{port}/", "RabbitMQ"),
    ],
)
def test_an_unreachable_server_is_named_with_its_address(make_system, variable, url, part):
    port = closed_port()
    system = make_system(env={variable: url.format(port=port)})
    assert system.run_until_exit() == 1
    output = system.output()
    assert f"{part} unreachable at " in output
    assert f"127.0.0.1:{port}" in output
    assert "guest:guest" not in output  # passwords stay out of messages
    assert not (system.run_dir / "state.json").exists()  # nothing was started
    assert system.leftover_pids() == []


def test_a_missing_nginx_is_named(make_system, tmp_path):
    system = make_system(args=["--nginx", str(tmp_path / "no-nginx-here")])
    assert system.run_until_exit() == 1
    assert "nginx not installed" in system.output()


def test_a_busy_gateway_port_is_named(make_system):
    system = make_system()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", system.port))
        squatter.listen()
        assert system.run_until_exit() == 1
    assert f"gateway: port {system.port} on 127.0.0.1 is in use" in system.output()


def test_a_database_that_cannot_be_migrated_is_named_before_anything_starts(make_system):
    # The servers answer, but the auth service's own database URL points nowhere.
    bad_url = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/auth_db"
    system = make_system(env={"DATABASE_URL": bad_url}, args=["--only", "auth"])
    assert system.run_until_exit() == 1
    output = system.output()
    assert "auth: cannot migrate its database at " in output
    assert not (system.run_dir / "state.json").exists()  # migrated first, then started
    assert system.leftover_pids() == []


def test_a_service_that_cannot_start_is_named_with_its_last_lines(make_system):
    # Migrated, but the auth service refuses to start with an admin password this short.
    env = {"BOXOFFICE_ADMIN_EMAIL": "admin@example.test", "BOXOFFICE_ADMIN_PASSWORD": "abc"}
    system = make_system(env=env, args=["--only", "auth", "--workers", "1"])
    assert system.run_until_exit() == 1
    output = system.output()
    assert "auth failed to start (exited with code 3)" in output
    assert "BOXOFFICE_ADMIN_PASSWORD must be 6 characters" in output
    assert "every part stopped" in output
    assert system.leftover_pids() == []
