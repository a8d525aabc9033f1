"""Issue 11, finding 7: metrics are Prometheus's, not the public's, and every answer of the public
gateway carries the security headers, in both modes.

Embedded: the app `boxoffice up` serves (and `boxoffice up` itself, for its metrics listener).
Distributed: the real NGINX gateway, rendered as `boxoffice up --distributed` renders it, in front
of a real service (auth, on its own port, standing in for all five) and the real web site."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from boxoffice.core.app import create_service_app
from boxoffice.core.headers import (
    CONTENT_SECURITY_POLICY,
    DOCS_CONTENT_SECURITY_POLICY,
    STRICT_TRANSPORT_SECURITY,
)
from boxoffice.core.runtime import memory_runtime
from boxoffice.embedded import create_embedded_app, web_app_factory
from boxoffice.gateway.render import prepare_run_dir, render_local
from boxoffice.services import definition
from boxoffice.topology import GATEWAY_PREFIXES, SERVICE_NAMES
from tests.e2e.system import System, free_ports

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PREFIXES = list(GATEWAY_PREFIXES.values())
# What every answer of the public gateway carries, in both modes.
ALWAYS = {
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "X-XSS-Protection": "1; mode=block",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
# The site's resources: a page, its script and style, a poster, an API answer, an API error.
SITE_AND_API = ("/login", "/static/seatmap.js", "/static/style.css", "/api/auth/health")
ERRORS = ("/api/nowhere/at-all", "/api/auth/no-such-route")


def assert_secured(response: httpx.Response, csp: str = CONTENT_SECURITY_POLICY) -> None:
    where = f"{response.request.method} {response.url}"
    for name, value in ALWAYS.items():
        assert response.headers.get(name) == value, (where, name, dict(response.headers))
    assert response.headers.get("Content-Security-Policy") == csp, where
    allowed = response.headers.get("Permissions-Policy", "")
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
        assert feature in allowed, (where, allowed)


def assert_refused(response: httpx.Response) -> None:
    """A 404 in the design's error shape, with no series in it."""
    assert response.status_code == 404, (response.url, response.text[:200])
    assert response.json()["error_type"] == "NotFoundError"
    assert "http_requests_total" not in response.text


def metrics_paths() -> list[str]:
    return [f"/api/{prefix}/metrics" for prefix in PREFIXES] + ["/api/auth/metrics/"]


# --- embedded mode ----------------------------------------------------------------------------


@pytest.fixture
async def embedded(make_settings) -> Any:
    """The embedded system as `boxoffice up` serves it (gateway behaviour and the web site)."""
    settings = make_settings(rate_limit_general="1000/minute")
    app = create_embedded_app(settings, memory_runtime(settings), gateway=True)
    async with app.router.lifespan_context(app):

        def client(base_url: str = "http://test") -> httpx.AsyncClient:
            return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)

        yield client


async def test_embedded_gateway_serves_no_metrics(embedded):
    async with embedded() as http:
        assert (await http.get("/api/auth/health")).status_code == 200
        for path in metrics_paths():
            assert_refused(await http.get(path))


async def test_embedded_pages_api_answers_and_errors_carry_the_security_headers(embedded):
    async with embedded() as http:
        for path in (*SITE_AND_API, "/"):
            response = await http.get(path)
            assert response.status_code == 200, (path, response.text[:200])
            assert_secured(response)
        for path in ERRORS:
            response = await http.get(path)
            assert response.status_code == 404
            assert_secured(response)
        # The API docs load their bundles from a CDN: they get the docs' policy, and only they.
        docs = await http.get("/api/auth/docs")
        assert docs.status_code == 200
        assert_secured(docs, DOCS_CONTENT_SECURITY_POLICY)


async def test_embedded_sends_hsts_only_over_tls(embedded):
    async with embedded() as http:
        plain = await http.get("/login")
        behind_tls = await http.get("/login", headers={"X-Forwarded-Proto": "https"})
    async with embedded("https://test") as https:
        direct_tls = await https.get("/api/auth/health")
    assert "Strict-Transport-Security" not in plain.headers
    assert behind_tls.headers["Strict-Transport-Security"] == STRICT_TRANSPORT_SECURITY
    assert direct_tls.headers["Strict-Transport-Security"] == STRICT_TRANSPORT_SECURITY
    assert_secured(direct_tls)


