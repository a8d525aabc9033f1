"""The `forbidden_names` import-linter contract (boxoffice.lint.names): core speaks of no domain.

A planted package shows what it catches (module names, identifiers of every kind, strings) and
what it lets through (docstrings, comments, allowed fragments); the real one is checked with
pyproject.toml's own contract, as `lint-imports` does."""

from __future__ import annotations

import sys
import textwrap
import tomllib
from pathlib import Path

import grimp
import pytest

from boxoffice.lint.names import ForbiddenNamesContract

ROOT = Path(__file__).resolve().parents[2]

CLEAN = '''
"""Mechanism only; a docstring may give examples: booking.created, seat holds, payments."""

# A comment may too: the seat board, the booking service.
import json

POLICY = "camera=(), payment=()"


def publish(topic: str, body: dict) -> str:
    """E.g. publish("booking.created", {...})."""
    return json.dumps({"topic": topic, "body": body})


class Bus:
    """Carries events (a booking's, say)."""

    prefetch = 20
'''

DIRTY = '''
"""Docstring: fine."""

import json as booking_json
from os import path as seat_path

NAMES = ("auth", "bookings_db")
PAYLOAD = b"Payment"


class BookingStore:
    seat_count = 0


def hold_seat(showtime_id: str, *, limit: int = 1) -> str:
    store = BookingStore()
    store.seats = [showtime_id]
    return f"/api/bookings/{showtime_id}" + booking_json.dumps(limit=limit) + str(seat_path)


def call() -> None:
    hold_seat("x", limit=2)
    dict(ticket=1)
'''


def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> str:
    package = f"planted_{tmp_path.name.replace('-', '_')}"
    for name, text in files.items():
        path = tmp_path / package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    (tmp_path / package / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    return package


def contract(modules: list[str], words: list[str], allow: list[str] | None = None):
    options: dict[str, object] = {"modules": modules, "words": words}
    if allow is not None:
        options["allow"] = allow
    return ForbiddenNamesContract(name="names", session_options={}, contract_options=options)


WORDS = ["booking", "payment", "seat", "showtime", "ticket"]


def test_a_planted_violation_breaks_the_contract(tmp_path, monkeypatch):
    package = planted(
        tmp_path,
        monkeypatch,
        {
            "core/__init__.py": '"""The booking service\'s seat board would be wrong here."""\n',
            "core/clean.py": CLEAN,
            "core/dirty.py": DIRTY,
            "core/seatmap.py": '"""Only its name is wrong."""\n',
            "outside.py": 'BOOKING = "booking"\n',
        },
    )
    graph = grimp.build_graph(package, cache_dir=None)
    check = contract([f"{package}.core"], WORDS, allow=["payment=()"]).check(graph, verbose=False)

    assert not check.kept
    found = {
        (v["module"].split(".", 1)[1], v["kind"], v["text"]) for v in check.metadata["violations"]
    }
    assert found == {
        ("core.seatmap", "module name", f"{package}.core.seatmap"),
        ("core.dirty", "identifier", "booking_json"),  # an import's alias
        ("core.dirty", "identifier", "seat_path"),
        ("core.dirty", "string", "bookings_db"),
        ("core.dirty", "string", "Payment"),  # bytes, any case
        ("core.dirty", "identifier", "BookingStore"),  # class
        ("core.dirty", "identifier", "seat_count"),  # assigned name
        ("core.dirty", "identifier", "hold_seat"),  # function, and the name read
        ("core.dirty", "identifier", "showtime_id"),  # argument, and the name read
        ("core.dirty", "identifier", "seats"),  # attribute
        ("core.dirty", "string", "/api/bookings/"),  # an f-string's literal part
        ("core.dirty", "identifier", "ticket"),  # keyword argument
    }
    lines = {(v["text"], v["line"]) for v in check.metadata["violations"]}
    assert ("BookingStore", 11) in lines


def test_docstrings_comments_and_allowed_fragments_keep_it(tmp_path, monkeypatch):
    package = planted(tmp_path, monkeypatch, {"core/__init__.py": "", "core/clean.py": CLEAN})
    graph = grimp.build_graph(package, cache_dir=None)

    assert contract([f"{package}.core"], WORDS, allow=["payment=()"]).check(graph, False).kept
    # Without the allowance, the Permissions-Policy string names a payment.
    check = contract([f"{package}.core"], WORDS).check(graph, verbose=False)
    assert [(v["text"], v["word"]) for v in check.metadata["violations"]] == [
        ("camera=(), payment=()", "payment")
    ]


def test_boxoffice_core_keeps_the_projects_contract():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    linter = config["tool"]["importlinter"]
    assert (
        "forbidden_names: boxoffice.lint.names.ForbiddenNamesContract" in linter["contract_types"]
    )
    [options] = [c for c in linter["contracts"] if c["type"] == "forbidden_names"]
    assert options["modules"] == ["boxoffice.core"]
    assert {"booking", "payment", "movie", "showtime", "theater", "theatre", "seat"} <= set(
        options["words"]
    )
    assert {"ticket", "notification", "refund", "cinema"} <= set(options["words"])
    options = {k: v for k, v in options.items() if k not in ("name", "type")}
    check = ForbiddenNamesContract(
        name="names", session_options={}, contract_options=options
    ).check(grimp.build_graph("boxoffice", cache_dir=None), verbose=False)
    assert check.kept, "\n".join(map(str, check.metadata["violations"]))
