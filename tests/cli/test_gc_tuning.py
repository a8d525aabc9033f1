"""Every server process of `serve_app` builds its app, then tunes Python's garbage collector
(cli/serving.py: GC_THRESHOLDS, startup's objects frozen): one worker or many."""

from __future__ import annotations

import gc
import socket

import pytest

from boxoffice.cli import serving

BUILT: list[object] = []


def make_app() -> object:
    app = object()
    BUILT.append(app)
    return app


@pytest.fixture
def restore_gc():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_a_server_process_builds_its_app_then_tunes_the_collector(monkeypatch, restore_gc):
    monkeypatch.setenv(serving.APP_FACTORY_ENV, f"{__name__}:make_app")
    gc.unfreeze()
    app = serving.tuned_app_factory()
    assert app is BUILT[-1]
    assert gc.get_threshold() == serving.GC_THRESHOLDS
    assert gc.get_freeze_count() > 0


def test_uvicorn_workers_run_the_tuning_factory(monkeypatch):
    """With several workers uvicorn imports the factory in each: it must be the tuning one,
    with the app's own factory handed down in the environment."""
    runs = []
    monkeypatch.setattr(serving.uvicorn, "run", lambda app, **kw: runs.append((app, kw)))
    # Set here so that the test's end puts back what was there before serve_app changed it.
    monkeypatch.setenv(serving.APP_FACTORY_ENV, "unset:by_the_test")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        assert serving.serve_app(f"{__name__}:make_app", sock, workers=2)
    [(app, options)] = runs
    assert app == "boxoffice.cli.serving:tuned_app_factory" and options["factory"] is True
    assert options["workers"] == 2
    assert serving.os.environ[serving.APP_FACTORY_ENV] == f"{__name__}:make_app"
