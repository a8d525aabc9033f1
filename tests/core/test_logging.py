"""Logs: JSON lines for containers, readable lines without request noise at a terminal."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from typing import Literal

import pytest
import structlog

from boxoffice.core.observability import REQUEST_EVENT, configure_logging
from boxoffice.settings import Settings


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def _log_a_session() -> None:
    log = structlog.get_logger("boxoffice.test")
    log.info("started", port=8000)
    log.info(REQUEST_EVENT, method="GET", path="/api/movies", status=200)
    log.warning(REQUEST_EVENT, method="GET", path="/api/slow", status=200, ms=1500.0)


def _terminal_output(json_logs: bool | Literal["auto"]) -> list[str]:
    """What a session logs to a pseudo-terminal."""
    leader, follower = os.openpty()
    terminal = open(follower, "w", encoding="utf-8", closefd=True)
    try:
        configure_logging("INFO", json_logs, stream=terminal)
        _log_a_session()
        terminal.flush()
        written = b""
        while b"/api/slow" not in written:
            written += os.read(leader, 65536)
    finally:
        terminal.close()
        os.close(leader)
    return [line for line in written.decode().splitlines() if line.strip()]


def test_at_a_terminal_lines_are_readable_and_ordinary_requests_left_out() -> None:
    lines = _terminal_output("auto")
    assert len(lines) == 2, lines
    assert "started" in lines[0] and "port" in lines[0]
    assert "/api/slow" in lines[1]
    for line in lines:
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)


def test_in_a_container_every_line_is_json() -> None:
    pipe = io.StringIO()  # not a terminal, as a container's stdout and stderr
    configure_logging("INFO", "auto", stream=pipe)
    _log_a_session()
    lines = [json.loads(line) for line in pipe.getvalue().splitlines()]
    assert [(e["event"], e.get("path")) for e in lines] == [
        ("started", None),
        (REQUEST_EVENT, "/api/movies"),
        (REQUEST_EVENT, "/api/slow"),
    ]


def test_an_explicit_choice_wins_over_the_terminal_check() -> None:
    lines = _terminal_output(True)
    assert [json.loads(line)["event"] for line in lines] == ["started", "request", "request"]

    pipe = io.StringIO()
    configure_logging("INFO", False, stream=pipe)
    _log_a_session()
    assert "started" in pipe.getvalue()
    with pytest.raises(json.JSONDecodeError):
        json.loads(pipe.getvalue().splitlines()[0])


@pytest.mark.parametrize(
    ("env", "value"), [(None, "auto"), ("auto", "auto"), ("true", True), ("false", False)]
)
def test_log_json_is_auto_unless_set(
    env: str | None, value: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env is None:
        monkeypatch.delenv("LOG_JSON", raising=False)
    else:
        monkeypatch.setenv("LOG_JSON", env)
    assert Settings(_env_file=None).log_json == value  # type: ignore[call-arg]


@pytest.mark.parametrize(("terminal", "expected"), [(True, "false"), (False, "true")])
def test_the_distributed_supervisors_children_log_as_its_own_stdout_asks(
    terminal: bool, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # They write into the supervisor's pipe, never a terminal: "auto" is decided for them.
    from boxoffice.cli.distributed import Options, child_env

    monkeypatch.setattr("sys.stdout.isatty", lambda: terminal)
    opts = Options("127.0.0.1", 8080, 8001, 1, [], 10.0, None, None)
    ports = dict.fromkeys(("auth", "movie", "booking", "payment", "notification"), 1)
    settings = Settings(_env_file=None, secret_key="x" * 40)  # type: ignore[call-arg]
    assert child_env(settings, opts, ports)["LOG_JSON"] == expected
    explicit = settings.model_copy(update={"log_json": True})
    assert child_env(explicit, opts, ports).get("LOG_JSON") == os.environ.get("LOG_JSON")
