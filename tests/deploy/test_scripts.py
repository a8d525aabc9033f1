"""scripts/test's promises: slow profiles only on request, and a run that ran no test fails; and
what scripts/_venv.sh installs from: lock files up to date with pyproject.toml, every file hashed,
installed again only when they change."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.deploy.tools import ROOT

SLOW_TEST = """
import pytest

@pytest.mark.slow
def test_long_profile():
    pass

def test_quick():
    pass
"""


def run_pytest_with_plugin(tmp_path: Path, **env: str) -> str:
    test_file = tmp_path / "test_profiles.py"
    test_file.write_text(SLOW_TEST)
    args = ["-p", "tests.slow_marker", "-c", "pyproject.toml", "--rootdir", str(ROOT), "-q", "-rs"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *args, str(test_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**{k: v for k, v in os.environ.items() if k != "BOXOFFICE_SLOW"}, **env},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_slow_profiles_are_skipped_with_the_reason_by_default(tmp_path):
    out = run_pytest_with_plugin(tmp_path)
    assert "1 passed, 1 skipped" in out
    assert "BOXOFFICE_SLOW=1" in out


def test_slow_profiles_run_with_boxoffice_slow(tmp_path):
    assert "2 passed" in run_pytest_with_plugin(tmp_path, BOXOFFICE_SLOW="1")


@pytest.mark.timeout(600)
def test_a_run_that_selects_no_test_fails():
    result = subprocess.run(
        [str(ROOT / "scripts/test"), __file__, "-k", "no_test_is_named_like_this_at_all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=580,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "FAILED  pytest (no test ran: exit code 5)" in result.stdout


# --- Lock files ----------------------------------------------------------------------------------

LOCKS = {"runtime": ROOT / "requirements/runtime.txt", "dev": ROOT / "requirements/dev.txt"}
PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
FROM_PYPROJECT = "boxoffice (pyproject.toml)"


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(path: Path) -> list[dict]:
    """The lock's entries: name, version, hash count and what it is there for (its `# via`)."""
    entries: list[dict] = []
    for line in path.read_text().splitlines():
        if match := PINNED.match(line):
            entries.append(
                {"name": normalized(match[1]), "version": match[2], "hashes": 0, "via": set()}
            )
            continue
        text = line.strip()
        if not entries or not line.startswith(" "):
            continue
        if text.startswith("--hash=sha256:"):
            entries[-1]["hashes"] += 1
        elif text.startswith("# via "):
            entries[-1]["via"].add(text.removeprefix("# via ").strip())
        elif text.startswith("#   "):
            entries[-1]["via"].add(text.removeprefix("#   ").strip())
    return entries


def declared(*groups: str) -> dict[str, str]:
    """pyproject.toml's direct dependencies (runtime, plus the named extras): name -> version."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for group in groups:
        specs += project["optional-dependencies"][group]
    pins = {}
    for spec in specs:
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+)", spec)
        assert match, f"pyproject.toml: {spec!r} is not pinned as NAME==VERSION"
        pins[normalized(match[1])] = match[3]
    return pins


def regenerate_hint(lock: str) -> str:
    return f"requirements/{lock}.txt is out of date: make it again as its first lines say"


def test_each_lock_pins_exactly_pyprojects_direct_dependencies_at_their_versions():
    for lock, groups in (("runtime", ()), ("dev", ("dev",))):
        direct = {
            e["name"]: e["version"] for e in locked(LOCKS[lock]) if FROM_PYPROJECT in e["via"]
        }
        assert direct == declared(*groups), regenerate_hint(lock)


def test_every_locked_package_has_hashes_and_the_locks_agree_on_versions():
    for path in LOCKS.values():
        entries = locked(path)
        assert len(entries) > 20, f"{path} pins almost nothing"
        assert [e["name"] for e in entries if e["hashes"] == 0] == [], f"{path}: no --hash"
    runtime = {e["name"]: e["version"] for e in locked(LOCKS["runtime"])}
    dev = {e["name"]: e["version"] for e in locked(LOCKS["dev"])}
    # The dev install also serves `./scripts/run`, so it must pin the runtime tree as it is.
    assert {n: (v, dev.get(n)) for n, v in runtime.items() if dev.get(n) != v} == {}


def test_each_lock_says_how_it_was_made_and_the_readme_gives_the_same_command():
    readme = (ROOT / "README.md").read_text()
    for lock, path in LOCKS.items():
        command = path.read_text().splitlines()[1].removeprefix("#").strip()
        assert command.startswith("uv pip compile pyproject.toml ")
        assert "--generate-hashes" in command and f"-o requirements/{lock}.txt" in command
        assert ("--extra dev" in command) == (lock == "dev")
        assert command in readme, "README's Dependencies section gives another command"


# --- scripts/_venv.sh: install from the lock, again only when it changed --------------------------

FAKE_PYTHON = """#!/bin/sh
echo "$*" >>"$(dirname "$0")/../pip.log"
"""


def ensure_venv(project: Path, extra: str) -> list[str]:
    """Run ensure_venv in a copy of the project whose .venv's python only logs its arguments."""
    log = project / ".venv/pip.log"
    log.unlink(missing_ok=True)
    result = subprocess.run(
        ["bash", "-c", f'. scripts/_venv.sh && ensure_venv "{extra}"'],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return log.read_text().splitlines() if log.exists() else []


def test_the_venv_installs_from_the_lock_with_hashes_and_again_only_when_it_changed(tmp_path):
    for rel in ("scripts/_venv.sh", "pyproject.toml", *(f"requirements/{n}.txt" for n in LOCKS)):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    python = tmp_path / ".venv/bin/python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    pip = "-m pip install --quiet --disable-pip-version-check"
    first = [f"{pip} --require-hashes -r requirements/dev.txt", f"{pip} --no-deps -e ."]
    assert ensure_venv(tmp_path, "dev") == first
    assert ensure_venv(tmp_path, "dev") == []
    assert ensure_venv(tmp_path, "") == [], "the dev install serves ./scripts/run too"
    with (tmp_path / "requirements/dev.txt").open("a") as lock:
        lock.write("# changed\n")
    assert ensure_venv(tmp_path, "") == [
        f"{pip} --require-hashes -r requirements/runtime.txt",
        f"{pip} --no-deps -e .",
    ]
    assert ensure_venv(tmp_path, "") == []
    assert ensure_venv(tmp_path, "dev") == first
