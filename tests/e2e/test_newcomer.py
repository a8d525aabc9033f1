"""A newcomer's first minutes: clone the repository, run the README's two commands, and both work
with nothing else done (no .venv, no data folder, no settings)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from boxoffice.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
QUICK_TEST = "test_unknown_path_is_a_404_in_the_error_shape"
# Creating .venv and installing the project takes a while on a small machine (pip's cache helps).
SETUP_SECONDS = 600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def newcomer_env(home: Path) -> dict[str, str]:
    """This machine's environment without the project's settings or an active virtualenv."""
    settings = {(f.alias or n).upper() for n, f in Settings.model_fields.items()}
    dropped = settings | {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "BOXOFFICE_SLOW"}
    env = {k: v for k, v in os.environ.items() if k.upper() not in dropped}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT))
    )
    env.setdefault("HOME", str(home))
    return env


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The committed HEAD in a fresh folder, beside ../shared as CI has it."""
    base = tmp_path_factory.mktemp("newcomer")
    repo = base / "boxoffice"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True, timeout=120)
    shared = ROOT.parent / "shared"
    if shared.is_dir():
        (base / "shared").symlink_to(shared)
    yield repo


def first_answer(url: str, process: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    """The first HTTP answer at `url` (uvicorn answers only once the app has started)."""
    deadline = time.monotonic() + SETUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"./scripts/run exited with {process.returncode}:\n{log.read_text()[-4000:]}"
            )
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            time.sleep(1)
    pytest.fail(f"{url} did not answer within {SETUP_SECONDS} s:\n{log.read_text()[-4000:]}")


@pytest.mark.timeout(2 * SETUP_SECONDS + 300)
def test_a_fresh_clone_runs_the_system_and_its_tests(clone, tmp_path):
    env = newcomer_env(tmp_path)
    port = free_port()
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["./scripts/run", "--port", str(port)],
            cwd=clone,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        movies = first_answer(f"http://127.0.0.1:{port}/api/movies", process, log)
        assert movies.status_code == 200, movies.text
        assert isinstance(movies.json(), list)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) is not None
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    result = subprocess.run(
        ["./scripts/test", "-k", QUICK_TEST],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=SETUP_SECONDS + 240,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "2 passed" in output
