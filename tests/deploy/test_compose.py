"""deploy/compose.yaml: valid for Compose v2, one container per part, each service on its own
database, secrets required."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from boxoffice.topology import DATABASE_NAMES, SERVICE_NAMES, SERVICE_PORTS
from tests.deploy.tools import DEPLOY, compose_binary

SECRETS = {
    "SECRET_KEY": "k" * 64,
    "POSTGRES_PASSWORD": "pgpass1",
    "RABBITMQ_PASSWORD": "mqpass1",
    "GRAFANA_ADMIN_PASSWORD": "grpass1",
}


def compose_config(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`docker compose config` with exactly `env` as the env file (never a developer's .env)."""
    env_file = tmp_path / "test.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return subprocess.run(
        [
            compose_binary(),
            "-f",
            str(DEPLOY / "compose.yaml"),
            "--env-file",
            str(env_file),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        check=False,
    )


@pytest.fixture
def config(tmp_path: Path) -> dict[str, Any]:
    result = compose_config(tmp_path, SECRETS)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_compose_file_is_valid_once_the_secrets_are_set(config):
    assert set(config["services"]) >= {*SERVICE_NAMES, "web", "gateway", "redis", "rabbitmq"}


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_compose_refuses_to_start_without_each_secret(tmp_path, secret):
    env = {k: v for k, v in SECRETS.items() if k != secret}
    result = compose_config(tmp_path, env)
    assert result.returncode != 0
    assert secret in result.stderr


def test_a_misspelled_key_is_refused_by_the_validator(tmp_path):
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  auth:\n    image: boxoffice\n    comand: [serve, auth]\n")
    result = subprocess.run(
        [compose_binary(), "-f", str(broken), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "comand" in result.stderr


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_service_serves_its_part_on_its_port_with_a_health_check(config, name):
    svc = config["services"][name]
    port = SERVICE_PORTS[name]
    assert svc["command"] == ["serve", name, "--host", "0.0.0.0", "--port", str(port)]
    assert svc["build"]["dockerfile"] == "Dockerfile"
    # Ready, not merely alive: `depends_on: service_healthy` (the gateway's) waits for it.
    assert f"http://127.0.0.1:{port}/health/ready'" in " ".join(svc["healthcheck"]["test"])
    assert svc["environment"]["BOXOFFICE_MODE"] == "distributed"
    assert svc["environment"]["SECRET_KEY"] == SECRETS["SECRET_KEY"]


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_service_has_its_own_postgres_15_database(config, name):
    url = urlsplit(config["services"][name]["environment"]["DATABASE_URL"])
    database = config["services"][url.hostname]
    assert url.path == f"/{DATABASE_NAMES[name]}"
    assert url.password == SECRETS["POSTGRES_PASSWORD"]
    assert database["image"].startswith("postgres:15")
    assert database["environment"]["POSTGRES_DB"] == DATABASE_NAMES[name]
    assert config["services"][name]["depends_on"][url.hostname]["condition"] == "service_healthy"
    others = {
        urlsplit(config["services"][n]["environment"]["DATABASE_URL"]).hostname
        for n in SERVICE_NAMES
        if n != name
    }
    assert url.hostname not in others


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_database_is_migrated_once_before_its_service_starts(config, name):
    service = config["services"][name]
    migrate = config["services"][f"{name}-migrate"]
    assert migrate["command"] == ["migrate", name]
    assert migrate["environment"]["DATABASE_URL"] == service["environment"]["DATABASE_URL"]
    assert migrate["restart"] == "no"  # a one-shot: run, exit 0, done
    database = urlsplit(service["environment"]["DATABASE_URL"]).hostname
    assert migrate["depends_on"][database]["condition"] == "service_healthy"
    assert service["depends_on"][f"{name}-migrate"]["condition"] == (
        "service_completed_successfully"
    )
    # The replicas themselves never migrate (`serve` does only with --migrate).
    assert "--migrate" not in service["command"]


def test_services_find_each_other_redis_and_rabbitmq_by_name(config):
    env = config["services"]["booking"]["environment"]
    for name in SERVICE_NAMES:
        assert env[f"{name.upper()}_SERVICE_URL"] == f"http://{name}:{SERVICE_PORTS[name]}"
    assert urlsplit(env["REDIS_URL"]).hostname == "redis"
    rabbit = urlsplit(env["RABBITMQ_URL"])
    assert (rabbit.hostname, rabbit.password) == ("rabbitmq", SECRETS["RABBITMQ_PASSWORD"])
    assert config["services"]["redis"]["image"].startswith("redis:7")
    assert "management" in config["services"]["rabbitmq"]["image"]


def test_gateway_serves_port_80_with_the_rendered_nginx_config(config):
    gateway = config["services"]["gateway"]
    assert [p["target"] for p in gateway["ports"]] == [80]  # the site's 8081 is not published
    mounts = {v["target"]: Path(v["source"]) for v in gateway["volumes"]}
    assert mounts["/etc/nginx/nginx.conf"] == DEPLOY / "nginx/nginx.conf"
    web = config["services"]["web"]
    assert web["environment"]["GATEWAY_URL"] == "http://gateway:8081"
    assert web["command"] == ["serve", "web", "--host", "0.0.0.0", "--port", "8006"]
    assert "http://127.0.0.1:8006/health/ready'" in " ".join(web["healthcheck"]["test"])


def test_monitoring_mounts_files_that_exist(config):
    for name in ("gateway", "prometheus", "grafana"):
        for volume in config["services"][name]["volumes"]:
            if volume["type"] == "bind":
                assert Path(volume["source"]).exists(), volume["source"]
    prometheus = config["services"]["prometheus"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    grafana = config["services"]["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == SECRETS["GRAFANA_ADMIN_PASSWORD"]
