"""The README tells the truth: its two commands are the ones CI runs, its settings table lists
every setting, its links lead somewhere, and the commands it names exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from boxoffice.cli import app as cli_app
from boxoffice.settings import Settings
from boxoffice.topology import DATABASE_NAMES, SERVICE_NAMES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
sys.path.insert(0, str(ROOT / "scripts"))

import fault_table  # noqa: E402
import settings_table  # noqa: E402


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.M | re.S)


def commands(block: str) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in block.splitlines())
    return [line for line in lines if line]


def test_the_first_commands_are_run_then_test():
    first = next(body for lang, body in code_blocks(README) if lang == "bash")
    assert commands(first) == ["./scripts/run", "./scripts/test"]
    for script in ("scripts/run", "scripts/test", ".ci/run"):
        assert (ROOT / script).stat().st_mode & 0o111, f"{script} is not executable"


def test_ci_runs_exactly_the_readme_test_command():
    ci = [line for line in commands((ROOT / ".ci/run").read_text()) if not line.startswith("set ")]
    assert ci[-1] == "exec ./scripts/test"
    assert ci[0].startswith("cd ")  # from the repository root, wherever CI starts it


def test_settings_table_lists_every_setting_as_the_code_defines_it():
    fresh = settings_table.with_table(README)
    assert README == fresh, "run: .venv/bin/python scripts/settings_table.py --write"
    for name, field in Settings.model_fields.items():
        assert f"| `{settings_table.env_name(name, field)}` |" in README


def test_faults_table_is_the_committed_fault_run():
    run = fault_table.load()
    assert run["faults"]
    fresh = fault_table.with_table(README, run)
    assert README == fresh, "run: .venv/bin/python scripts/fault_table.py --write"


def test_table_names_are_the_variables_settings_really_read(monkeypatch):
    names = {row[0] for row in settings_table.rows()}
    for env, value in [
        ("BOXOFFICE_DB_PREFIX", "readme_"),
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "7"),
        ("BOXOFFICE_DATA_DIR", "/tmp/readme"),
    ]:
        assert env in names
        monkeypatch.setenv(env, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.db_prefix == "readme_"
    assert settings.access_token_expire_minutes == 7
    assert str(settings.data_dir) == "/tmp/readme"


def test_relative_links_lead_to_files_in_the_repository():
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)
    local = [link for link in links if "://" not in link]
    assert "docs/contracts.md" in local and "docs/events.md" in local
    missing = [link for link in local if not (ROOT / link).exists()]
    assert missing == []


def test_architecture_diagram_shows_every_part():
    (diagram,) = [body for lang, body in code_blocks(README) if lang == "mermaid"]
    for part in (*SERVICE_NAMES, *DATABASE_NAMES.values(), "web", "gateway", "redis"):
        assert part in diagram.lower(), part
    for part in ("rabbitmq", "prometheus", "grafana"):
        assert part in diagram.lower(), part


def cli_commands() -> set[str]:
    """Every `boxoffice …` command path the CLI defines, e.g. 'events replay'."""
    found: set[str] = set()

    def walk(command: Any, prefix: str) -> None:
        # Typer ships its own click: a group is whatever has sub-commands.
        for name, sub in (getattr(command, "commands", None) or {}).items():
            found.add(f"{prefix}{name}")
            walk(sub, f"{prefix}{name} ")

    walk(typer.main.get_command(cli_app), "")
    return found


@pytest.mark.parametrize(
    "line", sorted(set(re.findall(r"`boxoffice ([a-z][a-z -]*?)(?: [A-Z\[-].*?)?`", README)))
)
def test_every_command_the_readme_names_exists(line):
    words = line.split()
    assert " ".join(words[:2]) in cli_commands() or words[0] in cli_commands(), line


def test_settings_table_script_prints_the_table():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/settings_table.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == settings_table.table()
