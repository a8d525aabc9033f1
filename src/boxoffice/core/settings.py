"""The shared base of every service's settings, read from the environment (SPEC section 5)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, PrivateAttr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from boxoffice.core.dburl import async_database_url
from boxoffice.core.keys import load_or_create_key


class CoreSettings(BaseSettings):
    """The settings every service shares (the mechanism: databases, brokers, tokens, logs...);
    each service adds its own in `<service>/settings.py`, and `boxoffice.settings.Settings`
    joins them all. Env var names are the field names in upper case.

    Which services there are is the composition's knowledge, not core's: the joined settings
    declare each service's database name (`database_names`) and base URL (a
    `<service>_service_url` field), which `database_url_for` and `service_url` look up."""

    # The database of each service these settings serve, by service name (none here).
    database_names: ClassVar[Mapping[str, str]] = {}

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    mode: Literal["embedded", "distributed"] = Field(
        "embedded", alias="BOXOFFICE_MODE", description="embedded (one process) or distributed"
    )
    database_url: str | None = Field(
        None,
        description="This service's database URL; wins over POSTGRES_URL when set "
        "(postgres://, postgresql:// and postgresql+asyncpg:// all work)",
    )
    postgres_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
        description="PostgreSQL server URL from which each service's database is derived "
        "(postgres://, postgresql:// and postgresql+asyncpg:// all work)",
    )
    db_prefix: str = Field(
        "", alias="BOXOFFICE_DB_PREFIX", description="Prefix for the per-service database names"
    )
    db_pool_size: int = Field(
        5,
        ge=1,
        le=100,
        description="Database connections each service process keeps (PostgreSQL allows 100 in "
        "all by default: 5 services x workers x (pool + overflow) must stay under it)",
    )
    db_max_overflow: int = Field(
        5, ge=0, le=100, description="Extra database connections a process may open at peaks"
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL")
    rabbitmq_url: str = Field("amqp://guest:guest@127.0.0.1:5672/", description="RabbitMQ URL")
    secret_key: str | None = Field(
        None,
        description="JWT signing key; required when distributed (embedded: made at first start "
        "in the data dir)",
    )
    jwt_algorithm: str = Field("HS256", description="JWT signing algorithm")
    access_token_expire_minutes: int = Field(30, ge=1, description="Access token lifetime")
    cors_origins: str = Field(
        "http://localhost:8080,http://localhost:3000", description="Comma-separated CORS origins"
    )
    data_dir: Path = Field(
        Path(".boxoffice"), alias="BOXOFFICE_DATA_DIR", description="Embedded mode's files"
    )
    demo_data: bool | None = Field(
        None,
        alias="BOXOFFICE_DEMO_DATA",
        description="Load the demo catalog at start (default on in embedded mode)",
    )
    rate_limit_general: str = Field("60/minute", description="Limit for every API path")
    login_max_failures: int = Field(
        5,
        ge=1,
        le=1000,
        description="Login attempts one login name may make per window (a success resets it); "
        "the next is refused with 429",
    )
    login_failure_window_seconds: float = Field(
        900.0, gt=0, description="Window in which those login attempts are counted"
    )
    login_lockout_seconds: float = Field(
        60.0, gt=0, description="First lock-out of a login name; doubled each time in a row"
    )
    login_lockout_max_seconds: float = Field(
        3600.0, gt=0, description="Longest lock-out of a login name"
    )
    http_timeout_seconds: float = Field(3.0, gt=0, description="Timeout of calls between services")
    http_retries: int = Field(3, ge=1, description="Attempts of idempotent calls between services")
    breaker_failure_threshold: int = Field(5, ge=1, description="Failures that open a breaker")
    breaker_recovery_seconds: float = Field(30.0, gt=0, description="Open breaker's cool-down")
    log_level: str = Field("INFO", description="Log level")
    log_json: bool | Literal["auto"] = Field(
        "auto",
        description="JSON logs (true); human-readable lines without the ordinary per-request "
        "ones, those below WARNING (false); or auto: false when the logs go to a terminal, "
        "else true",
    )
    metrics_port: int = Field(
        9100,
        ge=0,
        le=65535,
        description="Embedded mode: port of Prometheus's /metrics, on 127.0.0.1 only (0: none); "
        "the public port serves no metrics",
    )
    access_log_sample: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of ordinary requests each service logs (errors and slow requests "
        "are always logged; all are counted in the metrics)",
    )
    gateway_url: str = Field(
        "http://127.0.0.1:8080", description="The API gateway the web site calls (distributed mode)"
    )
    event_max_attempts: int = Field(
        5, ge=1, le=50, description="Attempts a failing event handler gets before dead-lettering"
    )
    event_retry_base_seconds: float = Field(
        0.5, gt=0, description="First retry delay of a failing event handler (then doubled)"
    )
    event_retry_max_seconds: float = Field(30.0, gt=0, description="Longest event retry delay")
    event_prefetch: int = Field(20, ge=1, le=1000, description="Events a consumer holds at once")
    event_relay_batch: int = Field(100, ge=1, le=5000, description="Outbox rows per relay batch")
    event_relay_poll_seconds: float = Field(
        2.0, gt=0, description="Backstop poll of the outbox relay (commits wake it at once)"
    )
    event_retention_hours: float = Field(
        168.0, gt=0, description="How long published outbox rows and inbox rows are kept"
    )

    # Embedded mode's key as read from (data_dir, key): every request verifies a token, so the
    # file is read once, and again only for another data dir (a copy with an updated data_dir).
    _embedded_key: tuple[Path, str] | None = PrivateAttr(None)

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("database_url", "postgres_url")
    @classmethod
    def _asyncpg(cls, value: str | None) -> str | None:
        return async_database_url(value) if value else value

    @property
    def distributed(self) -> bool:
        return self.mode == "distributed"

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def demo_data_enabled(self) -> bool:
        return self.demo_data if self.demo_data is not None else not self.distributed

    @property
    def signing_key(self) -> str:
        """The JWT key: SECRET_KEY; else, in embedded mode only, the data dir's own random key."""
        if self.secret_key:
            return self.secret_key
        if self.distributed:
            raise RuntimeError("SECRET_KEY must be set in distributed mode")
        cached = self._embedded_key
        if cached is None or cached[0] != self.data_dir:
            cached = self._embedded_key = (self.data_dir, load_or_create_key(self.data_dir))
        return cached[1]

    def service_url(self, service: str) -> str:
        """The base URL of a service (distributed mode): its `<service>_service_url` setting."""
        try:
            url = getattr(self, f"{service}_service_url")
        except AttributeError:
            raise KeyError(f"no base URL setting for service {service!r}") from None
        return str(url).rstrip("/")

    def database_url_for(self, service: str) -> str:
        """The service's database: DATABASE_URL, else derived from POSTGRES_URL or the data dir."""
        if self.database_url:
            return self.database_url
        if service not in self.database_names:
            raise KeyError(f"no database name for service {service!r}")
        name = self.db_prefix + self.database_names[service]
        if self.distributed:
            base = self.postgres_url.rsplit("/", 1)[0]
            return f"{base}/{name}"
        return f"sqlite+aiosqlite:///{(self.data_dir / name).resolve()}.sqlite3"


def parse_rate(rate: str) -> tuple[int, int]:
    """'60/minute' -> (60, 60): requests allowed per window of that many seconds."""
    count, _, unit = rate.partition("/")
    seconds = {"second": 1, "minute": 60, "hour": 3600}[unit.strip().rstrip("s") or "minute"]
    return int(count), seconds


def money(value: float | int | str | Decimal) -> Decimal:
    """A decimal with two places, the way every amount is stored and compared."""
    return Decimal(str(value)).quantize(Decimal("0.01"))
