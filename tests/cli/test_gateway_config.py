"""The NGINX gateway config: one template, rendered for local runs (checked by `nginx -t`) and
for containers (`boxoffice gateway-config --target compose`)."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from boxoffice.cli import app
from boxoffice.gateway.render import prepare_run_dir, render_compose, render_local
from boxoffice.settings import Settings
from boxoffice.topology import GATEWAY_PREFIXES

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


def test_the_local_config_is_one_nginx_accepts(tmp_path):
    run_dir = tmp_path / "run"
    prepare_run_dir(run_dir)
    conf = run_dir / "nginx.conf"
    conf.write_text(render_local(settings(), run_dir, port=18080))
    checked = subprocess.run(
        [NGINX, "-t", "-p", str(run_dir), "-c", str(conf), "-e", "stderr"],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr


def test_every_service_prefix_routes_to_its_service_and_api_movies_lists_movies():
    text = render_local(settings(), Path("/srv/run"), port=8080)
    assert "pid /srv/run/nginx.pid;" in text
    for name, prefix in GATEWAY_PREFIXES.items():
        assert re.search(rf"location /api/{prefix}/ {{[^}}]*proxy_pass http://{name}/;", text), (
            prefix
        )
    assert re.search(r"location = /api/movies {[^}]*proxy_pass http://movie/movies;", text)
    assert re.search(r"location / {[^}]*proxy_pass http://web;", text)
    assert "server 127.0.0.1:8003;" in text  # booking, from SERVICE_PORTS


def test_the_gateway_passes_the_client_address_and_the_correlation_id():
    text = render_compose(settings())
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in text
    assert "proxy_set_header X-Real-IP $remote_addr;" in text
    # The caller's id, or one the gateway makes ($request_id) when the caller sent none.
    assert "proxy_set_header X-Correlation-ID $correlation_id;" in text
    assert re.search(r'map \$http_x_correlation_id \$correlation_id {\s*"" \$request_id;', text)


def test_the_compose_config_reaches_services_by_name_and_logs_to_the_console():
    text = render_compose(settings())
    for upstream in ("auth:8001", "movie:8002", "booking:8003", "payment:8004", "web:8006"):
        assert f"server {upstream};" in text
    assert "listen 80;" in text
    assert "access_log /dev/stdout" in text
    assert "error_log stderr" in text
    assert "127.0.0.1" not in text
    assert "pid " not in text


@pytest.mark.parametrize(
    ("general", "booking", "zones"),
    [
        ("60/minute", "10/minute", ("rate=60r/m", "burst=60 nodelay", "rate=10r/m")),
        ("5/second", "2/second", ("rate=5r/s", "burst=300 nodelay", "rate=2r/s")),
        ("120/hour", "30/hour", ("rate=2r/m", "burst=2 nodelay", "rate=1r/m")),
    ],
)
def test_rate_limits_come_from_the_settings(general, booking, zones):
    text = render_compose(settings(rate_limit_general=general, rate_limit_booking=booking))
    for zone in zones:
        assert zone in text


def test_the_stricter_limit_covers_booking_cancelling_and_paying_only():
    text = render_compose(settings())
    limited = re.findall(r"location ~ \^(\S+) {[^}]*limit_req zone=booking", text)
    assert limited == [
        "/api/bookings(/book)/?$",
        "/api/bookings(/bookings/[^/]+/cancel)/?$",
        "/api/payments(/process)/?$",
    ]
    # Counted for POSTs only: the zone's key is empty for every other method.
    assert re.search(r"map \$request_method \$booking_limit_key {\s*POST", text)


def test_gateway_errors_are_json_in_the_error_shape():
    text = render_compose(settings())
    for status in (400, 404, 413, 429, 502, 503, 504):
        assert f"error_page {status} @error_{status};" in text
        assert re.search(
            rf"return {status} '{{\"detail\":\"[^\"]+\",\"status_code\":{status},"
            rf"\"error_type\":\"\w+\"}}';",
            text,
        ), status


def test_the_cli_writes_the_compose_config(tmp_path, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_GENERAL", "90/minute")
    output = tmp_path / "nginx.conf"
    result = CliRunner().invoke(app, ["gateway-config", "--target", "compose", "--output", output])
    assert result.exit_code == 0, result.output
    assert output.read_text() == render_compose(settings(rate_limit_general="90/minute"))
    assert "rate=90r/m" in output.read_text()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_sites_own_port_skips_the_general_limit_and_the_public_port_keeps_it(tmp_path):
    """Containers: the web site calls the gateway on its own port (compose and k8s publish only
    port 80), where a page's several API calls do not spend the visitor's general limit."""
    public, site, nothing = _free_port(), _free_port(), _free_port()
    run_dir = tmp_path / "run"
    prepare_run_dir(run_dir)
    conf = run_dir / "nginx.conf"
    # No service is up behind it (every upstream is a closed port): the limit answers first.
    ports = {name: nothing for name in GATEWAY_PREFIXES} | {"web": nothing}
    conf.write_text(render_local(settings(), run_dir, port=public, ports=ports, site_port=site))
    nginx = subprocess.Popen(
        [NGINX, "-p", str(run_dir), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for port in (public, site):
            for _ in range(100):
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.1)

        def statuses(port: int) -> list[int]:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
                return [client.get("/api/movies/movies").status_code for _ in range(90)]

        from_the_site = statuses(site)
        from_outside = statuses(public)
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)
    assert 429 not in from_the_site
    assert from_the_site.count(502) == 90  # it went on to the (absent) service every time
    # 60 a minute with a burst of 60: the public port refuses the rest.
    assert from_outside.count(429) >= 20, from_outside


def test_the_compose_config_gives_the_site_its_own_port():
    text = render_compose(settings())
    assert re.search(r"listen 80;\s*listen 8081;", text)
    assert re.search(r'map \$server_port \$general_limit_key {\s*8081 "";', text)