def test_boxoffice_up_serves_metrics_on_a_local_port_of_their_own(tmp_path):
    metrics_port = free_ports(1)
    system = System(tmp_path, distributed=False, env={"METRICS_PORT": str(metrics_port)})
    try:
        system.start()
        assert f"http://127.0.0.1:{metrics_port}/metrics" in system.output()
        with httpx.Client(base_url=system.base_url, trust_env=False, timeout=30) as public:
            assert public.get("/api/auth/health").status_code == 200
            for path in metrics_paths():
                assert_refused(public.get(path))
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", trust_env=False)
        assert scraped.status_code == 200
        assert 'http_requests_total{method="GET",route="/health",service="auth"' in scraped.text
        # Stopped with the system: no listener left behind.
        assert system.terminate() == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", trust_env=False)
    finally:
        system.cleanup()


# --- distributed mode: the NGINX gateway --------------------------------------------------------


@contextlib.contextmanager
def serving(app: Any, port: int) -> Iterator[None]:
    """`app` under uvicorn on 127.0.0.1:`port`, in a thread, for the body."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port(port, lambda: not thread.is_alive())
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def wait_for_port(port: int, gave_up: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gave_up():
            raise RuntimeError(f"the server for port {port} stopped before listening")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


@pytest.fixture
def nginx_gateway(make_settings, tmp_path) -> Iterator[tuple[str, int]]:
    """NGINX with the local config, every service prefix routed to a real auth service on its
    own port, and the real web site; yields the gateway's base URL and the service's port."""
    if not shutil.which(NGINX):
        pytest.skip("nginx is not installed here")
    gateway_port = free_ports(3)
    service_port, web_port = gateway_port + 1, gateway_port + 2
    settings = make_settings(rate_limit_general="1000/minute")
    service = create_service_app(definition("auth"), memory_runtime(settings))
    factory = web_app_factory()
    assert factory is not None
    site = factory(settings.model_copy(update={"gateway_url": f"http://127.0.0.1:{gateway_port}"}))
    run_dir = tmp_path / "run"
    prepare_run_dir(run_dir)
    conf = run_dir / "nginx.conf"
    ports = {name: service_port for name in SERVICE_NAMES} | {"web": web_port}
    conf.write_text(render_local(settings, run_dir, port=gateway_port, ports=ports))
    with serving(service, service_port), serving(site, web_port):
        nginx = subprocess.Popen(
            [NGINX, "-p", str(run_dir), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_port(gateway_port, lambda: nginx.poll() is not None)
            yield f"http://127.0.0.1:{gateway_port}", service_port
        finally:
            nginx.terminate()
            nginx.wait(timeout=30)


def test_nginx_refuses_metrics_while_the_service_port_serves_them(nginx_gateway):
    base, service_port = nginx_gateway
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as gateway:
        assert gateway.get("/api/auth/health").status_code == 200
        for path in metrics_paths():
            refused = gateway.get(path)
            assert_refused(refused)
            assert_secured(refused)
    # Prometheus scrapes the service where it listens (deploy/prometheus, the k8s config).
    scraped = httpx.get(f"http://127.0.0.1:{service_port}/metrics", trust_env=False)
    assert scraped.status_code == 200
    assert 'http_requests_total{method="GET",route="/health",service="auth"' in scraped.text


def test_nginx_answers_pages_api_and_errors_with_the_same_security_headers(nginx_gateway):
    base, _ = nginx_gateway
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as gateway:
        for path in SITE_AND_API:
            response = gateway.get(path)
            assert response.status_code == 200, (path, response.text[:200])
            assert_secured(response)
        for path in ERRORS:
            response = gateway.get(path)
            assert response.status_code == 404
            assert_secured(response)
        docs = gateway.get("/api/auth/docs")
        assert docs.status_code == 200
        assert_secured(docs, DOCS_CONTENT_SECURITY_POLICY)
        assert "Strict-Transport-Security" not in docs.headers


def test_nginx_sends_hsts_only_behind_tls(nginx_gateway):
    base, _ = nginx_gateway
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as gateway:
        plain = gateway.get("/login")
        behind_tls = gateway.get("/login", headers={"X-Forwarded-Proto": "https"})
        spoofed_list = gateway.get("/login", headers={"X-Forwarded-Proto": "http, https"})
    assert "Strict-Transport-Security" not in plain.headers
    assert behind_tls.headers["Strict-Transport-Security"] == STRICT_TRANSPORT_SECURITY
    # The first hop's word counts, as in embedded mode.
    assert "Strict-Transport-Security" not in spoofed_list.headers
