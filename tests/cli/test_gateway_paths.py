"""The two gateways route alike: NGINX (distributed mode) and the embedded app answer every
path, with or without a trailing slash, the same way. Rule: a trailing slash on an API path is
ignored (`/api/movies/` is `/api/movies`, `/api/movies/movies/` is `/api/movies/movies`)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from boxoffice.core.app import create_service_app
from boxoffice.core.runtime import memory_runtime
from boxoffice.embedded import create_embedded_app
from boxoffice.gateway.render import prepare_run_dir, render_local
from boxoffice.services import definition
from boxoffice.settings import Settings
from boxoffice.topology import SERVICE_NAMES
from tests.e2e.system import free_ports
from tests.security.test_headers_and_metrics import serving, wait_for_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MISSING = uuid.UUID(int=7)
PATHS = [
    "/api/movies",
    "/api/movies/",
    "/api/movies?genre=Drama",
    "/api/movies/?genre=Drama",
    "/api/movies/movies",
    "/api/movies/movies/",
    "/api/movies/movies?genre=Drama",
    "/api/movies/movies/?genre=Drama",
    "/api/movies/theaters",
    "/api/movies/theaters/",
    "/api/movies/showtimes",
    "/api/movies/showtimes/",
    f"/api/movies/movies/{MISSING}",
    f"/api/movies/movies/{MISSING}/",
    "/api/movies/health",
    "/api/movies/health/",
    "/api/movies/nope",
    "/api/movies/nope/",
    "/api/nope/",
]


def _answers(base: str) -> dict[str, tuple[int, object]]:
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as client:
        answers = {}
        for path in PATHS:
            response = client.get(path)
            body = response.json() if "json" in response.headers.get("content-type", "") else None
            answers[path] = (response.status_code, _without_volatile(body))
        return answers


def _without_volatile(body: object) -> object:
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if k not in ("timestamp", "checks", "uptime")}
    return body


@pytest.fixture
def gateways(make_settings, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The base URLs of NGINX in front of a real movie service, and of the embedded app."""
    if not shutil.which(NGINX):
        pytest.skip("nginx is not installed here")
    gateway_port = free_ports(4)
    service_port, web_port, embedded_port = gateway_port + 1, gateway_port + 2, gateway_port + 3
    settings: Settings = make_settings(rate_limit_general="1000/minute")
    embedded_settings = settings.model_copy(update={"data_dir": tmp_path / "embedded"})
    service = create_service_app(definition("movie"), memory_runtime(settings))
    embedded = create_embedded_app(
        embedded_settings, memory_runtime(embedded_settings), services=("movie",), gateway=True
    )
    run_dir = tmp_path / "run"
    prepare_run_dir(run_dir)
    conf = run_dir / "nginx.conf"
    ports = {name: service_port for name in SERVICE_NAMES} | {"web": web_port}
    conf.write_text(render_local(settings, run_dir, port=gateway_port, ports=ports))
    with serving(service, service_port), serving(embedded, embedded_port):
        nginx = subprocess.Popen(
            [NGINX, "-p", str(run_dir), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_port(gateway_port, lambda: nginx.poll() is not None)
            yield f"http://127.0.0.1:{gateway_port}", f"http://127.0.0.1:{embedded_port}"
        finally:
            nginx.terminate()
            nginx.wait(timeout=30)


def test_nginx_and_the_embedded_app_answer_every_path_alike(gateways) -> None:
    through_nginx, embedded = (_answers(base) for base in gateways)
    assert through_nginx == embedded
    # The slash is ignored: no redirect (a service's would lose the gateway's prefix).
    for path, answer in through_nginx.items():
        bare = path.replace("/?", "?").rstrip("/")
        if bare != path and bare != "/api":
            assert answer == through_nginx.get(bare, answer), path
    for path in ("/api/movies/", "/api/movies/movies/", "/api/movies/?genre=Drama"):
        assert through_nginx[path] == (200, []), path
    assert through_nginx["/api/movies/theaters/"] == (200, [])
    assert through_nginx[f"/api/movies/movies/{MISSING}/"][0] == 404
    assert through_nginx["/api/movies/health/"][0] == 200
    assert through_nginx["/api/nope/"][0] == 404
