"""Pytest plugin (loaded by scripts/test with `-p tests.slow_marker`): tests marked `slow` (long
fault and load profiles) run only when BOXOFFICE_SLOW=1, so the everyday run stays quick."""

from __future__ import annotations

import os

import pytest

SLOW_ENV = "BOXOFFICE_SLOW"


def slow_enabled() -> bool:
    return os.environ.get(SLOW_ENV, "").strip().lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if slow_enabled():
        return
    skip = pytest.mark.skip(reason=f"slow profile: run with {SLOW_ENV}=1")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)
