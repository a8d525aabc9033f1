"""Render the gateway's NGINX config from its one template, for local runs or containers.

    render_local(settings, run_dir, port=8080, ports={...})   # boxoffice up --distributed
    render_compose(settings)                                  # deploy/nginx/nginx.conf

`boxoffice gateway-config --target compose` prints the second (or writes it with `--output`).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import jinja2

from boxoffice.core.headers import (
    CONTENT_SECURITY_POLICY,
    DOCS_CONTENT_SECURITY_POLICY,
    DOCS_PATH,
    SECURITY_HEADERS,
    STRICT_TRANSPORT_SECURITY,
)
from boxoffice.core.ratelimit import RateLimit, site_proof
from boxoffice.settings import Settings
from boxoffice.topology import (
    BOOKING_LIMITED_ROUTES,
    GATEWAY_PREFIXES,
    SERVICE_NAMES,
    SERVICE_PORTS,
)

Target = Literal["local", "compose"]
WEB_PORT = 8006
COMPOSE_LISTEN_PORT = 80
# Containers: the port the web site calls the gateway on (compose and k8s set GATEWAY_URL to it).
SITE_PORT = 8081

_PREFIX_TO_SERVICE = {prefix: name for name, prefix in GATEWAY_PREFIXES.items()}


@dataclass(frozen=True)
class ErrorPage:
    """An error NGINX renders itself, in the design's error shape."""

    status: int
    error_type: str
    detail: str


ERROR_PAGES = (
    ErrorPage(400, "ValidationError", "Bad request"),
    ErrorPage(404, "NotFoundError", "Not Found"),
    ErrorPage(405, "MethodNotAllowed", "Method not allowed"),
    ErrorPage(413, "PayloadTooLarge", "Request body over 1 MB"),
    ErrorPage(414, "ValidationError", "Request URI too long"),
    ErrorPage(429, "RateLimitError", "Too many requests"),
    ErrorPage(500, "InternalError", "Internal server error"),
    ErrorPage(502, "BadGateway", "The service behind this path is not answering"),
    ErrorPage(503, "ServiceUnavailable", "Service unavailable"),
    ErrorPage(504, "GatewayTimeout", "The service behind this path did not answer in time"),
)


def _template() -> jinja2.Template:
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # an NGINX config, not HTML
    )
    return env.from_string(resources.files(__package__).joinpath("nginx.conf.j2").read_text())


def render(
    settings: Settings,
    *,
    target: Target,
    listen: str,
    addresses: Mapping[str, str],
    web_address: str,
    run_dir: Path | None = None,
    bench_ping: str | None = None,
    site_port: int | None = None,
) -> str:
    """The config text; `addresses` maps each service name to `host:port`; `bench_ping`, the
    `host:port` of `boxoffice bench`'s bare ping app, adds `/gateway/ping` (benchmarks only);
    `site_port`, a second listener for the web site's calls, which skip the general limit
    (containers, where the config holds no secret for the site's proof)."""
    general = RateLimit.parse(settings.rate_limit_general)
    booking = RateLimit.parse(settings.rate_limit_booking)
    local = target == "local"
    if local and run_dir is None:
        raise ValueError("a local gateway needs a run dir for its pid, temp files and logs")
    return _template().render(
        target=target,
        # Run as the invoking user when started as root locally: the run dir may be private.
        user=getpass.getuser() if local and os.geteuid() == 0 else None,
        worker_processes=1 if local else "auto",
        pid_path=f"{run_dir}/nginx.pid" if local else None,
        error_log="stderr",
        access_log=f"{run_dir}/logs/access.log" if local else "/dev/stdout",
        temp_dir=f"{run_dir}/temp" if local else None,
        listen=listen,
        general=general,
        booking=booking,
        retry_after=max(general.retry_after, booking.retry_after),
        services=[
            {"name": name, "prefix": GATEWAY_PREFIXES[name], "address": addresses[name]}
            for name in SERVICE_NAMES
        ],
        booking_routes=[
            {"prefix": prefix, "path": path, "upstream": _PREFIX_TO_SERVICE[prefix]}
            for prefix, path in BOOKING_LIMITED_ROUTES
        ],
        web_address=web_address,
        # The web site calls the API here on behalf of its visitors and names each one in
        # X-Forwarded-For; only the site's own network is trusted to say so.
        trusted_proxies=["127.0.0.1"] if local else ["10.0.0.0/8", "172.16.0.0/12"],
        # Its calls' proof skips the general limit (core/ratelimit.py). Only a local gateway,
        # rendered at start with the key, has it: a container's config is a committed file
        # and holds no secret.
        site_proof=site_proof(settings.secret_key) if local and settings.secret_key else None,
        site_port=site_port,
        errors=ERROR_PAGES,
        bench_ping=bench_ping,
        security_headers_list=[{"name": n, "value": v} for n, v in SECURITY_HEADERS],
        content_security_policy=CONTENT_SECURITY_POLICY,
        docs_content_security_policy=DOCS_CONTENT_SECURITY_POLICY,
        docs_path=DOCS_PATH,
        strict_transport_security=STRICT_TRANSPORT_SECURITY,
    )


def render_local(
    settings: Settings,
    run_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    ports: Mapping[str, int] | None = None,
    bench_ping_port: int | None = None,
    site_port: int | None = None,
) -> str:
    """The gateway of `boxoffice up --distributed`: services (and web) on 127.0.0.1."""
    ports = {**SERVICE_PORTS, "web": WEB_PORT, **(ports or {})}
    return render(
        settings,
        target="local",
        listen=f"{host}:{port}",
        addresses={name: f"127.0.0.1:{ports[name]}" for name in SERVICE_NAMES},
        web_address=f"127.0.0.1:{ports['web']}",
        run_dir=run_dir,
        bench_ping=f"127.0.0.1:{bench_ping_port}" if bench_ping_port else None,
        site_port=site_port,
    )


def render_compose(settings: Settings, *, port: int = COMPOSE_LISTEN_PORT) -> str:
    """The gateway of deploy/compose.yaml: each service reached by its service name."""
    return render(
        settings,
        target="compose",
        listen=str(port),
        addresses={name: f"{name}:{SERVICE_PORTS[name]}" for name in SERVICE_NAMES},
        web_address=f"web:{WEB_PORT}",
        # The site calls the gateway on a port of its own (GATEWAY_URL), published nowhere.
        site_port=SITE_PORT,
    )


def prepare_run_dir(run_dir: Path) -> None:
    """The folders a local NGINX writes to (logs, temp files)."""
    for sub in ("logs", "temp"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
