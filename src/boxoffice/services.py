"""The registry of the five services: the one place that knows them all (used by the CLI,
the embedded composition and the tests; services themselves never import each other)."""

from __future__ import annotations

import importlib

from boxoffice.core.app import ServiceDefinition
from boxoffice.topology import SERVICE_NAMES


def definition(name: str) -> ServiceDefinition:
    if name not in SERVICE_NAMES:
        raise KeyError(f"unknown service {name!r}; one of {', '.join(SERVICE_NAMES)}")
    module = importlib.import_module(f"boxoffice.{name}.app")
    return module.SERVICE  # type: ignore[no-any-return]


def all_definitions() -> list[ServiceDefinition]:
    return [definition(name) for name in SERVICE_NAMES]
